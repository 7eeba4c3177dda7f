//! Property-based tests of the parsers of outside input in `paliadin_shared::domain`: the
//! message rules (`UserMessage`, docs/agent-protocol.md §2), the envelope and the reply trailer.
//! Each parser never panics on arbitrary text, obeys its documented rules, stays within its
//! size bounds, and inverts its renderer exactly. Cases: `PROPTEST_CASES` (default 256);
//! a longer run is in docs/reliability.md (scenario 8).

use paliadin_shared::domain::trailer::{Trailer, parse_reply};
use paliadin_shared::{Envelope, MAX_MESSAGE_BYTES, MessageError, UserMessage};
use proptest::prelude::*;
use uuid::Uuid;

/// Characters that matter to the rules (controls, CR/LF/TAB, C1, whitespace, markup), mixed
/// with any character at all.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![
            '\r', '\n', '\t', '\u{0}', '\u{1b}', '\u{7f}', '\u{80}', '\u{9b}', '\u{9f}', '\u{a0}',
            '\u{85}', '\u{2028}', ' ', '[', ']', ':', '<', '>', '-', '!', '{', '}', '"', '\\',
        ]),
        4 => prop::char::range('a', 'z'),
    ]
}

fn tricky_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// Messages that pass the rules: tricky text with every rejected control (and CR) replaced,
/// behind one letter so it is never empty. Built valid rather than filtered: most random
/// strings hold a control character.
fn valid_message() -> impl Strategy<Value = UserMessage> {
    tricky_string(200).prop_map(|s| {
        let clean: String = s
            .chars()
            .map(|c| {
                if is_rejected_control(c) || c == '\r' {
                    'x'
                } else {
                    c
                }
            })
            .collect();
        UserMessage::parse(&format!("m{clean}")).expect("built to the rules")
    })
}

fn is_rejected_control(c: char) -> bool {
    let cp = c as u32;
    (cp < 0x20 && c != '\t' && c != '\n') || (0x7F..=0x9F).contains(&cp)
}

proptest! {
    #[test]
    fn a_message_obeys_the_documented_rules(raw in tricky_string(300)) {
        let normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
        match UserMessage::parse(&raw) {
            Ok(m) => {
                // Kept byte-exact apart from the CR normalisation; nothing stripped.
                prop_assert_eq!(m.as_str(), normalised.as_str());
                prop_assert!(!m.as_str().contains('\r'));
                prop_assert!(!m.as_str().chars().any(is_rejected_control));
                prop_assert!(!m.as_str().trim().is_empty());
                prop_assert!(m.as_str().len() <= MAX_MESSAGE_BYTES);
                // Parsing is idempotent.
                prop_assert_eq!(UserMessage::parse(m.as_str()), Ok(m.clone()));
            }
            Err(MessageError::Empty) => prop_assert!(normalised.trim().is_empty()),
            Err(MessageError::TooLarge(n)) => {
                prop_assert_eq!(n, raw.len());
                prop_assert!(n > MAX_MESSAGE_BYTES);
            }
            Err(MessageError::ControlCharacter(cp, at)) => {
                // The first rejected control, reported where it is.
                let first = normalised.chars().position(is_rejected_control);
                prop_assert_eq!(first, Some(at));
                prop_assert_eq!(normalised.chars().nth(at).map(|c| c as u32), Some(cp));
                prop_assert!(!normalised.trim().is_empty());
            }
        }
    }

    #[test]
    fn the_size_limit_counts_the_bytes_received(extra in 0usize..64, tail in tricky_string(8)) {
        let raw = format!("{}{tail}", "é".repeat((MAX_MESSAGE_BYTES - 32) / 2 + extra));
        let parsed = UserMessage::parse(&raw);
        prop_assert_eq!(
            matches!(parsed, Err(MessageError::TooLarge(_))),
            raw.len() > MAX_MESSAGE_BYTES
        );
    }

    #[test]
    fn an_envelope_round_trips_byte_exact(id in any::<u128>(), m in valid_message()) {
        let e = Envelope::new(Uuid::from_u128(id), &m);
        let text = e.render();
        prop_assert_eq!(Envelope::parse(&text), Some(e));
    }

    #[test]
    fn only_a_rendered_envelope_parses(text in tricky_string(120), id in any::<u128>()) {
        // Arbitrary text, and arbitrary text behind a well-formed prefix.
        let prefixed = format!("[PALIADIN:{}] {text}", Uuid::from_u128(id).hyphenated());
        for candidate in [text.clone(), prefixed, format!("[PALIADIN:{text}")] {
            if let Some(e) = Envelope::parse(&candidate) {
                prop_assert_eq!(e.render(), candidate);
            }
        }
    }

    #[test]
    fn a_reply_never_panics_and_keeps_its_text_bounded(
        text in tricky_string(400),
        shell in prop::bool::ANY,
    ) {
        // Arbitrary text, or arbitrary text inside the trailer's comment (arbitrary JSON).
        let raw = if shell { format!("body\n<!-- paliadin {text} -->") } else { text };
        match parse_reply(&raw) {
            Ok(r) => {
                prop_assert!(r.text.len() <= raw.len());
                prop_assert_eq!(r.text.trim_end(), r.text.as_str());
                // A parsed trailer is a valid one: it renders and parses back the same.
                let again = parse_reply(&r.trailer.render()).map(|r| r.trailer);
                prop_assert_eq!(again, Ok(r.trailer));
            }
            Err(e) => prop_assert!(e.text.len() <= raw.len()),
        }
    }

    #[test]
    fn a_reply_round_trips(body in tricky_string(300), t in valid_trailer(), pad in "[ \n]{0,3}") {
        let raw = format!("{body}\n{}{pad}", t.render());
        let r = parse_reply(&raw).expect("a rendered trailer parses");
        prop_assert_eq!(r.text.as_str(), body.trim_end());
        prop_assert_eq!(r.trailer, t);
    }

    #[test]
    fn an_out_of_rules_trailer_is_rejected_with_its_text(
        body in "[a-z ]{1,40}",
        rows in i32::MIN..0,
        tag in "[A-Z ]{1,4}|[a-z]{33,40}|",
    ) {
        for bad in [
            Trailer { rows_seen: rows, ..trailer_ok() },
            Trailer { classifier_tag: tag.clone(), ..trailer_ok() },
            Trailer { used_tools: vec!["bad tool".into()], ..trailer_ok() },
        ] {
            let raw = format!("{body}\n{}", bad.render());
            let e = parse_reply(&raw).expect_err("out of the rules");
            prop_assert_eq!(e.text.as_str(), body.trim_end());
        }
    }
}

fn trailer_ok() -> Trailer {
    Trailer {
        classifier_tag: "general".into(),
        ..Trailer::default()
    }
}

fn valid_trailer() -> impl Strategy<Value = Trailer> {
    (
        prop::collection::vec("[A-Za-z0-9_.:/-]{1,64}", 0..64),
        0..=i32::MAX,
        0..=i32::MAX,
        "[a-z0-9_-]{1,32}",
    )
        .prop_map(|(mut used_tools, rows_seen, chip_count, classifier_tag)| {
            // Together at most MAX_TOOLS_CHARS characters (the stats index row).
            let mut total = 0;
            used_tools.retain(|t| {
                total += t.len();
                total <= paliadin_shared::domain::trailer::MAX_TOOLS_CHARS
            });
            Trailer {
                used_tools,
                rows_seen,
                chip_count,
                classifier_tag,
            }
        })
}
