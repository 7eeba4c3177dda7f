//! Reads the usage of turns from the end of a Claude Code transcript.
//!
//! The transcript is written by the agent, so it is not trusted: it is opened without following
//! a symbolic link and must be a regular file (`crate::spool::open_regular`), only its
//! last [`TAIL_BYTES`] are read, lines that do not parse are skipped, and a count out of range
//! ([`paliadin_shared::domain::usage::MAX_TOKENS`]) drops the whole turn's usage.

use paliadin_shared::domain::usage::{MAX_MODEL_CHARS, TurnUsage, Usage};
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// How much of the transcript's end is read: 8 MiB. A turn whose envelope lies further back
/// (a turn that read very large files) is not counted.
pub const TAIL_BYTES: u64 = 8 << 20;

/// Most turns reported from one read: this one and the earlier ones still in the tail.
pub const MAX_TURNS: usize = 8;

/// How long [`read_when_written`] waits for the turn's requests to reach the transcript: Claude
/// Code writes it in batches, so the request that wrote the reply may land a little after it.
pub const WRITE_WAIT: Duration = Duration::from_secs(1);

/// [`read`], waiting (at most [`WRITE_WAIT`], looking every 50 ms) while the transcript does
/// not show `turn`'s requests yet — or does not exist yet: Claude Code may create a new
/// conversation's file only after the reply is in (a first turn's usage was lost that way).
pub async fn read_when_written(path: PathBuf, turn: Uuid) -> Vec<TurnUsage> {
    let deadline = tokio::time::Instant::now() + WRITE_WAIT;
    loop {
        let p = path.clone();
        let found = tokio::task::spawn_blocking(move || read(&p, turn))
            .await
            .unwrap_or_default();
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The usage of `turn` and of the turns before it in the tail of the transcript at `path`
/// (`turn` first); empty when the file is missing, unreadable or names no such turn.
pub fn read(path: &Path, turn: Uuid) -> Vec<TurnUsage> {
    match tail(path) {
        Ok(Some(bytes)) => of_turns(&bytes, turn),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the agent's transcript for usage");
            Vec::new()
        }
    }
}

/// The last [`TAIL_BYTES`] of the file, from the first whole line on.
pub(super) fn tail(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let Some(mut file) = crate::spool::open_regular(path)? else {
        return Ok(None);
    };
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if start > 0 {
        // Mid-line: drop the partial first line.
        let cut = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..cut);
    }
    Ok(Some(bytes))
}

/// One model request: its tokens (the largest seen, as Claude Code may write a message once
/// per content block) and its model.
#[derive(Default)]
pub(super) struct Request {
    pub(super) id: String,
    pub(super) model: String,
    /// Input (uncached), output, cache read and cache creation tokens; -1: out of range.
    pub(super) counts: [i64; 4],
}

