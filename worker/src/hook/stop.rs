//! `paliadin-hook stop` (Claude Code's `Stop`): makes sure the pending Paliadin turn gets its
//! reply file. Policy (also in `docs/claude-code.md`), when Claude stops with a pending turn:
//!
//! 1. The turn is concluded: its `<turn_id>.md` exists (in the spool or in `done/`, where the
//!    worker moves a finished turn's files), or the worker removed its `.ack`. Forget it, allow
//!    the stop.
//! 2. A finished `<turn_id>.md.tmp` exists (ends with a trailer line): publish it, allow the stop.
//! 3. First stop without a reply for this turn: block once (`{"decision":"block","reason":…}`)
//!    with a reason that tells Claude exactly which file to write.
//! 4. Any later stop without a reply: write `<turn_id>.md` from `last_assistant_message` (or,
//!    on older Claude Code versions, the last assistant text in the transcript). Its own trailer
//!    line is kept if it ends with one, otherwise the fallback trailer
//!    `{"used_tools":[],"rows_seen":0,"chip_count":0,"classifier_tag":"fallback"}` is added.
//!    With no text at all nothing is written (the worker's turn timeout reports it). Allow the
//!    stop.
//!
//! Whenever the stop is allowed, the busy marker goes and `.stopped-<session>` is stamped.
//! Stop does not fire when the person interrupts (Esc); the next prompt replaces the pending
//! turn.

use super::files::{Spool, write_atomic};
use super::json::{self, Json, Map};
use super::text::{FALLBACK_TRAILER, has_trailer, py_space, strip};
use std::io::{Read, Seek, SeekFrom};

/// At most this much of the end of a transcript is searched for the last assistant text.
const TRANSCRIPT_TAIL: u64 = 32 * 1024 * 1024;

pub fn handle(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let out = decide(event, spool)?;
    if out.is_none() {
        spool.clear_busy()?;
    }
    Ok(out)
}

/// Python's `int()` of the pending turn's `stop_blocks`.
fn stop_blocks(value: Option<&Json>) -> anyhow::Result<i64> {
    match value {
        None => Ok(0),
        Some(Json::Bool(b)) => Ok(i64::from(*b)),
        Some(Json::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .ok_or_else(|| anyhow::anyhow!("stop_blocks {n} is not a number")),
        Some(Json::String(s)) => Ok(strip(s).parse()?),
        Some(other) => anyhow::bail!("stop_blocks {} is not a number", json::dumps(other, false)),
    }
}

/// `None` to let Claude stop, or the block decision.
fn decide(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let Some(mut pending) = spool.read_pending(event) else {
        return Ok(None);
    };
    let turn = pending.turn;
    if spool.concluded(turn) || spool.publish_tmp(turn)? {
        spool.clear_pending(event)?;
        return Ok(None);
    }
    if stop_blocks(pending.data.get("stop_blocks"))? < 1 {
        pending.data.insert("stop_blocks", Json::Number(1.into()));
        spool.write_pending(event, &pending.data)?;
        let reason = format!(
            "Paliadin turn {turn} has no reply file yet, and the person only sees that file. \
             Write your whole reply (Markdown body, then the trailer line \
             <!-- paliadin {{\"used_tools\":[...],\"rows_seen\":N,\"chip_count\":N,\
             \"classifier_tag\":\"...\"}} -->) with the Write tool to {}; it is published \
             automatically. Do not answer again in the chat.",
            spool.path(turn, "md.tmp").display()
        );
        return Ok(Some(Json::Object(Map::from_pairs([
            ("decision", Json::str("block")),
            ("reason", Json::str(reason)),
        ]))));
    }
    let text = match event.get("last_assistant_message").and_then(Json::as_str) {
        Some(text) if !strip(text).is_empty() => text.to_owned(),
        _ => last_text_from_transcript(event.get("transcript_path").and_then(Json::as_str)),
    };
    spool.clear_pending(event)?;
    if strip(&text).is_empty() {
        eprintln!("paliadin stop hook: turn {turn} ended without any reply text");
    } else {
        write_atomic(
            &spool.path(turn, "md"),
            fallback_reply(&text).as_bytes(),
            true,
        )?;
    }
    Ok(None)
}

/// The reply written for a model that answered only in the chat.
fn fallback_reply(text: &str) -> String {
    let body = text.trim_end_matches(py_space);
    if has_trailer(body) {
        format!("{body}\n")
    } else {
        format!("{body}\n{FALLBACK_TRAILER}\n")
    }
}

/// The text of the last assistant message in a Claude Code transcript (JSON lines); only its
/// last [`TRANSCRIPT_TAIL`] bytes are read. Empty when there is none or it cannot be read.
fn last_text_from_transcript(path: Option<&str>) -> String {
    let Some(path) = path else {
        return String::new();
    };
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        _ => return String::new(),
    };
    let start = len.saturating_sub(TRANSCRIPT_TAIL);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err()
        || file.take(TRANSCRIPT_TAIL).read_to_end(&mut bytes).is_err()
    {
        return String::new();
    }
    let mut lines = bytes.split(|&b| b == b'\n');
    if start > 0 {
        lines.next(); // the tail starts inside a line
    }
    let mut last = String::new();
    for line in lines {
        let Ok(Json::Object(entry)) = json::parse(String::from_utf8_lossy(line).as_bytes()) else {
            continue;
        };
        if entry.get("type").and_then(Json::as_str) != Some("assistant") {
            continue;
        }
        let content = match entry.get("message") {
            Some(Json::Object(message)) => message.get("content"),
            _ => None,
        };
        let text: String = match content {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Array(parts)) => parts
                .iter()
                .filter_map(|part| match part {
                    Json::Object(p) if p.get("type").and_then(Json::as_str) == Some("text") => {
                        p.get("text").and_then(Json::as_str)
                    }
                    _ => None,
                })
                .collect(),
            _ => String::new(),
        };
        if !strip(&text).is_empty() {
            last = text;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_keeps_a_trailer_the_model_wrote() {
        assert_eq!(
            fallback_reply("Hi\n\n"),
            format!("Hi\n{FALLBACK_TRAILER}\n")
        );
        let own = "Hi\n<!-- paliadin {\"x\":1} -->";
        assert_eq!(fallback_reply(&format!("{own}\n ")), format!("{own}\n"));
    }

    #[test]
    fn stop_blocks_reads_as_python_int_did() {
        assert_eq!(stop_blocks(None).unwrap(), 0);
        assert_eq!(stop_blocks(Some(&Json::Number(1.into()))).unwrap(), 1);
        assert_eq!(stop_blocks(Some(&Json::str(" 2 "))).unwrap(), 2);
        assert_eq!(stop_blocks(Some(&Json::Bool(true))).unwrap(), 1);
        assert!(stop_blocks(Some(&Json::Null)).is_err());
    }

    #[test]
    fn finds_the_last_assistant_text_in_a_transcript() {
        let path =
            std::env::temp_dir().join(format!("paliadin-transcript-{}", uuid::Uuid::new_v4()));
        let lines = [
            r#"{"type":"assistant","message":{"content":"first"}}"#,
            "not json",
            r#"{"type":"user","message":{"content":"question"}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"sec"},{"type":"tool_use"},{"type":"text","text":"ond"}]}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"  "}]}}"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        assert_eq!(last_text_from_transcript(path.to_str()), "second");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(last_text_from_transcript(Some("/nonexistent/x")), "");
        assert_eq!(last_text_from_transcript(None), "");
    }
}
