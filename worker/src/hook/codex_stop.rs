//! `paliadin-hook codex-stop` and `codex-interrupt` (Codex CLI's `Stop` and `Interrupt`).
//!
//! `Stop` fires when Codex finished answering (with `last_assistant_message`, like Claude's).
//! For the pending Paliadin turn: a concluded turn is forgotten; a finished `<turn_id>.md.tmp`
//! is published; otherwise the model answered only in the chat, and its last message becomes
//! the reply (with the fallback trailer unless it wrote one) — Codex is never sent back to
//! write the file (Claude's Stop hook blocks once for that): a model that ignores its
//! instructions once would most likely answer in the chat again. Then the busy marker goes
//! and `.stopped-<session>` is stamped.
//!
//! `Interrupt` fires when the person (the worker's Escape) interrupts Codex: the turn is
//! forgotten and the busy marker goes; no reply is written for it.

use super::files::{Spool, write_atomic};
use super::json::{Json, Map};
use super::text::{FALLBACK_TRAILER, has_trailer, py_space, strip};

pub fn stop(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let result = publish(event, spool);
    spool.clear_busy()?;
    result.map(|()| None)
}

fn publish(event: &Map, spool: &Spool) -> anyhow::Result<()> {
    let Some(pending) = spool.read_pending(event) else {
        return Ok(());
    };
    let turn = pending.turn;
    spool.clear_pending(event)?;
    if spool.concluded(turn) || spool.publish_tmp(turn)? {
        return Ok(());
    }
    let text = event
        .get("last_assistant_message")
        .and_then(Json::as_str)
        .unwrap_or_default();
    if strip(text).is_empty() {
        eprintln!("paliadin codex stop hook: turn {turn} ended without any reply text");
        return Ok(());
    }
    write_atomic(&spool.path(turn, "md"), fallback(text).as_bytes(), true)?;
    Ok(())
}

/// The reply written for a model that answered only in the chat.
pub fn fallback(text: &str) -> String {
    let body = text.trim_end_matches(py_space);
    if has_trailer(body) {
        format!("{body}\n")
    } else {
        format!("{body}\n{FALLBACK_TRAILER}\n")
    }
}

pub fn interrupt(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    spool.clear_pending(event)?;
    spool.clear_busy()?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_answer_gets_a_trailer_once() {
        assert_eq!(fallback("Hi\n\n"), format!("Hi\n{FALLBACK_TRAILER}\n"));
        let own = "Hi\n<!-- paliadin {\"x\":1} -->";
        assert_eq!(fallback(&format!("{own}\n ")), format!("{own}\n"));
    }
}
