//! Permission requests: what an agent asks before a tool runs, and the person's answer — the
//! spool files `<turn>.perm-<n>.json` (agent → worker) and `<turn>.perm-<n>.decision`
//! (worker → agent), both JSON, both parsed here with bounds (`docs/agent-protocol.md` §7).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Requests one turn may make (`n` in `1..=MAX_REQUESTS`).
pub const MAX_REQUESTS: u32 = 100;
/// The longest request file the worker reads.
pub const MAX_REQUEST_FILE: usize = 64 * 1024;
/// The summary shown to the person, in characters (longer ones are cut, marked with `…`).
pub const MAX_SUMMARY_CHARS: usize = 4000;
/// The longest message the person may send with a decision, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// An answer the person can give.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Decision {
    Allow,
    /// Allow, and let the agent remember the rule it suggested (Claude Code's "always allow").
    AllowAlways,
    Deny,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Allow, Decision::AllowAlways, Decision::Deny];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::AllowAlways => "allow_always",
            Decision::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DecidedBy {
    /// The turn's owner, through the API.
    Owner,
    /// Nobody answered before the request expired: denied.
    Expired,
    /// The worker refused a request it could not show (malformed); never stored.
    Worker,
}

impl DecidedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::Owner => "owner",
            DecidedBy::Expired => "expired",
            DecidedBy::Worker => "worker",
        }
    }

    pub fn parse(s: &str) -> Option<DecidedBy> {
        [DecidedBy::Owner, DecidedBy::Expired, DecidedBy::Worker]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A request as the agent wrote it, validated: `{"tool", "summary", "options"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAsk")]
pub struct PermissionAsk {
    /// The tool that wants to run, `[A-Za-z0-9_.:/-]{1,64}`.
    pub tool: String,
    /// What it will do, as the agent summarised it (cut to [`MAX_SUMMARY_CHARS`]).
    pub summary: String,
    /// The answers offered: always `allow` and `deny`, plus `allow_always` when the agent
    /// offered a rule to remember.
    pub options: Vec<Decision>,
}

#[derive(Deserialize)]
struct RawAsk {
    tool: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    options: Vec<String>,
}

/// Why a request file was refused (the worker then denies it, saying so).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed permission request: {0}")]
pub struct AskError(pub String);

impl PermissionAsk {
    /// Parses a request file. Unknown options are ignored; `allow` and `deny` are always there.
    pub fn parse(bytes: &[u8]) -> Result<PermissionAsk, AskError> {
        if bytes.len() > MAX_REQUEST_FILE {
            return Err(AskError(format!(
                "{} bytes, more than {MAX_REQUEST_FILE}",
                bytes.len()
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| AskError(e.to_string()))
    }

    /// The request file's JSON (what an agent writes; the demo agent and tests use it).
    pub fn render(&self) -> String {
        serde_json::to_string(self).expect("a request serialises")
    }

    /// Whether the agent offers this answer.
    pub fn offers(&self, d: Decision) -> bool {
        self.options.contains(&d)
    }
}

impl TryFrom<RawAsk> for PermissionAsk {
    type Error = AskError;

    /// The checks of every request, from a file or from a host agent's line.
    fn try_from(raw: RawAsk) -> Result<PermissionAsk, AskError> {
        if !valid_tool(&raw.tool) {
            return Err(AskError(format!(
                "tool {:?} is not 1..=64 of [A-Za-z0-9_.:/-]",
                shorten(&raw.tool, 80)
            )));
        }
        let mut options = vec![Decision::Allow];
        if raw
            .options
            .iter()
            .any(|o| o == Decision::AllowAlways.as_str())
        {
            options.push(Decision::AllowAlways);
        }
        options.push(Decision::Deny);
        Ok(PermissionAsk {
            tool: raw.tool,
            summary: shorten(&clean(&raw.summary), MAX_SUMMARY_CHARS),
            options,
        })
    }
}

/// The decision file's JSON: `{"decision", "message", "by"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionAnswer {
    pub decision: Decision,
    /// Said to the agent with a denial (the person's words, or why it was denied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub by: DecidedBy,
}

impl PermissionAnswer {
    /// A denial nobody chose: the request expired, or could not be shown.
    pub fn denied(by: DecidedBy, why: &str) -> PermissionAnswer {
        PermissionAnswer {
            decision: Decision::Deny,
            message: Some(why.to_owned()),
            by,
        }
    }

    pub fn render(&self) -> String {
        serde_json::to_string(self).expect("an answer serialises")
    }

    pub fn parse(bytes: &[u8]) -> Result<PermissionAnswer, AskError> {
        serde_json::from_slice(bytes).map_err(|e| AskError(e.to_string()))
    }
}

/// The person's message with a decision: trimmed, control characters refused, bounded.
pub fn decision_message(m: &str) -> Result<Option<String>, String> {
    let m = m.trim();
    if m.is_empty() {
        return Ok(None);
    }
    if m.chars().count() > MAX_MESSAGE_CHARS {
        return Err(format!(
            "the message is longer than {MAX_MESSAGE_CHARS} characters"
        ));
    }
    if m.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("the message contains control characters".into());
    }
    Ok(Some(m.to_owned()))
}

fn valid_tool(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b))
}

/// Control characters other than LF and TAB become spaces: the summary is shown, never run.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_parses_with_its_options_and_bounds() {
        let ask = PermissionAsk::parse(
            br#"{"tool":"Bash","summary":"touch /tmp/x\u001b[2J","options":["allow_always","frobnicate"]}"#,
        )
        .unwrap();
        assert_eq!(ask.tool, "Bash");
        assert_eq!(ask.summary, "touch /tmp/x [2J");
        assert_eq!(
            ask.options,
            [Decision::Allow, Decision::AllowAlways, Decision::Deny]
        );
        let plain = PermissionAsk::parse(br#"{"tool":"mcp__x__y"}"#).unwrap();
        assert_eq!(plain.options, [Decision::Allow, Decision::Deny]);
        let long = format!(r#"{{"tool":"Read","summary":"{}"}}"#, "é".repeat(5000));
        let cut = PermissionAsk::parse(long.as_bytes()).unwrap().summary;
        assert_eq!(cut.chars().count(), MAX_SUMMARY_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for bad in [
            &b"not json"[..],
            br#"{"summary":"no tool"}"#,
            br#"{"tool":""}"#,
            br#"{"tool":"rm -rf /"}"#,
            br#"{"tool":"Bash","summary":7}"#,
        ] {
            assert!(PermissionAsk::parse(bad).is_err(), "{bad:?}");
        }
        let huge = vec![b' '; MAX_REQUEST_FILE + 1];
        assert!(PermissionAsk::parse(&huge).is_err());
    }

    #[test]
    fn answers_round_trip_and_messages_are_checked() {
        let a = PermissionAnswer {
            decision: Decision::AllowAlways,
            message: None,
            by: DecidedBy::Owner,
        };
        assert_eq!(PermissionAnswer::parse(a.render().as_bytes()).unwrap(), a);
        assert_eq!(a.render(), r#"{"decision":"allow_always","by":"owner"}"#);
        assert_eq!(decision_message("  ").unwrap(), None);
        assert_eq!(decision_message(" no ").unwrap().as_deref(), Some("no"));
        assert!(decision_message("a\u{7}b").is_err());
        assert!(decision_message(&"x".repeat(1001)).is_err());
    }
}
