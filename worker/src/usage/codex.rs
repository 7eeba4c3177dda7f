//! Reads the usage of turns from the end of a Codex CLI rollout
//! (`$CODEX_HOME/sessions/…/rollout-…-<id>.jsonl`, one JSON entry per line, in the order they
//! happened), as Codex 0.171.0 writes it:
//!
//! - a turn opens with the `response_item` user `message` whose `input_text` starts with its
//!   envelope `[PALIADIN:<turn_id>]`;
//! - `turn_context` names the `model` of the requests after it;
//! - each model response adds a `token_usage_record` with its `response_id` and `usage`
//!   (`input_tokens`, `cached_input_tokens`, `cache_write_input_tokens`, `output_tokens`);
//!   rollouts without those records carry the same counts in the `event_msg` `token_count`'s
//!   `info.last_token_usage` (repeated when only the rate limits changed: a repeat of the
//!   running `total_token_usage` is not counted again);
//! - `event_msg` `task_complete` ends the turn: after it, its usage is whole.
//!
//! OpenAI counts cached prompt tokens inside `input_tokens`; Paliadin's `input` is the uncached
//! part (as Anthropic counts it), so `input = input_tokens − cached − cache write` and
//! `cache_read = cached_input_tokens`. The rollout is the agent's, so it is read as the
//! Claude transcript is (`super::transcript`: no symbolic link, only the tail, bounded counts).

