//! `paliadin-hook permission-request` (Claude Code's `PermissionRequest`): Claude is about to
//! ask before a tool runs. During a Paliadin turn the person is not at this terminal, so the
//! question goes to them through the spool (`docs/agent-protocol.md` §7):
//!
//! - writes `<spool>/<turn_id>.perm-<n>.json` (`{"tool", "summary", "options"}`; `n` = 1, 2, …
//!   per turn, taken exclusively with `link()`) — the worker shows it on the chat page;
//! - waits for `<spool>/<turn_id>.perm-<n>.decision` (`{"decision": "allow" | "allow_always" |
//!   "deny", "message"?, "by"}`), written by the worker once the person (or the expiry) decided;
//! - answers Claude: allow (with Claude's suggested rules for `allow_always`), or deny with the
//!   reason.
//!
//! The wait is bounded: `PALIADIN_PERMISSION_WAIT_SECS` (default 1800) plus a minute, then deny;
//! it also ends (deny) when the worker concluded the turn (its `.ack` is gone: cancelled or
//! timed out). Outside a Paliadin turn the hook says nothing and Claude shows its own dialog.

use super::files::{MAX_SMALL_FILE, Spool, read_bounded, remove_if_there};
use super::json::{self, Json, Map};
use super::text::first_chars;
use paliadin_shared::domain::permission::{Decision, MAX_REQUESTS};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};
use uuid::Uuid;

const SUMMARY_CHARS: usize = 2000;
const POLL: Duration = Duration::from_millis(100);
const DEFAULT_WAIT_SECS: i64 = 1800;

/// What the tool will do, for a person to judge: the command, the file, the URL…
fn summary(tool_input: Option<&Json>) -> String {
    let Some(Json::Object(input)) = tool_input else {
        let text = tool_input.map_or("None".to_owned(), Json::py_str);
        return first_chars(&text, SUMMARY_CHARS).to_owned();
    };
    let keys = [
        "command",
        "file_path",
        "path",
        "url",
        "pattern",
        "query",
        "description",
    ];
    let mut parts: Vec<String> = keys
        .iter()
        .filter_map(|&k| match input.get(k).and_then(Json::as_str) {
            Some(v) if !v.is_empty() && k == "command" => Some(v.to_owned()),
            Some(v) if !v.is_empty() => Some(format!("{k}: {v}")),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        parts.push(json::dumps(&Json::Object(input.clone()), false));
    }
    let text = parts.join("\n");
    if text.chars().count() <= SUMMARY_CHARS {
        text
    } else {
        format!("{}…", first_chars(&text, SUMMARY_CHARS))
    }
}

/// Writes the request under the first free number; returns it, or `None` when all are used.
fn publish(spool: &Spool, turn: Uuid, request: &Json) -> io::Result<Option<u32>> {
    let tmp = spool.path(turn, &format!("perm.tmp-{}", std::process::id()));
    remove_if_there(&tmp)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = file.write_all(json::dumps(request, false).as_bytes());
    drop(file);
    let taken = written.and_then(|()| {
        for n in 1..=MAX_REQUESTS {
            // link() fails if the name exists: two hooks never take the same number, and the
            // reader sees the whole file or nothing.
            match std::fs::hard_link(&tmp, spool.path(turn, &format!("perm-{n}.json"))) {
                Ok(()) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    });
    remove_if_there(&tmp)?;
    taken
}

fn deny(message: &str) -> Map {
    Map::from_pairs([
        ("decision", Json::str("deny")),
        ("message", Json::str(message)),
    ])
}

/// The worker's answer to request `n`, or a denial when the wait ends without one.
fn wait_decision(spool: &Spool, turn: Uuid, n: u32) -> Map {
    let limit = std::env::var("PALIADIN_PERMISSION_WAIT_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(DEFAULT_WAIT_SECS);
    let secs = limit.saturating_add(60);
    let deadline = u64::try_from(secs)
        .ok()
        .and_then(|s| Instant::now().checked_add(Duration::from_secs(s)));
    let path = spool.path(turn, &format!("perm-{n}.decision"));
    let ack = spool.path(turn, "ack");
    while secs > 0 && deadline.is_none_or(|d| Instant::now() < d) {
        if let Ok(Some(bytes)) = read_bounded(&path, MAX_SMALL_FILE)
            && let Ok(Json::Object(answer)) = json::parse(&bytes)
        {
            return answer;
        }
        if !ack.exists() {
            return deny("the turn ended before anyone decided");
        }
        std::thread::sleep(POLL);
    }
    deny("nobody answered in time")
}

pub fn handle(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let Some(pending) = spool.read_pending(event) else {
        return Ok(None);
    };
    let turn = pending.turn;
    if spool.concluded(turn) {
        return Ok(None);
    }
    let tool = event.get("tool_name").map_or("?".to_owned(), Json::py_str);
    let suggestions = match event.get("permission_suggestions") {
        Some(Json::Array(s)) if !s.is_empty() => Some(Json::Array(s.clone())),
        _ => None,
    };
    let mut options = vec![Json::str("allow"), Json::str("deny")];
    if suggestions.is_some() {
        options.insert(1, Json::str("allow_always"));
    }
    let request = Json::Object(Map::from_pairs([
        ("tool", Json::str(tool)),
        ("summary", Json::str(summary(event.get("tool_input")))),
        ("options", Json::Array(options)),
    ]));
    let decision = match publish(spool, turn, &request)? {
        None => Map::from_pairs([
            ("behavior", Json::str("deny")),
            (
                "message",
                Json::str("too many permission requests in one turn"),
            ),
        ]),
        Some(n) => {
            let answer = wait_decision(spool, turn, n);
            let decision = answer
                .get("decision")
                .and_then(Json::as_str)
                .and_then(Decision::parse);
            match decision {
                Some(chosen @ (Decision::Allow | Decision::AllowAlways)) => {
                    let mut allow = Map::from_pairs([("behavior", Json::str("allow"))]);
                    if let Some(rules) = suggestions.filter(|_| chosen == Decision::AllowAlways) {
                        allow.insert("updatedPermissions", rules);
                    }
                    allow
                }
                _ => {
                    let why = match answer.get("message") {
                        Some(m) if m.truthy() => m.py_str(),
                        _ => "the person denied this".to_owned(),
                    };
                    Map::from_pairs([
                        ("behavior", Json::str("deny")),
                        ("message", Json::str(format!("Denied by the person: {why}"))),
                    ])
                }
            }
        }
    };
    let specific = Map::from_pairs([
        ("hookEventName", Json::str("PermissionRequest")),
        ("decision", Json::Object(decision)),
    ]);
    Ok(Some(Json::Object(Map::from_pairs([(
        "hookSpecificOutput",
        Json::Object(specific),
    )]))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_what_will_happen() {
        let input =
            json::parse(br#"{"description": "make x", "command": "touch /tmp/x"}"#).unwrap();
        assert_eq!(summary(Some(&input)), "touch /tmp/x\ndescription: make x");
        let other = json::parse(r#"{"z": 1, "a": "é"}"#.as_bytes()).unwrap();
        assert_eq!(summary(Some(&other)), r#"{"z": 1, "a": "é"}"#);
        assert_eq!(summary(None), "None");
        let long = Json::Object(Map::from_pairs([("command", Json::str("x".repeat(2500)))]));
        assert_eq!(summary(Some(&long)).chars().count(), SUMMARY_CHARS + 1);
    }
}
