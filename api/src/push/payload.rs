//! What a push says. It travels, encrypted (RFC 8291), through the browser vendor's push
//! service, so it is kept small and says little: `{title, body, url, turn_id, kind}`, where
//! `body` is at most the first line of the reply cut to [`BODY_CHARS`] characters, the error
//! code's fixed sentence (never the server's message), or the tool a permission request is
//! for (never what it would do). `url` is the turn's link, relative:
//! `/paliadin/c/<session_id>#turn-<turn_id>` (the chat page on that conversation, scrolled to
//! the turn).

use paliadin_shared::events::{ErrorCode, EventKind};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Most characters of the reply's first line a push carries.
pub const BODY_CHARS: usize = 80;

/// The decrypted payload the service worker shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Payload {
    pub title: String,
    pub body: String,
    /// `/paliadin/c/<session_id>#turn-<turn_id>` (relative to the page's origin).
    pub url: String,
    pub turn_id: Uuid,
    /// `end`, `error` or `permission`.
    pub kind: String,
}

/// The payload for event `kind` with `data` of a turn of conversation `session_id`.
pub fn build(kind: EventKind, data: &Value, turn_id: Uuid, session_id: Uuid) -> Payload {
    let (title, body) = match kind {
        EventKind::End => (
            "Paliadin replied".to_owned(),
            first_line(data["text"].as_str().unwrap_or("")),
        ),
        EventKind::Error => (
            "Paliadin could not finish".to_owned(),
            error_sentence(data["code"].as_str().and_then(|c| c.parse().ok())).to_owned(),
        ),
        _ => (
            "Paliadin is waiting for you".to_owned(),
            format!("Asks to use {}", data["tool"].as_str().unwrap_or("a tool")),
        ),
    };
    Payload {
        title,
        body,
        url: turn_link(session_id, turn_id),
        turn_id,
        kind: kind.as_str().to_owned(),
    }
}

/// A turn's link: the chat page on its conversation, scrolled to the turn (`chat.js`).
pub fn turn_link(session_id: Uuid, turn_id: Uuid) -> String {
    format!("/paliadin/c/{session_id}#turn-{turn_id}")
}

/// The first non-blank line, without Markdown heading marks, cut to [`BODY_CHARS`].
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(BODY_CHARS).collect();
    if line.chars().count() > BODY_CHARS {
        out.push('…');
    }
    out
}

/// The chat page's sentence for a ⚑ error code (`view.js`, `ERRORS`).
fn error_sentence(code: Option<ErrorCode>) -> &'static str {
    match code {
        Some(ErrorCode::TmuxUnavailable) => "The assistant's terminal is not available right now.",
        Some(ErrorCode::HostUnreachable) => "The machine that runs the assistant can't be reached.",
        Some(ErrorCode::SessionLost) => "The assistant session was lost.",
        Some(ErrorCode::Timeout) => "The assistant took too long to answer.",
        Some(ErrorCode::InvalidReply) => "The assistant's reply could not be read.",
        Some(ErrorCode::WorkerLost) => {
            "The worker handling this message stopped before it finished."
        }
        Some(ErrorCode::AgentError) => "The assistant's model could not answer.",
        Some(ErrorCode::UpstreamError) | None => {
            "The assistant ran into a problem while answering."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn says_little() {
        let (t, s) = (Uuid::new_v4(), Uuid::new_v4());
        let long = format!("\n\n# {}\nsecond line", "x".repeat(200));
        let p = build(EventKind::End, &json!({"text": long}), t, s);
        assert_eq!(p.body, format!("{}…", "x".repeat(80)));
        assert_eq!(p.url, format!("/paliadin/c/{s}#turn-{t}"));
        let p = build(
            EventKind::Error,
            &json!({"code": "timeout", "message": "secret"}),
            t,
            s,
        );
        assert_eq!(p.body, "The assistant took too long to answer.");
        let p = build(
            EventKind::Permission,
            &json!({"tool": "Bash", "summary": "rm -rf"}),
            t,
            s,
        );
        assert_eq!(p.body, "Asks to use Bash");
        assert_eq!(p.kind, "permission");
    }
}