use super::transcript::{MAX_TURNS, Request, WRITE_WAIT, envelope_in, tail, total};
use paliadin_shared::domain::usage::{MAX_MODEL_CHARS, TurnUsage};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// [`read`] once the rollout shows `turn` complete (its `task_complete`), waiting at most
/// [`WRITE_WAIT`] for it: Codex may append the last response's counts just after the reply.
pub async fn read_when_written(path: PathBuf, turn: Uuid) -> Vec<TurnUsage> {
    let deadline = tokio::time::Instant::now() + WRITE_WAIT;
    loop {
        let p = path.clone();
        let (found, complete) = tokio::task::spawn_blocking(move || read(&p, turn))
            .await
            .unwrap_or_default();
        if complete || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The usage of `turn` and of the turns before it in the tail of the rollout at `path`
/// (`turn` first), and whether `turn` is complete; empty when the file is missing, unreadable
/// or names no such turn.
pub fn read(path: &Path, turn: Uuid) -> (Vec<TurnUsage>, bool) {
    match tail(path) {
        Ok(Some(bytes)) => of_turns(&bytes, turn),
        Ok(None) => (Vec::new(), false),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the agent's rollout for usage");
            (Vec::new(), false)
        }
    }
}

/// One turn of the rollout as read so far.
struct Turn {
    id: Uuid,
    records: Vec<Request>,
    /// From `token_count` events, used when the rollout has no `token_usage_record`.
    counted: Vec<Request>,
    complete: bool,
}

/// The usage of each turn whose envelope is in `jsonl`, `turn` first, then the others newest
/// first (at most [`MAX_TURNS`]), and whether `turn` is complete.
pub fn of_turns(jsonl: &[u8], turn: Uuid) -> (Vec<TurnUsage>, bool) {
    let mut turns: Vec<Turn> = Vec::new();
    let mut model = String::new();
    let mut last_total: Option<Value> = None;
    let mut has_records = false;
    for line in jsonl.split(|&b| b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let payload = &entry["payload"];
        match entry["type"].as_str() {
            Some("turn_context") => {
                if let Some(m) = payload["model"].as_str() {
                    model = m.chars().take(MAX_MODEL_CHARS + 1).collect();
                }
            }
            Some("response_item") => {
                if let Some(id) = user_envelope(payload) {
                    turns.push(Turn {
                        id,
                        records: Vec::new(),
                        counted: Vec::new(),
                        complete: false,
                    });
                }
            }
            Some("token_usage_record") => {
                has_records = true;
                let id = payload["response_id"].as_str().unwrap_or("").to_owned();
                if let Some(t) = turns.last_mut()
                    && (id.is_empty() || !t.records.iter().any(|r| r.id == id))
                {
                    t.records.push(request(id, &model, &payload["usage"]));
                }
            }
            Some("event_msg") => match payload["type"].as_str() {
                Some("token_count") => {
                    let info = &payload["info"];
                    let running = info.get("total_token_usage").cloned();
                    if running.is_none() || running == last_total {
                        continue;
                    }
                    last_total = running;
                    if let Some(t) = turns.last_mut() {
                        let r = request(String::new(), &model, &info["last_token_usage"]);
                        t.counted.push(r);
                    }
                }
                Some("task_complete") => {
                    if let Some(t) = turns.last_mut() {
                        t.complete = true;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    let complete = turns
        .iter()
        .rev()
        .find(|t| t.id == turn)
        .is_some_and(|t| t.complete);
    let mut out: Vec<TurnUsage> = turns
        .into_iter()
        .rev()
        .filter_map(|t| {
            let requests = if has_records { t.records } else { t.counted };
            Some(TurnUsage {
                turn_id: t.id,
                usage: total(&requests)?,
            })
        })
        .collect();
    // A turn sent twice (a retry) keeps its latest run.
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.turn_id));
    let Some(i) = out.iter().position(|t| t.turn_id == turn) else {
        return (Vec::new(), complete);
    };
    let this = out.remove(i);
    out.insert(0, this);
    out.truncate(MAX_TURNS);
    (out, complete)
}

/// The turn a `response_item` opens: a user `message` whose text starts with an envelope.
pub(crate) fn user_envelope(item: &Value) -> Option<Uuid> {
    if item["type"] != "message" || item["role"] != "user" {
        return None;
    }
    item["content"]
        .as_array()?
        .iter()
        .filter(|c| c["type"] == "input_text")
        .filter_map(|c| c["text"].as_str())
        .find_map(envelope_in)
}

/// One response's counts, in Paliadin's kinds (-1 marks a count out of range).
fn request(id: String, model: &str, usage: &Value) -> Request {
    let count = |k: &str| -> i64 {
        match usage.get(k) {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_i64().filter(|n| *n >= 0).unwrap_or(-1),
        }
    };
    let (prompt, cached, written, output) = (
        count("input_tokens"),
        count("cached_input_tokens"),
        count("cache_write_input_tokens"),
        count("output_tokens"),
    );
    let uncached = if [prompt, cached, written].contains(&-1) {
        -1
    } else {
        prompt.saturating_sub(cached).saturating_sub(written).max(0)
    };
    Request {
        id,
        model: model.to_owned(),
        counts: [uncached, output, cached, written],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(v: Value) -> String {
        format!("{v}\n")
    }

    fn prompt(turn: Uuid, text: &str) -> String {
        line(
            json!({"type": "response_item", "payload": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": format!("[PALIADIN:{turn}] {text}")}]}}),
        )
    }

    fn usage(i: i64, c: i64, o: i64) -> Value {
        json!({"input_tokens": i, "cached_input_tokens": c, "cache_write_input_tokens": 0,
               "output_tokens": o, "reasoning_output_tokens": 0, "total_tokens": i + o})
    }

    fn record(resp: &str, i: i64, c: i64, o: i64) -> String {
        line(json!({"type": "token_usage_record",
            "payload": {"response_id": resp, "usage": usage(i, c, o)}}))
    }

    fn count(total: (i64, i64, i64), last: (i64, i64, i64)) -> String {
        line(
            json!({"type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": usage(total.0, total.1, total.2),
            "last_token_usage": usage(last.0, last.1, last.2)}}}),
        )
    }

    fn context(model: &str) -> String {
        line(json!({"type": "turn_context", "payload": {"model": model}}))
    }

    fn complete() -> String {
        line(json!({"type": "event_msg", "payload": {"type": "task_complete"}}))
    }

    #[test]
    fn sums_each_turns_responses_once_with_cached_input_apart() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut t = record("r0", 999, 0, 999); // before any envelope: no turn's
        t += &context("gpt-a");
        t += &prompt(a, "hi");
        t += &record("r1", 101, 10, 23);
        t += &count((101, 10, 23), (101, 10, 23));
        t += &record("r1", 101, 10, 23); // the same response again
        t += &record("r2", 103, 30, 29);
        t += &complete();
        t += &context("gpt-b");
        t += &prompt(b, "next");
        t += "not json\n";
        t += &record("r3", 104, 40, 32);
        let (got, done) = of_turns(t.as_bytes(), b);
        assert!(!done, "b has no task_complete yet");
        assert_eq!(got.len(), 2);
        let u = &got[0].usage;
        assert_eq!(got[0].turn_id, b);
        assert_eq!(
            (u.input, u.output, u.cache_read, u.cache_creation),
            (64, 32, 40, 0)
        );
        assert_eq!((u.model.as_str(), u.context), ("gpt-b", 104));
        let u = &got[1].usage;
        assert_eq!(got[1].turn_id, a);
        assert_eq!(
            (u.input, u.output, u.cache_read, u.model.as_str()),
            (91 + 73, 52, 40, "gpt-a")
        );
        assert!(of_turns(t.as_bytes(), a).1, "a is complete");
        assert!(of_turns(t.as_bytes(), Uuid::now_v7()).0.is_empty());
    }

    #[test]
    fn without_records_the_token_count_events_count_once_each() {
        let a = Uuid::now_v7();
        let mut t = context("gpt-a");
        t += &prompt(a, "hi");
        t += &count((101, 10, 23), (101, 10, 23));
        t += &count((101, 10, 23), (101, 10, 23)); // a rate-limit update: the same total
        t += &count((204, 40, 52), (103, 30, 29));
        t += &complete();
        let (got, done) = of_turns(t.as_bytes(), a);
        assert!(done);
        let u = &got[0].usage;
        assert_eq!((u.input, u.output, u.cache_read), (91 + 73, 52, 40));
    }

    #[test]
    fn a_count_out_of_range_drops_the_turn() {
        let a = Uuid::now_v7();
        let mut t = context("gpt-a");
        t += &prompt(a, "hi");
        t += &record("r1", -5, 0, 1);
        assert!(of_turns(t.as_bytes(), a).0.is_empty());
        let mut t = context("bad model\u{1b}");
        t += &prompt(a, "hi");
        t += &record("r1", 5, 0, 1);
        assert!(of_turns(t.as_bytes(), a).0.is_empty());
    }
}
