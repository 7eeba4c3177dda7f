//! `paliadin-hook codex-user-prompt-submit` (Codex CLI's `UserPromptSubmit`): a prompt that
//! starts with `[PALIADIN:<turn_id>] ` is a Paliadin turn. Like Claude's
//! ([`super::user_prompt_submit`]) it appends the receipt to `<turn_id>.ack`, remembers the
//! pending turn for this Codex session (with Codex's own `turn_id` and rollout path), marks the
//! tmux session busy and tells the model where the reply goes — in Codex's terms: no `Write`
//! tool, one shell command writes the file.
//!
//! Codex names its conversations itself, so the hook also links the Paliadin conversation
//! (`PALIADIN_CONVERSATION`, set by the worker for the session) to Codex's rollout:
//! `<spool>/.codex-<conversation>` holds the rollout's path, from which the worker resumes it
//! (`codex resume <id>`, [`crate::agent::codex_rollout`]).
//!
//! Codex 0.171.0 runs no hook when the model's API fails (no `Stop`, no `StopFailure`): it
//! records the error in its rollout (`task_complete` with `error`) and shows it on screen. So
//! the hook also starts `paliadin-hook codex-watch` ([`super::codex_watch`]) detached, which
//! follows the rollout until Codex's turn ends and reports a failed one as `.failure`.

use super::files::{Spool, append, now, write_atomic};
use super::json::{Json, Map};
use super::text::envelope_turn;
use std::process::{Command, Stdio};
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
    let text = |key: &str| event.get(key).and_then(Json::as_str).unwrap_or_default();
    let session = text("session_id");
    append(
        &spool.path(turn, "ack"),
        &format!("{} codex-user-prompt-submit session={session}\n", now()),
    )?;
    let pending = Map::from_pairs([
        ("turn_id", Json::str(turn.to_string())),
        ("stop_blocks", Json::Number(0.into())),
        ("codex_turn_id", Json::str(text("turn_id"))),
        ("transcript_path", Json::str(text("transcript_path"))),
    ]);
    spool.write_pending(event, &pending)?;
    spool.set_busy(turn)?;
    link(spool, text("transcript_path"))?;
    if let Err(e) = watch(session, text("turn_id"), text("transcript_path")) {
        eprintln!("paliadin hook: cannot follow Codex's rollout: {e}");
    }
    let path = |ext: &str| spool.path(turn, ext).display().to_string();
    let reminder = format!(
        "This prompt is Paliadin turn {turn}; answer it as your Paliadin instructions say. The \
         person reads only the reply file, not this terminal. Optionally append progress (text \
         your final reply will start with) to {}. Write the whole reply, Markdown body then the \
         trailer line <!-- paliadin {{...}} -->, with one shell command (a quoted heredoc) to \
         {}; it is published as {} when you finish (do not rename it).",
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

/// Records Codex's rollout as the one of this session's Paliadin conversation.
fn link(spool: &Spool, rollout: &str) -> std::io::Result<()> {
    let conversation = std::env::var("PALIADIN_CONVERSATION").unwrap_or_default();
    let Ok(conversation) = Uuid::try_parse(conversation.trim()) else {
        return Ok(());
    };
    if !rollout.starts_with('/') || rollout.contains('\n') {
        return Ok(());
    }
    let root = std::path::Path::new(&spool.root);
    let path = crate::agent::codex_link(root, conversation);
    write_atomic(&path, format!("{rollout}\n").as_bytes(), false)
}

/// Starts the rollout watcher, detached (own process group, no stdio): Codex does not wait for
/// it, and it outlives this hook.
fn watch(session: &str, codex_turn: &str, transcript: &str) -> std::io::Result<()> {
    if session.is_empty() || codex_turn.is_empty() || transcript.is_empty() {
        return Ok(());
    }
    use std::os::unix::process::CommandExt;
    Command::new(std::env::current_exe()?)
        .args(["codex-watch", session, codex_turn, transcript])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
}
