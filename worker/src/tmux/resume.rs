//! Resuming a turn an earlier attempt may have pasted: before pasting, a takeover looks at the
//! turn's traces on the host so that the message reaches the agent exactly once.
//!
//! A worker can die (SIGKILL) between its paste and the commit of `delivered_at`, or the
//! delivery write can fail: the next attempt then claims a turn whose row says "not delivered"
//! although the agent may have it. A takeover therefore:
//! - does not paste when any file of the turn exists (`.ack`, `.partial`, `.events`, `.md`), at
//!   the top of the spool or in `done/`: the agent received the envelope — watch for the reply;
//! - when an earlier attempt recorded its Enter (`<turn>.entered`, written just before the first
//!   Enter) but no file of the agent exists yet, waits for a receipt as long as that attempt
//!   would have (`ack_timeout` × `enter_attempts`): an agent with a slow receipt hook already
//!   has the message, and a second paste would be a second submission. The marker also makes
//!   an SSH host agent's `run` (which does not know the attempt number) resume this way;
//! - otherwise clears the agent's input line before pasting (Ctrl-U, twice per line of the
//!   envelope): an envelope pasted by the dead attempt whose Enter never came would otherwise
//!   join the new paste into one corrupted submission. The screen cannot tell: agents show a
//!   long paste as a placeholder (`[Pasted text #1]`, the demo agent's `[pasted N bytes]`).

use crate::spool::{EXTENSIONS, SpoolDir};
use uuid::Uuid;

/// Any file of the turn, live or settled in `done/`: the agent received it.
pub fn received(spool: &SpoolDir, turn: Uuid) -> bool {
    EXTENSIONS
        .iter()
        .any(|ext| spool.path(turn, ext).exists() || spool.done_path(turn, ext).exists())
}

/// Ctrl-U presses that clear an input holding `lines` lines of pasted text.
pub fn clear_presses(lines: usize) -> usize {
    2 * lines + 1
}
