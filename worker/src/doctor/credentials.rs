//! `doctor`: the agent's model account has credentials. Claude Code without any fails every
//! turn with `agent_error` `authentication_failed`, so an operator should hear it before a
//! person does. Only whether something is set is looked at; no value is ever printed.

use super::Report;
use crate::tmux::AgentEnv;
use std::path::{Path, PathBuf};

/// Variables that carry Claude Code's credentials (any one is enough).
pub const CREDENTIAL_VARS: [&str; 3] = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

/// For Claude Code: an API key or token in the agent's environment, or a login
/// (`~/.claude/.credentials.json`, written by `claude /login`) or an `apiKeyHelper` in its
/// `~/.claude/settings.json`, under the agent's `HOME`.
pub fn claude_credentials(report: &mut Report, program: &Path, env: &AgentEnv) {
    const CHECK: &str = "agent credentials";
    if program.file_name().is_none_or(|n| n != "claude") {
        report.ok(CHECK, "not needed (the agent is not claude)");
        return;
    }
    if let Some(var) = CREDENTIAL_VARS
        .iter()
        .find(|v| env.get(v).is_some_and(|s| !s.trim().is_empty()))
    {
        report.ok(CHECK, format!("{var} is set in the agent's environment"));
        return;
    }
    let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    if let Some(home) = &home {
        let login = home.join(".claude/.credentials.json");
        if login.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
            report.ok(CHECK, format!("a login is present ({})", login.display()));
            return;
        }
        let settings = std::fs::read_to_string(home.join(".claude/settings.json"));
        if settings.is_ok_and(|s| s.contains("\"apiKeyHelper\"")) {
            report.ok(
                CHECK,
                "an apiKeyHelper is configured in the agent's settings.json",
            );
            return;
        }
    }
    report.fail(
        CHECK,
        format!(
            "no {} in the agent's environment and no login in {}: every turn would fail \
             authentication_failed",
            CREDENTIAL_VARS.join(" / "),
            home.map_or("the agent's HOME (unset)".to_owned(), |h| {
                h.join(".claude").display().to_string()
            })
        ),
        "set ANTHROPIC_API_KEY for the worker (passed to the agent; docs/operations.md, \
         \"The model's API fails\"), or log in once as the agent's account with `claude /login`",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use paliadin_shared::doctor::Status;

    fn check(vars: &[(&str, &str)], program: &str) -> (Status, String) {
        let vars = vars.iter().map(|(k, v)| ((*k).into(), (*v).into()));
        let env = AgentEnv::from_vars(vars, None).unwrap();
        let mut report = Report::default();
        claude_credentials(&mut report, Path::new(program), &env);
        let c = report.checks.pop().unwrap();
        (c.status, c.detail)
    }

    #[test]
    fn a_key_or_a_login_is_enough_and_no_value_is_printed() {
        let home = std::env::temp_dir().join(format!("paliadin-cred-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(home.join(".claude")).unwrap();
        let h = home.to_str().unwrap();
        let secret = "sk-ant-secret-value-1234";
        let (status, detail) = check(
            &[("HOME", h), ("ANTHROPIC_API_KEY", secret)],
            "/usr/bin/claude",
        );
        assert_eq!(status, Status::Ok, "{detail}");
        assert!(!detail.contains(secret), "{detail}");
        let (status, detail) = check(&[("HOME", h)], "/usr/bin/claude");
        assert_eq!(status, Status::Fail, "{detail}");
        std::fs::write(home.join(".claude/.credentials.json"), "{}").unwrap();
        let (status, detail) = check(&[("HOME", h)], "/usr/bin/claude");
        assert_eq!(status, Status::Ok, "{detail}");
        assert!(!detail.contains("{}"), "{detail}");
        let (status, _) = check(&[], "/usr/bin/paliadin-demo-agent");
        assert_eq!(status, Status::Ok);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
