//! `paliadin-hook codex-watch <session_id> <codex_turn_id> <rollout>`: started detached by
//! [`super::codex_prompt`] for each Paliadin turn, because Codex CLI 0.171.0 runs no hook when
//! the model's API fails. It follows Codex's rollout (`CODEX_HOME/sessions/…/rollout-*.jsonl`,
//! one JSON object per line) from its current end until Codex's turn ends:
//!
//! - `{"type":"event_msg","payload":{"type":"task_complete","turn_id":<codex turn>,
//!   "error":{"message":…,"codex_error_info":…}}}` with an `error`: the turn failed. It writes
//!   `<turn_id>.failure` and clears the busy marker exactly as Claude's `StopFailure` hook does
//!   ([`super::stop_failure`]), the kind from the HTTP status ([`kind_of`]);
//! - the same without an error, or `turn_aborted`: nothing to do (the `Stop` or `Interrupt`
//!   hook did it).
//!
//! It also ends as soon as the pending turn is no longer this one (answered, interrupted,
//! replaced) or the worker concluded it, and after [`LIMIT`] in any case. Polls every
//! [`POLL`]; reads only what was appended.

use super::files::Spool;
use super::json::{Json, Map};
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);
/// The longest a watcher lives (a turn's own limit is far shorter).
const LIMIT: Duration = Duration::from_secs(6 * 3600);
/// At most this much new rollout is read per poll.
const CHUNK: u64 = 16 * 1024 * 1024;

/// Runs the watcher; its exit status.
pub fn main(args: &[String]) -> i32 {
    let [session, codex_turn, rollout] = args else {
        eprintln!("paliadin-hook codex-watch: expected <session_id> <codex_turn_id> <rollout>");
        return 1;
    };
    let spool = match Spool::from_env() {
        Ok(Some(spool)) => spool,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("paliadin-hook codex-watch: {e}");
            return 0;
        }
    };
    if let Err(e) = follow(&spool, session, codex_turn, rollout) {
        eprintln!("paliadin-hook codex-watch: {e:#}");
    }
    0
}

fn follow(spool: &Spool, session: &str, codex_turn: &str, rollout: &str) -> anyhow::Result<()> {
    let event = Map::from_pairs([("session_id", Json::str(session))]);
    let mut file = std::fs::File::open(rollout)?;
    let mut offset = file.metadata()?.len();
    let mut partial = Vec::new();
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        let Some(pending) = spool.read_pending(&event) else {
            return Ok(());
        };
        let ours = pending.data.get("codex_turn_id").and_then(Json::as_str) == Some(codex_turn);
        if !ours || spool.concluded(pending.turn) {
            return Ok(());
        }
        let len = file.metadata()?.len();
        if len > offset {
            file.seek(SeekFrom::Start(offset))?;
            let read = (&mut file).take(CHUNK).read_to_end(&mut partial)?;
            offset += read as u64;
            while let Some(at) = partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = partial.drain(..=at).collect();
                match ended(&line, codex_turn) {
                    Some(Some((kind, message))) => {
                        let failed = Map::from_pairs([
                            ("session_id", Json::str(session)),
                            ("error", Json::str(kind)),
                            ("last_assistant_message", Json::str(message)),
                        ]);
                        super::stop_failure::handle(&failed, spool)?;
                        return Ok(());
                    }
                    Some(None) => return Ok(()),
                    None => {}
                }
            }
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// For a rollout line that ends Codex's turn `codex_turn`: `Some(Some((kind, message)))` when
/// it failed, `Some(None)` when it completed or was aborted; `None` for any other line.
pub fn ended(line: &[u8], codex_turn: &str) -> Option<Option<(&'static str, String)>> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let payload = v.get("payload")?;
    if payload.get("turn_id").and_then(Value::as_str) != Some(codex_turn) {
        return None;
    }
    match payload.get("type").and_then(Value::as_str)? {
        "turn_aborted" => Some(None),
        "task_complete" => match payload.get("error").filter(|e| !e.is_null()) {
            None => Some(None),
            Some(error) => {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the model's API returned an error")
                    .to_owned();
                Some(Some((kind_of(error.get("codex_error_info")), message)))
            }
        },
        _ => None,
    }
}

/// The Paliadin failure kind of Codex's `codex_error_info` (an HTTP status where it has one).
pub fn kind_of(info: Option<&Value>) -> &'static str {
    let status = info
        .and_then(Value::as_object)
        .and_then(|o| o.values().find_map(|v| v.get("http_status_code")))
        .and_then(Value::as_u64);
    let named = info.and_then(Value::as_str).unwrap_or_default();
    match (status, named) {
        (Some(401 | 403), _) => "authentication_failed",
        (Some(429), _) | (_, "usage_limit_exceeded") => "rate_limit",
        (Some(400 | 404 | 413 | 422), _) | (_, "context_window_exceeded") => "invalid_request",
        (Some(529), _) => "overloaded",
        (Some(500..=599), _) | (_, "internal_server_error") => "server_error",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_end_of_codexs_turn_from_its_rollout() {
        let failed = br#"{"type":"event_msg","payload":{"type":"task_complete","turn_id":"t1","last_agent_message":null,"error":{"message":"unexpected status 401 Unauthorized: bad key","codex_error_info":{"http_connection_failed":{"http_status_code":401}}}}}"#;
        assert_eq!(
            ended(failed, "t1"),
            Some(Some((
                "authentication_failed",
                "unexpected status 401 Unauthorized: bad key".to_owned()
            )))
        );
        assert_eq!(ended(failed, "t2"), None, "another turn's end");
        let done = br#"{"type":"event_msg","payload":{"type":"task_complete","turn_id":"t1","error":null}}"#;
        assert_eq!(ended(done, "t1"), Some(None));
        let aborted = br#"{"type":"event_msg","payload":{"type":"turn_aborted","turn_id":"t1"}}"#;
        assert_eq!(ended(aborted, "t1"), Some(None));
        assert_eq!(ended(b"not json", "t1"), None);
        let status = |n: u64| {
            let v = serde_json::json!({"response_stream_failed": {"http_status_code": n}});
            kind_of(Some(&v))
        };
        assert_eq!(
            [status(429), status(500), status(400), status(418)],
            ["rate_limit", "server_error", "invalid_request", "unknown"]
        );
    }
}
