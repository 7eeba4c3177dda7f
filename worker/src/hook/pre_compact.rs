//! `paliadin-hook pre-compact` and `paliadin-hook post-compact` (Claude Code's `PreCompact` and
//! `PostCompact`): Claude summarises the conversation to make room in the model's window, by
//! itself when the window is nearly full (`trigger: "auto"`) or on `/compact` (`"manual"`). That
//! takes a model call of its own, so for a while nothing else happens; the person should read
//! "compacting the conversation" rather than a turn that looks stuck.
//!
//! Each hook appends one status line to the pending turn's `<turn_id>.events`
//! (`docs/agent-protocol.md` §3): `{"type":"status","state":"compacting","trigger":"auto"}`
//! before, `{"type":"status","state":"compacted","trigger":"auto"}` after. A worker that does
//! not know status lines skips them (it reads `activity` lines only). Without a pending turn (a
//! `/compact` typed between turns) there is nobody to tell: the hooks do nothing.
//!
//! Claude Code 2.1.197 sends (checked in its binary): the common fields (`session_id`,
//! `transcript_path`, `cwd`, …), `hook_event_name`, `trigger` (`manual` | `auto`, also the
//! matcher) and `custom_instructions` (`PreCompact`) or `compact_summary` (`PostCompact`).
//! `PreCompact`'s standard output would be added to the summary's instructions, so these hooks
//! print nothing; `PostCompact` does not fire when the compaction fails.

use super::files::{Spool, append};
use super::json::{Json, Map, dumps_compact};

/// `PreCompact`: the compaction starts.
pub fn handle_pre(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    report(event, spool, "compacting")
}

/// `PostCompact`: the compaction is done.
pub fn handle_post(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    report(event, spool, "compacted")
}

fn report(event: &Map, spool: &Spool, state: &str) -> anyhow::Result<Option<Json>> {
    let Some(pending) = spool.read_pending(event) else {
        return Ok(None);
    };
    if spool.concluded(pending.turn) {
        return Ok(None);
    }
    let line = dumps_compact(&Json::Object(status(event, state))) + "\n";
    append(&spool.path(pending.turn, "events"), &line)?;
    Ok(None)
}

/// The status line's fields: the state and, when Claude said which, the trigger.
fn status(event: &Map, state: &str) -> Map {
    let trigger = event
        .get("trigger")
        .and_then(Json::as_str)
        .filter(|t| matches!(*t, "auto" | "manual"))
        .unwrap_or("unknown");
    Map::from_pairs([
        ("type", Json::str("status")),
        ("state", Json::str(state)),
        ("trigger", Json::str(trigger)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_a_known_trigger_only() {
        let line = |trigger: &str| {
            let event = Map::from_pairs([("trigger", Json::str(trigger))]);
            dumps_compact(&Json::Object(status(&event, "compacting")))
        };
        assert_eq!(
            line("auto"),
            r#"{"type":"status","state":"compacting","trigger":"auto"}"#
        );
        assert!(line("manual").contains(r#""trigger":"manual""#));
        assert!(line("rm -rf /").contains(r#""trigger":"unknown""#));
    }
}
