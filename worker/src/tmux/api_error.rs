//! Recognising, on the agent's screen, a model API error no hook reported (an older Claude
//! Code without `StopFailure`, another agent): the turn then ends `agent_error` after
//! `dialog_quiet` instead of waiting for its time limit.
//!
//! Claude Code 2.1.197 shows, under the turn's prompt (measured with the scripted model,
//! `docs/claude-code.md`, "When the model's API fails"):
//! `⎿  Invalid API key · Fix external API key` (401),
//! `⎿  Context limit reached · /compact or /clear to continue` (prompt too long),
//! `● API Error: Request rejected (429) · …`, `● API Error: 529 Overloaded. …`, and
//! `Credit balance is too low` (billing); and, read in its binary: `Your organization has
//! disabled Claude subscription access …` (`oauth_org_not_allowed`), `There's an issue with the
//! selected model …` (`model_not_found`), `API Error: Claude's response exceeded the …
//! output token maximum …` (`max_output_tokens`). Only lines below the turn's own envelope
//! count, and only once the agent has stopped working (no `esc to interrupt` footer, no retry
//! line): earlier turns' errors stay on the screen.

use paliadin_shared::domain::agent_failure::AgentFailure;
use uuid::Uuid;

/// Screen texts of an API error that ended the turn, and their kind (first match wins).
const ERRORS: [(&str, &str); 11] = [
    ("Invalid API key", "authentication_failed"),
    (
        "Your organization has disabled Claude subscription access",
        "oauth_org_not_allowed",
    ),
    (
        "There's an issue with the selected model",
        "model_not_found",
    ),
    ("output token maximum", "max_output_tokens"),
    ("Credit balance is too low", "billing_error"),
    ("Context limit reached", "invalid_request"),
    ("Prompt is too long", "invalid_request"),
    ("API Error: Request rejected (429)", "rate_limit"),
    ("API Error: 529", "overloaded"),
    ("Overloaded", "overloaded"),
    ("API Error:", "server_error"),
];

/// The API error shown below `turn`'s envelope on `screen`, if any.
pub fn failure(screen: &str, turn: Uuid) -> Option<AgentFailure> {
    let envelope = format!("[PALIADIN:{}]", turn.hyphenated());
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines.iter().rposition(|l| l.contains(&envelope))?;
    let below = &lines[at + 1..];
    // Still working (Claude's footer says `esc to interrupt`) or retrying: not over yet.
    let working = below.iter().any(|l| l.contains("esc to interrupt"));
    if working || super::retrying::retry(&below.join("\n")).is_some() {
        return None;
    }
    below.iter().find_map(|line| {
        let text = line.trim_start().trim_start_matches(['⎿', '●', '⏺']).trim();
        let (_, kind) = ERRORS.iter().find(|(needle, _)| {
            text.starts_with(*needle) || (text.starts_with("API Error") && text.contains(*needle))
        })?;
        Some(AgentFailure::new(kind, text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_error_under_this_turns_prompt_only() {
        let (old, turn) = (Uuid::new_v4(), Uuid::new_v4());
        let screen = format!(
            "❯ [PALIADIN:{old}] earlier\n  ⎿  Invalid API key · Fix external API key\n\n\
             ❯ [PALIADIN:{turn}] now\n\n● API Error: 529 Overloaded. This is a server-side \
             issue\n\n✻ Churned for 1s\n\n❯ \n"
        );
        let f = failure(&screen, turn).unwrap();
        assert_eq!(f.kind, "overloaded");
        assert!(f.message.starts_with("API Error: 529 Overloaded"), "{f:?}");
        let f = failure(&screen, old).unwrap();
        assert_eq!(f.kind, "authentication_failed");
        let answered = format!("❯ [PALIADIN:{turn}] now\n● Replied.\n");
        assert_eq!(failure(&answered, turn), None);
        let retrying = format!(
            "❯ [PALIADIN:{turn}] now\n✻ API error · Retrying in 1s · attempt 1/10\n\
             ● API Error: 529 Overloaded.\n"
        );
        assert_eq!(failure(&retrying, turn), None);
        let working = format!("{screen}  esc to interrupt · ← for agents\n");
        assert_eq!(failure(&working, turn), None);
        let billing = format!("❯ [PALIADIN:{turn}] x\n  ⎿  Credit balance is too low\n");
        assert_eq!(failure(&billing, turn).unwrap().kind, "billing_error");
        let cut = format!(
            "❯ [PALIADIN:{turn}] x\n● API Error: Claude's response exceeded the 32000 output \
             token maximum. To configure this behavior, set …\n"
        );
        assert_eq!(failure(&cut, turn).unwrap().kind, "max_output_tokens");
        let model = format!(
            "❯ [PALIADIN:{turn}] x\n  ⎿  There's an issue with the selected model (m). It may \
             not exist or you may not have access to it.\n"
        );
        assert_eq!(failure(&model, turn).unwrap().kind, "model_not_found");
        assert_eq!(failure("no envelope", turn), None);
    }
}
