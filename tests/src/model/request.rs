//! Reading a Messages API request the way the scripted model needs it: which Paliadin turn the
//! conversation is on (the last user prompt that starts with an envelope), the person's message
//! as the model received it, how many assistant steps followed it, and the reply paths the
//! prompt hook's reminder named.

use serde_json::Value;
use uuid::Uuid;

/// The turn a main-loop request is about.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnView {
    pub turn_id: Uuid,
    /// The text after `[PALIADIN:<id>] ` exactly as it arrived in the request.
    pub message: String,
    /// Assistant messages after the prompt: 0 for the first request of the turn.
    pub step: usize,
    /// `<spool>/<id>.md.tmp` when the hook's reminder (or anything later) named it.
    pub tmp_path: Option<String>,
    /// The Stop hook blocked once (its feedback is in the conversation).
    pub stop_blocked: bool,
    /// A tool use was denied through Paliadin's permission hook: the line that says so.
    pub denied: Option<String>,
}

/// How the scripted model's compaction summary names the turn in progress: this line, then the
/// turn's envelope on a line of its own (see [`turn_view`]).
pub const SUMMARY_TURN: &str = "Paliadin turn in progress:";

/// The words that open Claude Code's request to summarise the conversation (`/compact`, or
/// its own automatic compaction), in the last user message.
const COMPACT_PROMPT: &str = "Your task is to create a detailed summary";

/// True for Claude Code's request to summarise the conversation.
pub fn is_compaction(req: &Value) -> bool {
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return false;
    };
    messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .is_some_and(|m| texts(m).iter().any(|t| t.contains(COMPACT_PROMPT)))
}

/// The envelope a compaction summary names after [`SUMMARY_TURN`] (the conversation goes on
/// from the summary alone once Claude compacted it).
fn summarised(text: &str) -> Option<(Uuid, &str)> {
    let (_, after) = text.split_once(SUMMARY_TURN)?;
    let line = after.trim_start().lines().next()?;
    envelope(line)
}

/// How the permission hook words a denial (`deploy/skill/hooks/permission-request`).
pub const DENIED: &str = "Denied by the person: ";

/// Every text of a message's `content` (a string, or text blocks; tool results included).
pub fn texts(message: &Value) -> Vec<String> {
    match message.get("content") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(blocks)) => blocks.iter().flat_map(block_texts).collect(),
        _ => vec![],
    }
}

fn block_texts(block: &Value) -> Vec<String> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => block
            .get("text")
            .and_then(Value::as_str)
            .map(|t| vec![t.to_owned()])
            .unwrap_or_default(),
        Some("tool_result") => match block.get("content") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(inner)) => inner.iter().flat_map(block_texts).collect(),
            _ => vec![],
        },
        _ => vec![],
    }
}

/// `[PALIADIN:<uuid>] rest` at the start of `text` (leading whitespace allowed).
pub fn envelope(text: &str) -> Option<(Uuid, &str)> {
    let t = text.trim_start();
    let rest = t.strip_prefix("[PALIADIN:")?;
    let id = Uuid::parse_str(rest.get(..36)?).ok()?;
    let body = rest.get(36..)?.strip_prefix("] ")?;
    Some((id, body))
}

/// True for the prompts of the agent's main loop (they offer tools); side requests such as a
/// conversation title carry none.
pub fn is_main_loop(req: &Value) -> bool {
    req.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
}

/// The Paliadin turn a request is on, if its newest user prompt is (or follows) an envelope.
pub fn turn_view(req: &Value) -> Option<TurnView> {
    let messages = req.get("messages")?.as_array()?;
    let (at, turn_id, message) = messages.iter().enumerate().rev().find_map(|(i, m)| {
        if m.get("role").and_then(Value::as_str) != Some("user") {
            return None;
        }
        // The newest envelope of the message: after a failed request Claude sends the failed
        // prompt and the next one in one merged user message.
        texts(m).iter().rev().find_map(|t| {
            envelope(t)
                .or_else(|| summarised(t))
                .map(|(id, body)| (i, id, body.to_owned()))
        })
    })?;
    let later = &messages[at..];
    let step = later
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .count();
    let all: Vec<String> = later.iter().flat_map(texts).collect();
    let needle = format!("/{turn_id}.md.tmp");
    let tmp_path = all.iter().find_map(|t| path_ending(t, &needle));
    let stop_blocked = all.iter().any(|t| t.contains("has no reply file yet"));
    let denied = all.iter().find_map(|t| {
        let at = t.find(DENIED)?;
        Some(t[at..].lines().next().unwrap_or_default().to_owned())
    });
    Some(TurnView {
        turn_id,
        message,
        step,
        tmp_path,
        stop_blocked,
        denied,
    })
}

/// The absolute path that ends with `needle` in `text` (it starts at the nearest whitespace).
fn path_ending(text: &str, needle: &str) -> Option<String> {
    let end = text.find(needle)? + needle.len();
    let start = text[..end]
        .rfind(|c: char| c.is_whitespace() || c == '`' || c == '"')
        .map_or(0, |i| i + 1);
    let path = &text[start..end];
    path.starts_with('/').then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "0190c3a2-7b1e-7c4d-9f00-123456789abc";

    #[test]
    fn finds_the_turn_its_step_and_the_reply_path() {
        let req = json!({"tools": [{"name": "Write"}], "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": format!("[PALIADIN:{ID}] hello\n there")},
                {"type": "text", "text": format!("<system-reminder>Write it to /s/p/{ID}.md.tmp and then</system-reminder>")}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Write", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
        ]});
        let v = turn_view(&req).expect("turn");
        assert_eq!(v.turn_id.to_string(), ID);
        assert_eq!(v.message, "hello\n there");
        assert_eq!(v.step, 1);
        assert_eq!(v.tmp_path.as_deref(), Some(&*format!("/s/p/{ID}.md.tmp")));
        assert!(!v.stop_blocked);
        assert!(is_main_loop(&req));
    }

    #[test]
    fn a_compaction_summary_carries_the_turn_on() {
        let summary = format!(
            "This session is being continued.\nSummary:\n{SUMMARY_TURN}\n[PALIADIN:{ID}] go on\n\
             Reply file: /s/p/{ID}.md.tmp\n"
        );
        let req = json!({"tools": [{"name": "Write"}], "messages": [
            {"role": "user", "content": [{"type": "text", "text": summary}]}]});
        let v = turn_view(&req).expect("turn");
        assert_eq!(
            (v.turn_id.to_string().as_str(), v.message.as_str(), v.step),
            (ID, "go on", 0)
        );
        assert_eq!(v.tmp_path.as_deref(), Some(&*format!("/s/p/{ID}.md.tmp")));
        let ask = json!({"messages": [{"role": "user", "content":
            "Your task is to create a detailed summary of the conversation so far"}]});
        assert!(is_compaction(&ask));
        assert!(!is_compaction(&req));
    }

    #[test]
    fn no_envelope_is_no_turn() {
        let req = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert!(turn_view(&req).is_none());
        assert!(!is_main_loop(&req));
        assert!(envelope("[PALIADIN:nope] x").is_none());
    }
}
