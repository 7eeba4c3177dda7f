//! Reading an OpenAI Responses API request the way the scripted model needs it: which Paliadin
//! turn the conversation is on (the newest user message that starts with an envelope), the
//! person's message as the model received it, how many model steps (tool calls) followed it,
//! and the reply path the prompt hook's reminder named.

use crate::model::request::{SUMMARY_TURN, envelope};
use serde_json::Value;
use uuid::Uuid;

/// The turn a main-loop request is about.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnView {
    pub turn_id: Uuid,
    /// The text after `[PALIADIN:<id>] ` exactly as it arrived in the request.
    pub message: String,
    /// Tool calls of the model after the prompt: 0 for the first request of the turn.
    pub step: usize,
    /// `<spool>/<id>.md.tmp` when the hook's reminder (or anything later) named it.
    pub tmp_path: Option<String>,
    /// The Stop hook sent the model back once (its reason is in the conversation).
    pub stop_blocked: bool,
    /// The last tool call's output, when there is one after the prompt.
    pub last_output: Option<String>,
    /// The turn is named by a compaction summary (the conversation goes on from it), not by
    /// the person's prompt.
    pub summarised: bool,
}

/// The words that open Codex 0.171.0's request to summarise the conversation (its own
/// automatic compaction, or `/compact`), in the last user message.
pub const COMPACT_PROMPT: &str = "CONTEXT CHECKPOINT COMPACTION";

/// True for Codex's request to summarise the conversation.
pub fn is_compaction(req: &Value) -> bool {
    req.get("input")
        .and_then(Value::as_array)
        .and_then(|input| input.iter().rev().find(|i| is_user_message(i)))
        .is_some_and(|m| texts(m).iter().any(|t| t.contains(COMPACT_PROMPT)))
}

/// The envelope a compaction summary names after [`SUMMARY_TURN`].
fn summarised(text: &str) -> Option<(Uuid, &str)> {
    let (_, after) = text.split_once(SUMMARY_TURN)?;
    envelope(after.trim_start().lines().next()?)
}

/// Every text of one `input` item: message content, tool call arguments and outputs.
pub fn texts(item: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(parts)) = item.get("content") {
        for p in parts {
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                out.push(t.to_owned());
            }
        }
    }
    if let Some(Value::String(s)) = item.get("content") {
        out.push(s.clone());
    }
    for key in ["arguments", "output"] {
        match item.get(key) {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(other @ Value::Array(_)) => out.push(other.to_string()),
            _ => {}
        }
    }
    out
}

fn is_user_message(item: &Value) -> bool {
    item.get("role").and_then(Value::as_str) == Some("user")
        && item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
            == "message"
}

/// True for the prompts of the agent's main loop (they offer tools).
pub fn is_main_loop(req: &Value) -> bool {
    req.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
}

/// The Paliadin turn a request is on, if its newest enveloped user message is there.
pub fn turn_view(req: &Value) -> Option<TurnView> {
    let input = req.get("input")?.as_array()?;
    let (at, turn_id, message, summarised) =
        input.iter().enumerate().rev().find_map(|(i, item)| {
            if !is_user_message(item) {
                return None;
            }
            texts(item).iter().rev().find_map(|t| {
                envelope(t)
                    .map(|(id, body)| (i, id, body.to_owned(), false))
                    .or_else(|| summarised(t).map(|(id, body)| (i, id, body.to_owned(), true)))
            })
        })?;
    let later = &input[at..];
    let step = later
        .iter()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call"))
        .count();
    let all: Vec<String> = later.iter().flat_map(texts).collect();
    let needle = format!("/{turn_id}.md.tmp");
    let tmp_path = all.iter().find_map(|t| path_ending(t, &needle));
    let stop_blocked = all.iter().any(|t| t.contains("has no reply file yet"));
    let last_output = later
        .iter()
        .rev()
        .find(|i| i.get("type").and_then(Value::as_str) == Some("function_call_output"))
        .map(|i| texts(i).concat());
    Some(TurnView {
        turn_id,
        message,
        step,
        tmp_path,
        stop_blocked,
        last_output,
        summarised,
    })
}

/// The absolute path that ends with `needle` in `text` (it starts at the nearest whitespace).
fn path_ending(text: &str, needle: &str) -> Option<String> {
    let end = text.find(needle)? + needle.len();
    let start = text[..end]
        .rfind(|c: char| c.is_whitespace() || c == '`' || c == '"' || c == '\'')
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
        let req = json!({"tools": [{"type": "function", "name": "exec_command"}], "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": format!("[PALIADIN:{ID}] hello\n there")}]},
            {"type": "message", "role": "developer", "content": [
                {"type": "input_text", "text": format!("Write it to /s/p/{ID}.md.tmp and then")}]},
            {"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"}
        ]});
        let v = turn_view(&req).expect("turn");
        assert_eq!(v.turn_id.to_string(), ID);
        assert_eq!(v.message, "hello\n there");
        assert_eq!(v.step, 1);
        assert_eq!(v.tmp_path.as_deref(), Some(&*format!("/s/p/{ID}.md.tmp")));
        assert_eq!(v.last_output.as_deref(), Some("done"));
        assert!(is_main_loop(&req));
    }

    #[test]
    fn no_envelope_is_no_turn() {
        let req = json!({"input": [{"type": "message", "role": "user",
                                    "content": [{"type": "input_text", "text": "hi"}]}]});
        assert!(turn_view(&req).is_none());
        assert!(!is_main_loop(&req));
    }
}
