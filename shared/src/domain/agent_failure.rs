//! An agent's own failure (`<turn_id>.failure` in the spool, `docs/agent-protocol.md` §3): the
//! model's API ended the turn with an error — Claude Code's `StopFailure` hook, or its screen
//! read as a fallback. Nothing in it is trusted: the kind is one word from a small alphabet
//! (anything else is `unknown`), the message is cut and cleaned of control characters before
//! it reaches a page.

use serde::{Deserialize, Serialize};

/// Largest `.failure` file read.
pub const MAX_FAILURE_FILE: usize = 16 * 1024;
/// The agent's message, in characters (longer ones are cut, marked with `…`).
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// The kinds Claude Code 2.1.197 reports (its `StopFailure` matcher values); others are kept
/// as given when they are a plain word, so a newer agent's kind is not lost.
pub const KNOWN_KINDS: [&str; 10] = [
    "authentication_failed",
    "oauth_org_not_allowed",
    "billing_error",
    "rate_limit",
    "overloaded",
    "invalid_request",
    "model_not_found",
    "server_error",
    "max_output_tokens",
    "unknown",
];

/// Why the agent's model call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFailure {
    /// `rate_limit`, `overloaded`, `authentication_failed`, … (`[a-z0-9_]{1,40}`).
    pub kind: String,
    /// The agent's own words (one line or a few), cleaned and bounded.
    pub message: String,
}

impl AgentFailure {
    /// A failure from untrusted parts: a malformed kind becomes `unknown`.
    pub fn new(kind: &str, message: &str) -> AgentFailure {
        AgentFailure {
            kind: clean_kind(kind),
            message: clean_message(message),
        }
    }

    /// Reads a `.failure` file's JSON `{"kind": …, "message": …}`; `None` when it is not one.
    pub fn parse(bytes: &[u8]) -> Option<AgentFailure> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            kind: String,
            #[serde(default)]
            message: String,
        }
        if bytes.len() > MAX_FAILURE_FILE {
            return None;
        }
        let raw: Raw = serde_json::from_slice(bytes).ok()?;
        Some(AgentFailure::new(&raw.kind, &raw.message))
    }

    /// The file's JSON text.
    pub fn render(&self) -> String {
        serde_json::to_string(self).expect("json") + "\n"
    }
}

/// The kind as a plain word, else `unknown`.
pub fn clean_kind(kind: &str) -> String {
    let ok = (1..=40).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { kind } else { "unknown" }.to_owned()
}

/// Control characters (C0 but LF and TAB, DEL, C1) become spaces, runs of blank lines shrink,
/// and the text is cut at [`MAX_MESSAGE_CHARS`] characters.
pub fn clean_message(message: &str) -> String {
    let cleaned: String = message
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim();
    match trimmed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_plain_words_and_messages_are_cleaned_and_bounded() {
        let f = AgentFailure::parse(br#"{"kind":"rate_limit","message":" a\u001b[31mb\u0007 "}"#)
            .unwrap();
        assert_eq!(f.kind, "rate_limit");
        assert_eq!(f.message, "a [31mb");
        assert_eq!(AgentFailure::new("<script>", "x").kind, "unknown");
        assert_eq!(AgentFailure::new("", "x").kind, "unknown");
        let long = "é".repeat(5000);
        let cut = AgentFailure::new("overloaded", &long).message;
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert!(AgentFailure::parse(b"not json").is_none());
        let back = AgentFailure::parse(f.render().as_bytes()).unwrap();
        assert_eq!(back, f);
    }
}
