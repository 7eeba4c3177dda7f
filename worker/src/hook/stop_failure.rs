//! `paliadin-hook stop-failure` (Claude Code's `StopFailure`): the model's API ended the turn
//! with an error (rate limit, overload, a rejected key, a request too long, …), so no `Stop`
//! comes and no reply will. The hook writes `<turn_id>.failure` (`{"kind", "message"}`,
//! `docs/agent-protocol.md` §3) atomically for the pending turn, forgets the turn, and lets
//! Claude stop (busy marker off, `.stopped-` stamped): the worker ends the turn at once with
//! `agent_error`, and the next turn can be pasted.
//!
//! Claude Code 2.1.197 sends (checked in its binary): `session_id`, `transcript_path`, `cwd`,
//! `hook_event_name: "StopFailure"`, `error` (`authentication_failed`,
//! `oauth_org_not_allowed`, `billing_error`, `rate_limit`, `overloaded`, `invalid_request`,
//! `model_not_found`, `server_error`, `max_output_tokens`, `unknown`), optional
//! `error_details` and `last_assistant_message` (the error text it shows). Its output and exit
//! status are ignored.

use super::files::{Spool, write_atomic};
use super::json::{Json, Map};
use paliadin_shared::domain::agent_failure::AgentFailure;

pub fn handle(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let result = record(event, spool);
    spool.clear_busy()?;
    result.map(|()| None)
}

/// Writes the pending turn's `.failure`, unless the turn is already concluded.
fn record(event: &Map, spool: &Spool) -> anyhow::Result<()> {
    let Some(pending) = spool.read_pending(event) else {
        return Ok(());
    };
    let turn = pending.turn;
    spool.clear_pending(event)?;
    if spool.concluded(turn) {
        return Ok(());
    }
    let failure = failure_of(event);
    write_atomic(
        &spool.path(turn, "failure"),
        failure.render().as_bytes(),
        true,
    )?;
    Ok(())
}

/// The failure an event describes: its `error` kind, and Claude's own words about it.
fn failure_of(event: &Map) -> AgentFailure {
    let text = |key| {
        event
            .get(key)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut kind = text("error").unwrap_or("unknown");
    let message = text("last_assistant_message")
        .or_else(|| text("error_details"))
        .unwrap_or("the model's API returned an error");
    // Claude Code 2.1.197 reports a 529 it gave up retrying as `server_error`: name it for what
    // it is, so the person is told to wait a minute rather than that the service broke.
    if kind == "server_error" && message.contains("529 Overloaded") {
        kind = "overloaded";
    }
    AgentFailure::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_takes_claudes_words_and_a_clean_kind() {
        let event =
            |pairs: [(&str, &str); 2]| Map::from_pairs(pairs.map(|(k, v)| (k, Json::str(v))));
        let f = failure_of(&event([
            ("error", "rate_limit"),
            ("last_assistant_message", "API Error: 429 slow down"),
        ]));
        assert_eq!(
            (f.kind.as_str(), f.message.as_str()),
            ("rate_limit", "API Error: 429 slow down")
        );
        let f = failure_of(&event([
            ("error", "server_error"),
            (
                "last_assistant_message",
                "API Error: 529 Overloaded. This is a server-side issue",
            ),
        ]));
        assert_eq!(f.kind, "overloaded");
        let f = failure_of(&event([("error", "x y"), ("error_details", "details")]));
        assert_eq!(
            (f.kind.as_str(), f.message.as_str()),
            ("unknown", "details")
        );
    }
}
