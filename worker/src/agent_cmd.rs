//! Choosing the agent command: `PALIADIN_AGENT_CMD` if set; otherwise the program of the agent
//! `PALIADIN_AGENT` names (`claude`, `codex`: as found on `PATH`); otherwise `claude` when it is
//! on `PATH`; otherwise the project's `paliadin-demo-agent` (next to this binary, or on `PATH`).

use std::path::{Path, PathBuf};

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The command line to start in new sessions, and a note for the log on how it was chosen.
pub fn resolve(configured: Option<&str>) -> (String, &'static str) {
    resolve_for(configured, None)
}

/// [`resolve`] for the agent `agent` names (`PALIADIN_AGENT`, or an owner's line in an
/// `accounts://` map): without a command, Claude Code and Codex are their own programs.
pub fn resolve_for(configured: Option<&str>, agent: Option<&str>) -> (String, &'static str) {
    if let Some(cmd) = configured.filter(|c| !c.trim().is_empty()) {
        return (cmd.to_owned(), "PALIADIN_AGENT_CMD");
    }
    match agent.map(str::trim) {
        Some("codex") => return ("codex".to_owned(), "PALIADIN_AGENT=codex"),
        Some("claude") => return ("claude".to_owned(), "PALIADIN_AGENT=claude"),
        _ => {}
    }
    if on_path("claude").is_some() {
        if !skill_installed() {
            tracing::warn!(
                "claude is on PATH but the Paliadin skill is not installed in ~/.claude; \
                 run deploy/skill/install.sh (docs/claude-code.md) or replies will not arrive"
            );
        }
        return ("claude".to_owned(), "claude found on PATH");
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("paliadin-demo-agent")));
    if let Some(p) = sibling.filter(|p| is_executable(p)) {
        return (
            shell_words::quote(&p.to_string_lossy()).into_owned(),
            "demo agent next to the worker",
        );
    }
    ("paliadin-demo-agent".to_owned(), "demo agent on PATH")
}

/// Is the Paliadin skill installed for this user (`~/.claude/skills/paliadin/SKILL.md`)?
fn skill_installed() -> bool {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .is_some_and(|h| h.join(".claude/skills/paliadin/SKILL.md").is_file())
}
