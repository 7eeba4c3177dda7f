//! Pins the keyboard decoder: paste markers split anywhere, lone ESC vs escape sequences,
//! CR submit, and byte-exact paste content.

use super::{InputEvent, InputParser};

fn submits(events: &[InputEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            InputEvent::Submit(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

fn interrupts(events: &[InputEvent]) -> usize {
    events
        .iter()
        .filter(|e| **e == InputEvent::Interrupt)
        .count()
}

const HOSTILE: &str = "[PALIADIN:x] a;\n\t\"q\" 'q' $(rm -rf /) \\ 😀 مرحبا ;";

fn pasted(content: &str) -> Vec<u8> {
    [b"\x1b[200~", content.as_bytes(), b"\x1b[201~\r"].concat()
}

#[test]
fn paste_then_cr_submits_the_content_byte_exact() {
    let mut p = InputParser::new(false);
    let events = p.feed(&pasted(HOSTILE));
    assert_eq!(submits(&events), vec![HOSTILE.as_bytes().to_vec()]);
    assert_eq!(interrupts(&events), 0);
    assert!(events.contains(&InputEvent::Pasted(HOSTILE.len())));
}

#[test]
fn paste_markers_split_at_every_position_still_decode() {
    let stream = pasted(HOSTILE);
    for cut in 0..=stream.len() {
        for cut2 in cut..=stream.len() {
            let mut p = InputParser::new(false);
            let mut events = p.feed(&stream[..cut]);
            events.extend(p.feed(&stream[cut..cut2]));
            events.extend(p.feed(&stream[cut2..]));
            assert_eq!(
                submits(&events),
                vec![HOSTILE.as_bytes().to_vec()],
                "cuts at {cut}/{cut2}"
            );
            assert_eq!(interrupts(&events), 0, "cuts at {cut}/{cut2}");
        }
    }
}

#[test]
fn lf_and_cr_inside_a_paste_are_content_and_enter_is_separate() {
    let mut p = InputParser::new(true);
    let events = p.feed(b"\x1b[200~a\nb\rc\x1b[201~");
    assert!(submits(&events).is_empty());
    assert_eq!(submits(&p.feed(b"\r")), vec![b"a\nb\rc".to_vec()]);
}

#[test]
fn partial_end_marker_inside_a_paste_is_kept_as_content() {
    let mut p = InputParser::new(false);
    let events = p.feed(b"\x1b[200~x\x1b[20y\x1b\x1b[201~\r");
    assert_eq!(submits(&events), vec![b"x\x1b[20y\x1b".to_vec()]);
}

#[test]
fn lone_escape_interrupts_after_timeout_only() {
    let mut p = InputParser::new(false);
    assert!(p.feed(b"\x1b").is_empty());
    assert!(p.escape_pending());
    assert_eq!(p.escape_timeout(), vec![InputEvent::Interrupt]);
    assert!(!p.escape_pending());
    assert!(p.escape_timeout().is_empty());
}

#[test]
fn escape_followed_by_escape_or_a_letter_is_a_lone_escape() {
    let mut p = InputParser::new(false);
    assert_eq!(interrupts(&p.feed(b"\x1b\x1b")), 1);
    assert!(p.escape_pending());
    let events = p.feed(b"hi\r");
    assert_eq!(interrupts(&events), 1);
    assert_eq!(submits(&events), vec![b"hi".to_vec()]);
}

#[test]
fn escape_sequences_are_not_interrupts_and_not_typed() {
    let mut p = InputParser::new(false);
    // Arrow keys (CSI and SS3), a focus report, a stray paste end, then text.
    let events = p.feed(b"\x1b[A\x1bOB\x1b[I\x1b[201~\x1b[1;5Cok\r");
    assert_eq!(interrupts(&events), 0);
    assert_eq!(submits(&events), vec![b"ok".to_vec()]);
    // A sequence split across reads.
    assert!(p.feed(b"\x1b").is_empty());
    assert!(p.feed(b"[").is_empty());
    assert!(!p.escape_pending());
    assert_eq!(interrupts(&p.feed(b"B")), 0);
}

#[test]
fn escape_then_paste_in_one_read_interrupts_and_pastes() {
    let mut p = InputParser::new(false);
    let events = p.feed(&[b"\x1b".as_slice(), &pasted("m")].concat());
    assert_eq!(interrupts(&events), 1);
    assert_eq!(submits(&events), vec![b"m".to_vec()]);
}

#[test]
fn cr_submits_typed_text_and_empty_enter_is_ignored() {
    let mut p = InputParser::new(false);
    assert!(p.feed(b"\r\r").is_empty());
    let events = p.feed(b"ab\tc\r");
    assert_eq!(submits(&events), vec![b"ab\tc".to_vec()]);
    assert!(events.contains(&InputEvent::Typed(b"ab\tc".to_vec())));
    assert!(submits(&p.feed(b"\r")).is_empty());
}

#[test]
fn lf_submits_only_when_asked() {
    let mut pipe = InputParser::new(true);
    assert_eq!(
        submits(&pipe.feed(b"a\nb\n")),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    let mut tty = InputParser::new(false);
    assert_eq!(submits(&tty.feed(b"a\nb\r")), vec![b"a\nb".to_vec()]);
}

#[test]
fn ctrl_c_interrupts_and_clears_ctrl_d_quits_backspace_erases() {
    let mut p = InputParser::new(false);
    assert!(p.feed(b"\x7f\x08").is_empty());
    let events = p.feed(b"junk\x03");
    assert_eq!(interrupts(&events), 1);
    assert_eq!(p.feed(b"\x04"), vec![InputEvent::Quit]);
    let events = p.feed("né\x7f\x7fo\r".as_bytes());
    assert_eq!(submits(&events), vec![b"o".to_vec()]);
    // Ctrl-D with pending input does not quit.
    assert!(!p.feed(b"x\x04").contains(&InputEvent::Quit));
}

#[test]
fn ctrl_u_clears_a_pasted_envelope_line_by_line_like_claude_code() {
    let mut p = InputParser::new(false);
    let paste = |s: &str| [b"\x1b[200~", s.as_bytes(), b"\x1b[201~"].concat();
    p.feed(&paste("[PALIADIN:x] one\ntwo"));
    // Two lines: Ctrl-U, line break, Ctrl-U; one more press on the empty input is harmless.
    let events = p.feed(b"\x15\x15\x15\x15");
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == InputEvent::LineKilled)
            .count(),
        3
    );
    let events = p.feed(&pasted("[PALIADIN:x] again"));
    assert_eq!(submits(&events), vec![b"[PALIADIN:x] again".to_vec()]);
}
