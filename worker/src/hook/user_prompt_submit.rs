//! `paliadin-hook user-prompt-submit` (Claude Code's `UserPromptSubmit`): a prompt that starts
//! with `[PALIADIN:<turn_id>] ` is a Paliadin turn. The hook
//!
//! - appends one line to `<spool>/<turn_id>.ack` (the worker's proof that the turn was
//!   submitted: it stops pressing Enter);
//! - remembers the turn as this Claude session's pending turn (`<spool>/.pending-<session_id>`,
//!   `{"turn_id": …, "stop_blocks": 0}`);
//! - marks the tmux session busy (`<spool>/.busy-<PALIADIN_SESSION>`, removed by the Stop hook);
//! - adds a reminder with the exact reply paths to Claude's context.
//!
//! Any other prompt clears the session's pending turn. Docs: `docs/claude-code.md`.

use super::files::{Spool, append, now};
use super::json::{Json, Map};
use super::text::envelope_turn;
use uuid::Uuid;

pub fn handle(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let turn_id = event
        .get("prompt")
        .and_then(Json::as_str)
        .and_then(envelope_turn);
    let Some(turn) = turn_id.and_then(|id| Uuid::try_parse(id).ok()) else {
        spool.clear_pending(event)?;
        return Ok(None);
    };
    let session = event.get("session_id").map_or("?".to_owned(), Json::py_str);
    append(
        &spool.path(turn, "ack"),
        &format!("{} user-prompt-submit session={session}\n", now()),
    )?;
    let pending = Map::from_pairs([
        ("turn_id", Json::str(turn.to_string())),
        ("stop_blocks", Json::Number(0.into())),
    ]);
    spool.write_pending(event, &pending)?;
    spool.set_busy(turn)?;
    let path = |ext: &str| spool.path(turn, ext).display().to_string();
    let reminder = format!(
        "This prompt is Paliadin turn {turn}; answer it with the paliadin skill. The person reads \
         only the reply file, not this terminal. Optionally append progress (text your final \
         reply will start with) to {}. Write the whole reply, Markdown body then the trailer \
         line <!-- paliadin {{...}} -->, with the Write tool to {}; it is published as {} \
         automatically (do not rename it).",
        path("partial"),
        path("md.tmp"),
        path("md"),
    );
    let specific = Map::from_pairs([
        ("hookEventName", Json::str("UserPromptSubmit")),
        ("additionalContext", Json::str(reminder)),
    ]);
    Ok(Some(Json::Object(Map::from_pairs([(
        "hookSpecificOutput",
        Json::Object(specific),
    )]))))
}
