//! What a push says. It travels, encrypted (RFC 8291), through the browser vendor's push
//! service, so it is kept small and says little: `{title, body, url, turn_id, kind}`, where
//! `body` is at most the first line of the reply cut to [`BODY_CHARS`] characters, the error
//! code's fixed sentence (never the server's message), or the tool a permission request is
//! for (never what it would do). `url` is the turn's link, relative:
//! `/paliadin/c/<session_id>#turn-<turn_id>` (the chat page on that conversation, scrolled to
//! the turn).

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
pub fn build(kind: &str, data: &Value, turn_id: Uuid, session_id: Uuid) -> Payload {
    let (title, body) = match kind {
        "end" => (
            "Paliadin replied".to_owned(),
            first_line(data["text"].as_str().unwrap_or("")),
        ),
        "error" => (
            "Paliadin could not finish".to_owned(),
            error_sentence(data["code"].as_str().unwrap_or("")).to_owned(),
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
        kind: kind.to_owned(),
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
fn error_sentence(code: &str) -> &'static str {
    match code {
        "tmux_unavailable" => "The assistant's terminal is not available right now.",
        "host_unreachable" => "The machine that runs the assistant can't be reached.",
        "session_lost" => "The assistant session was lost.",
        "timeout" => "The assistant took too long to answer.",
        "invalid_reply" => "The assistant's reply could not be read.",
        "worker_lost" => "The worker handling this message stopped before it finished.",
        _ => "The assistant ran into a problem while answering.",
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
        let p = build("end", &json!({"text": long}), t, s);
        assert_eq!(p.body, format!("{}…", "x".repeat(80)));
        assert_eq!(p.url, format!("/paliadin/c/{s}#turn-{t}"));
        let p = build(
            "error",
            &json!({"code": "timeout", "message": "secret"}),
            t,
            s,
        );
        assert_eq!(p.body, "The assistant took too long to answer.");
        let p = build(
            "permission",
            &json!({"tool": "Bash", "summary": "rm -rf"}),
            t,
            s,
        );
        assert_eq!(p.body, "Asks to use Bash");
        assert_eq!(p.kind, "permission");
    }
}