/// The usage of each turn whose envelope is in `jsonl`, `turn` first, then the others newest
/// first; at most [`MAX_TURNS`].
pub fn of_turns(jsonl: &[u8], turn: Uuid) -> Vec<TurnUsage> {
    let mut turns: Vec<(Uuid, Vec<Request>)> = Vec::new();
    for entry in in_time_order(jsonl) {
        match entry.get("type").and_then(Value::as_str) {
            Some("user") => {
                if let Some(id) = envelope_of(&entry) {
                    turns.push((id, Vec::new()));
                }
            }
            Some("assistant") => {
                if let Some((_, requests)) = turns.last_mut() {
                    add_request(requests, &entry);
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<TurnUsage> = turns
        .into_iter()
        .rev()
        .filter_map(|(id, requests)| {
            Some(TurnUsage {
                turn_id: id,
                usage: total(&requests)?,
            })
        })
        .collect();
    // A turn sent twice (a retry) keeps its latest run.
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.turn_id));
    if let Some(i) = out.iter().position(|t| t.turn_id == turn) {
        let this = out.remove(i);
        out.insert(0, this);
    } else {
        return Vec::new();
    }
    out.truncate(MAX_TURNS);
    out
}

/// The user and assistant entries of `jsonl` in the order they happened: by their `timestamp`
/// (an entry without one keeps the time of the entry before it), file order among equals.
/// Claude Code does not always append in that order: the first lines it writes to a new
/// conversation's file can hold the first answer before the prompt that asked for it.
fn in_time_order(jsonl: &[u8]) -> Vec<Value> {
    let mut at = String::new();
    let mut entries: Vec<(String, Value)> = Vec::new();
    for line in jsonl.split(|&b| b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if !matches!(
            entry.get("type").and_then(Value::as_str),
            Some("user" | "assistant")
        ) {
            continue;
        }
        if let Some(t) = entry.get("timestamp").and_then(Value::as_str) {
            at = t.to_owned();
        }
        entries.push((at.clone(), entry));
    }
    // RFC 3339 times in UTC with the same precision sort as text; `sort_by` is stable.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().map(|(_, e)| e).collect()
}

/// The turn a user entry opens: its text starts with `[PALIADIN:<uuid>]`. Tool results are
/// never envelopes (a file the agent read may contain one).
pub(crate) fn envelope_of(entry: &Value) -> Option<Uuid> {
    let content = entry.get("message")?.get("content")?;
    let texts: Vec<&str> = match content {
        Value::String(s) => vec![s.as_str()],
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
        _ => return None,
    };
    texts.into_iter().find_map(envelope_in)
}

/// The turn a prompt's text opens with (`[PALIADIN:<uuid>]`), if it does.
pub(crate) fn envelope_in(text: &str) -> Option<Uuid> {
    let rest = text.trim_start().strip_prefix("[PALIADIN:")?;
    let (id, _) = rest.split_once(']')?;
    Uuid::parse_str(id).ok()
}

fn add_request(requests: &mut Vec<Request>, entry: &Value) {
    let Some(message) = entry.get("message") else {
        return;
    };
    let model = message.get("model").and_then(Value::as_str).unwrap_or("");
    // Claude Code's own messages (an API error shown as a reply) cost nothing.
    if model == "<synthetic>" {
        return;
    }
    let Some(usage) = message.get("usage") else {
        return;
    };
    let count = |k: &str| -> i64 {
        match usage.get(k) {
            None | Some(Value::Null) => 0,
            // Not a count in range: marked invalid, which drops the turn (`total`).
            Some(v) => v.as_i64().filter(|n| *n >= 0).unwrap_or(-1),
        }
    };
    let counts = [
        count("input_tokens"),
        count("output_tokens"),
        count("cache_read_input_tokens"),
        count("cache_creation_input_tokens"),
    ];
    let id = message
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match requests.iter_mut().find(|r| !id.is_empty() && r.id == id) {
        Some(r) => {
            for (have, new) in r.counts.iter_mut().zip(counts) {
                *have = if new < 0 || *have < 0 {
                    -1
                } else {
                    (*have).max(new)
                };
            }
        }
        None => requests.push(Request {
            id,
            model: model.chars().take(MAX_MODEL_CHARS + 1).collect(),
            counts,
        }),
    }
}

/// The sum over a turn's requests; None when it has none or a count is out of range.
pub(super) fn total(requests: &[Request]) -> Option<Usage> {
    let last = requests.last()?;
    let mut sum = [0i64; 4];
    for r in requests {
        for (s, n) in sum.iter_mut().zip(r.counts) {
            if n < 0 {
                return None;
            }
            *s = s.checked_add(n)?;
        }
    }
    let usage = Usage {
        model: last.model.clone(),
        input: sum[0],
        output: sum[1],
        cache_read: sum[2],
        cache_creation: sum[3],
        context: last.counts[0]
            .checked_add(last.counts[2])?
            .checked_add(last.counts[3])?,
        cost_usd: None,
        context_window: None,
    };
    usage.is_valid().then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(v: Value) -> String {
        format!("{v}\n")
    }

    fn assistant(id: &str, model: &str, i: i64, o: i64, r: i64, c: i64) -> String {
        line(
            json!({"type": "assistant", "message": {"id": id, "model": model,
            "usage": {"input_tokens": i, "output_tokens": o,
                      "cache_read_input_tokens": r, "cache_creation_input_tokens": c}}}),
        )
    }

    #[test]
    fn sums_each_turns_requests_once_per_message() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut t = String::new();
        t += &assistant("m0", "x", 999, 999, 0, 0); // before any envelope: no turn's
        t += &line(json!({"type": "user", "message": {"content": format!("[PALIADIN:{a}] hi")}}));
        t += &assistant("m1", "claude-x", 10, 1, 5, 7);
        t += &assistant("m1", "claude-x", 10, 20, 5, 7); // same message, final output count
        t += &line(json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "content": format!("[PALIADIN:{b}] not a prompt")}]}}));
        t += &assistant("m2", "claude-x", 3, 4, 100, 0);
        t += &line(json!({"type": "user", "message": {"content": [
            {"type": "text", "text": format!("[PALIADIN:{b}] next")}]}}));
        t += "not json\n";
        t += &assistant("m3", "claude-y", 1, 2, 3, 4);
        let got = of_turns(t.as_bytes(), b);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].turn_id, b);
        let u = &got[0].usage;
        assert_eq!(
            (u.input, u.output, u.cache_read, u.cache_creation),
            (1, 2, 3, 4)
        );
        assert_eq!((u.model.as_str(), u.context), ("claude-y", 8));
        let u = &got[1].usage;
        assert_eq!(got[1].turn_id, a);
        assert_eq!(
            (u.input, u.output, u.cache_read, u.cache_creation),
            (13, 24, 105, 7)
        );
        assert_eq!(u.context, 103);
        assert!(of_turns(t.as_bytes(), Uuid::now_v7()).is_empty());
    }

    #[test]
    fn an_answer_written_before_its_prompt_counts_by_its_time() {
        // As Claude Code writes a new conversation's file: the first answer's line comes
        // first, the prompt's after it, each with the time it happened.
        let a = Uuid::now_v7();
        let at = |t: &str, mut v: Value| {
            v["timestamp"] = json!(t);
            line(v)
        };
        let answer = |id: &str, i: i64| {
            json!({"type": "assistant", "message": {"id": id, "model": "claude-x",
                "usage": {"input_tokens": i, "output_tokens": 1}}})
        };
        let mut t = String::new();
        t += &at("2026-12-06T20:21:19.260Z", answer("m1", 100));
        t += &line(json!({"type": "file-history-snapshot"}));
        t += &at(
            "2026-12-06T20:21:19.205Z",
            json!({"type": "user", "message": {"content": format!("[PALIADIN:{a}] hi")}}),
        );
        t += &at("2026-12-06T20:21:21.700Z", answer("m2", 200));
        let got = of_turns(t.as_bytes(), a);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].usage.input, got[0].usage.output), (300, 2));
    }

    #[test]
    fn a_count_out_of_range_drops_the_turn() {
        let a = Uuid::now_v7();
        let mut t =
            line(json!({"type": "user", "message": {"content": format!("[PALIADIN:{a}] hi")}}));
        t += &line(
            json!({"type": "assistant", "message": {"id": "m", "model": "m",
            "usage": {"input_tokens": -5, "output_tokens": 1}}}),
        );
        assert!(of_turns(t.as_bytes(), a).is_empty());
        let mut t =
            line(json!({"type": "user", "message": {"content": format!("[PALIADIN:{a}] hi")}}));
        t += &line(
            json!({"type": "assistant", "message": {"id": "m", "model": "bad model\u{1b}",
            "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        );
        assert!(of_turns(t.as_bytes(), a).is_empty());
    }

    #[test]
    fn reads_only_the_tail_and_never_a_symlink() {
        let dir = std::env::temp_dir().join(format!("paliadin-usage-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = Uuid::now_v7();
        let file = dir.join("t.jsonl");
        let mut t = "x".repeat((TAIL_BYTES as usize) + 10);
        t.push('\n');
        t += &line(json!({"type": "user", "message": {"content": format!("[PALIADIN:{a}] hi")}}));
        t += &assistant("m", "claude-x", 1, 2, 0, 0);
        std::fs::write(&file, &t).unwrap();
        assert_eq!(read(&file, a)[0].usage.output, 2);
        let link = dir.join("l.jsonl");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read(&link, a).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
