//! Decoding what agents append to spool files: activity and status lines, and UTF-8 text cut
//! anywhere.

/// The `type` of an events line (`docs/agent-protocol.md`); an unknown one is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum LineType {
    Activity,
    Status,
    #[serde(other)]
    Other,
}

/// A status line's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum LineState {
    Compacting,
    Compacted,
    #[serde(other)]
    Other,
}

/// A compaction's `trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Trigger {
    Auto,
    Manual,
    #[serde(other)]
    Unknown,
}

/// The `text` of an `{"type":"activity","text":…}` line; other lines are ignored.
pub(crate) fn activity_text(line: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: LineType,
        text: String,
    }
    match serde_json::from_slice::<Line>(line) {
        Ok(l) if l.kind == LineType::Activity => Some(l.text),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(error = %e, "ignoring a malformed events line");
            None
        }
    }
}

/// A `{"type":"status","state":"compacting"|"compacted","trigger":…}` line (the compaction
/// hooks): `Some((done, trigger))`, the trigger `auto`, `manual` or `unknown`; other lines are
/// ignored.
pub(crate) fn compaction_status(line: &[u8]) -> Option<(bool, &'static str)> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: LineType,
        state: LineState,
        #[serde(default = "unknown")]
        trigger: Trigger,
    }
    fn unknown() -> Trigger {
        Trigger::Unknown
    }
    let l = serde_json::from_slice::<Line>(line).ok()?;
    let done = match (l.kind, l.state) {
        (LineType::Status, LineState::Compacting) => false,
        (LineType::Status, LineState::Compacted) => true,
        _ => return None,
    };
    let trigger = match l.trigger {
        Trigger::Auto => "auto",
        Trigger::Manual => "manual",
        Trigger::Unknown => "unknown",
    };
    Some((done, trigger))
}

/// Takes the longest decodable prefix of `buf` as text, leaving an incomplete trailing UTF-8
/// sequence in `buf`. Invalid bytes become U+FFFD.
pub(crate) fn take_utf8(buf: &mut Vec<u8>) -> String {
    let mut out = String::new();
    let mut rest: &[u8] = buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                rest = &[];
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        rest = &bad[n..];
                    }
                    None => {
                        rest = bad;
                        break;
                    }
                }
            }
        }
    }
    *buf = rest.to_vec();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_partial_text_on_character_boundaries() {
        let all = "a😀é".as_bytes();
        let mut buf = all[..3].to_vec(); // "a" + half an emoji
        assert_eq!(take_utf8(&mut buf), "a");
        buf.extend_from_slice(&all[3..6]); // rest of the emoji + first byte of é
        assert_eq!(take_utf8(&mut buf), "😀");
        buf.extend_from_slice(&all[6..]);
        assert_eq!(take_utf8(&mut buf), "é");
        assert!(buf.is_empty());
        let mut bad = vec![b'x', 0xff, b'y'];
        assert_eq!(take_utf8(&mut bad), "x\u{FFFD}y");
    }

    #[test]
    fn reads_compaction_status_lines() {
        let line = br#"{"type":"status","state":"compacting","trigger":"auto"}"#;
        assert_eq!(compaction_status(line), Some((false, "auto")));
        let line = br#"{"type":"status","state":"compacted","trigger":"x"}"#;
        assert_eq!(compaction_status(line), Some((true, "unknown")));
        assert_eq!(
            compaction_status(br#"{"type":"activity","text":"x"}"#),
            None
        );
        assert_eq!(activity_text(line), None, "not an activity");
    }

    #[test]
    fn reads_only_activity_lines() {
        assert_eq!(
            activity_text(br#"{"type":"activity","text":"Reading"}"#).as_deref(),
            Some("Reading")
        );
        assert_eq!(activity_text(br#"{"type":"other","text":"x"}"#), None);
        assert_eq!(activity_text(b"not json"), None);
    }
}
