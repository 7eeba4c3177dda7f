//! The reply trailer: the machine-readable last line of every agent reply.
//!
//! Grammar (normative copy in `docs/agent-protocol.md`):
//! ```text
//! reply    = body trailer *WSP-or-LF EOF        ; body may be empty
//! body     = any UTF-8 text; if non-empty it ends with LF
//! trailer  = "<!-- paliadin " json " -->"      ; one line, alone on it
//! json     = {"used_tools": [tool*], "rows_seen": uint, "chip_count": uint,
//!             "classifier_tag": tag}          ; exactly these keys, any order
//! tool     = string matching [A-Za-z0-9_.:/-]{1,64}; at most 64 tools, together at most
//!            1024 characters (what the stats index row holds: `turns_finished_stats`)
//! uint     = integer in 0..=2147483647
//! tag      = string matching [a-z0-9_-]{1,32}
//! ```
//! The text of the reply is `body` with trailing whitespace removed. An HTML comment keeps the
//! trailer invisible when the reply is rendered as Markdown by anything that does not know it.

use serde::{Deserialize, Serialize};

/// Most characters of all `used_tools` entries together: a finished turn's row in the
/// `turns_finished_stats` index (which includes `used_tools`) must stay under PostgreSQL's
/// 2704-byte index row limit, or the result can never be committed.
pub const MAX_TOOLS_CHARS: usize = 1024;

const OPEN: &str = "<!-- paliadin ";
const CLOSE: &str = " -->";

/// The trailer's fields, as carried by the `end` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub used_tools: Vec<String>,
    pub rows_seen: i32,
    pub chip_count: i32,
    pub classifier_tag: String,
}

/// A parsed reply: its text and trailer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub trailer: Trailer,
    /// What the model spent: this turn's usage so far, and the final usage of earlier turns of
    /// the conversation whose last request came in after their reply (`docs/claude-code.md`).
    pub usage: Vec<super::usage::TurnUsage>,
    /// The kind of agent that wrote it (set by whoever drove the agent; None: not known).
    pub agent: Option<super::AgentKind>,
}

/// Why a reply was refused. The reply's text is still kept ([`TrailerError::text`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct TrailerError {
    pub reason: String,
    /// The reply with the (bad) trailer line, if one was recognisable, removed.
    pub text: String,
}

impl Trailer {
    /// Renders the trailer line (without newline), e.g. for agents written in Rust.
    pub fn render(&self) -> String {
        let json = serde_json::to_string(self).expect("trailer serialises");
        format!("{OPEN}{json}{CLOSE}")
    }

    /// The grammar's limits on the trailer's values (a parsed reply has passed them; a reply
    /// from a remote host is checked again by the worker).
    pub fn check(&self) -> Result<(), String> {
        let tool_ok = |t: &String| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b))
        };
        if self.used_tools.len() > 64 {
            return Err("used_tools has more than 64 entries".into());
        }
        if let Some(bad) = self.used_tools.iter().find(|t| !tool_ok(t)) {
            return Err(format!(
                "used_tools entry {bad:?} must match [A-Za-z0-9_.:/-]{{1,64}}"
            ));
        }
        let chars: usize = self.used_tools.iter().map(String::len).sum();
        if chars > MAX_TOOLS_CHARS {
            return Err(format!(
                "used_tools entries add up to {chars} characters (at most {MAX_TOOLS_CHARS})"
            ));
        }
        if self.rows_seen < 0 || self.chip_count < 0 {
            return Err("rows_seen and chip_count must not be negative".into());
        }
        let tag = &self.classifier_tag;
        let tag_ok = !tag.is_empty()
            && tag.len() <= 32
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !tag_ok {
            return Err(format!(
                "classifier_tag {tag:?} must match [a-z0-9_-]{{1,32}}"
            ));
        }
        Ok(())
    }
}

/// Parses a whole reply file strictly.
pub fn parse_reply(raw: &str) -> Result<Reply, TrailerError> {
    let trimmed = raw.trim_end();
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let fail = |reason: String, text: &str| TrailerError {
        reason,
        text: text.trim_end().to_owned(),
    };
    let Some(json) = last.strip_prefix(OPEN).and_then(|r| r.strip_suffix(CLOSE)) else {
        return Err(fail(
            "the reply's last line is not a `<!-- paliadin {…} -->` trailer".into(),
            trimmed,
        ));
    };
    let trailer: Trailer = serde_json::from_str(json)
        .map_err(|e| fail(format!("trailer JSON is invalid: {e}"), body))?;
    trailer.check().map_err(|r| fail(r, body))?;
    Ok(Reply {
        text: body.trim_end().to_owned(),
        trailer,
        usage: Vec::new(),
        agent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Trailer {
        Trailer {
            used_tools: vec!["Read".into()],
            rows_seen: 3,
            chip_count: 1,
            classifier_tag: "general".into(),
        }
    }

    #[test]
    fn parses_body_and_trailer() {
        let raw = format!("Hello\n\nworld  \n{}\n\n", t().render());
        let r = parse_reply(&raw).unwrap();
        assert_eq!(r.text, "Hello\n\nworld");
        assert_eq!(r.trailer, t());
        assert_eq!(parse_reply(&t().render()).unwrap().text, "");
    }

    #[test]
    fn rejects_malformed_trailers_but_keeps_text() {
        let cases = [
            "Hello\nno trailer".to_owned(),
            "Hello\n<!-- paliadin {\"used_tools\":[]} -->".to_owned(),
            "Hello\n<!-- paliadin {\"used_tools\":[],\"rows_seen\":-1,\"chip_count\":0,\"classifier_tag\":\"x\"} -->".to_owned(),
            "Hello\n<!-- paliadin {\"used_tools\":[],\"rows_seen\":1,\"chip_count\":0,\"classifier_tag\":\"X Y\"} -->".to_owned(),
            "Hello\n<!-- paliadin {\"used_tools\":[],\"rows_seen\":1,\"chip_count\":0,\"classifier_tag\":\"x\",\"extra\":1} -->".to_owned(),
            format!("{}\ntrailing text", t().render()),
        ];
        for raw in cases {
            let err = parse_reply(&raw).unwrap_err();
            assert!(
                err.text.starts_with("Hello") || err.text.starts_with("<!--"),
                "{raw:?} -> {err:?}"
            );
        }
    }
}
