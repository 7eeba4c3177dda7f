//! The worker's checks of this machine, for a served local host: tmux present and its version,
//! the spool directory's owner and mode, the agent command found, and — when the agent is
//! Claude Code — the Paliadin skill and hooks installed for this account.

use crate::tmux::TmuxConfig;
use crate::tmux::config::current_uid;
use paliadin_shared::doctor::Report;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// tmux runs and is at least 3.0 (checked against 3.3a; `docs/tmux-driving.md`).
pub fn tmux(report: &mut Report, cfg: &TmuxConfig) {
    let bin = cfg.tmux_bin.display().to_string();
    match std::process::Command::new(&cfg.tmux_bin).arg("-V").output() {
        Err(e) => report.fail(
            "tmux present",
            format!("cannot run {bin}: {e}"),
            "apt-get install tmux (or set the PATH the worker runs with)",
        ),
        Ok(out) => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let major = version
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse::<u32>().ok());
            match major {
                Some(m) if m >= 3 => report.ok("tmux present", version),
                _ => report.warn(
                    "tmux present",
                    format!("{version:?}: Paliadin is tested with tmux 3.x"),
                    "install tmux 3.x",
                ),
            }
        }
    }
}

/// The spool directory: this account's, and nobody else's (mode 0700).
pub fn spool(report: &mut Report, dir: &Path) {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.warn(
                "spool directory",
                format!("{shown} does not exist yet"),
                "none needed: the worker creates it (mode 0700) when it starts",
            );
            return;
        }
        Err(e) => {
            report.fail(
                "spool directory",
                format!("{shown}: {e}"),
                "make it reachable by the worker's account",
            );
            return;
        }
    };
    let me = current_uid();
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.is_dir() {
        report.fail(
            "spool directory",
            format!("{shown} is not a directory"),
            "remove it or point PALIADIN_SPOOL_DIR elsewhere",
        );
    } else if meta.uid().to_string() != me {
        report.fail(
            "spool directory",
            format!(
                "{shown} is owned by uid {}, the worker runs as uid {me}",
                meta.uid()
            ),
            format!("chown the directory to the worker's account (uid {me})"),
        );
    } else if mode & 0o077 != 0 {
        report.fail(
            "spool directory",
            format!("{shown} has mode {mode:04o}: other accounts can read or forge replies"),
            format!("chmod 700 {shown}"),
        );
    } else {
        report.ok(
            "spool directory",
            format!("{shown}, mode {mode:04o}, owned by uid {me}"),
        );
    }
}

/// Paliadin's own tmux server: its socket's directory is private to this account (the
/// worker creates it at start, mode 0700, and refuses one that others can write).
pub fn socket(report: &mut Report, socket: &crate::tmux::Socket) {
    let dir = socket.path().parent().unwrap_or(Path::new("/"));
    if !dir.exists() {
        report.ok(
            "tmux socket",
            format!("{socket} (its directory is created, mode 0700, when the worker starts)"),
        );
        return;
    }
    match paliadin_shared::trust::check_tree(dir) {
        Ok(()) => {
            let running = if socket.server_runs() {
                "running"
            } else {
                "not running"
            };
            report.ok(
                "tmux socket",
                format!("{socket}: Paliadin's own server, {running}"),
            );
        }
        Err(e) => report.fail(
            "tmux socket",
            e.to_string(),
            format!(
                "chmod 700 {} as the worker's account, or set PALIADIN_TMUX_SOCKET",
                dir.display()
            ),
        ),
    }
}

/// The agent command's program exists and is executable on the `PATH` the agent gets
/// (`TmuxConfig::agent_env`, not just the worker's own). Returns its path when found.
pub fn agent(report: &mut Report, cfg: &TmuxConfig, why: &str) -> Option<PathBuf> {
    let Some(program) = cfg.agent_argv.first() else {
        report.fail("agent command", "empty", "set PALIADIN_AGENT_CMD");
        return None;
    };
    let path = cfg.agent_env.get("PATH").unwrap_or("");
    match find_program(program, path) {
        Some(p) => {
            report.ok("agent command", format!("{} ({why})", p.display()));
            Some(p)
        }
        None => {
            report.fail(
                "agent command",
                format!("{program} is not found or not executable on the agent's PATH ({why})"),
                "install it, set PALIADIN_AGENT_CMD to its full path, or PATH in PALIADIN_AGENT_ENV",
            );
            None
        }
    }
}

/// For Claude Code: the skill and its hooks are installed in the agent's `~/.claude` (`home`:
/// the `HOME` the agent gets): `SKILL.md`, and `paliadin-hook <hook>` registered in
/// `settings.json` for every hook event, naming a program that exists.
pub fn claude_skill(report: &mut Report, program: &Path, home: Option<&str>) {
    if program.file_name().is_none_or(|n| n != "claude") {
        report.ok("Claude Code skill", "not needed (the agent is not claude)");
        return;
    }
    let fix = "run /usr/share/paliadin/skill/install.sh as the worker's account \
               (deploy/skill/install.sh; docs/claude-code.md)";
    let Some(home) = home.filter(|h| !h.is_empty()).map(PathBuf::from) else {
        report.fail("Claude Code skill", "HOME is not set", fix);
        return;
    };
    let skill = home.join(".claude/skills/paliadin/SKILL.md");
    let settings = home.join(".claude/settings.json");
    let text = std::fs::read_to_string(&settings).unwrap_or_default();
    if !skill.is_file() {
        report.fail(
            "Claude Code skill",
            format!("{} is missing: replies would never arrive", skill.display()),
            fix,
        );
        return;
    }
    match registered_hook(&text) {
        Ok(bin) if is_executable(&bin) => report.ok(
            "Claude Code skill",
            format!(
                "skill installed in {}; hooks run {}",
                home.join(".claude").display(),
                bin.display()
            ),
        ),
        Ok(bin) => report.fail(
            "Claude Code skill",
            format!(
                "the hook program {} registered in {} is missing or not executable",
                bin.display(),
                settings.display()
            ),
            fix,
        ),
        // An earlier version's Python hooks still work where python3 is installed.
        Err(_) if text.contains("/skills/paliadin/hooks/") => report.warn(
            "Claude Code skill",
            format!(
                "{} registers an earlier version's Python hooks (a python3 start per hook)",
                settings.display()
            ),
            fix,
        ),
        Err(missing) => report.fail(
            "Claude Code skill",
            format!(
                "paliadin-hook is not registered in {} for {}",
                settings.display(),
                missing.join(", ")
            ),
            fix,
        ),
    }
}

/// The `paliadin-hook` program `settings.json` registers for all seven hook events
/// (`<path>/paliadin-hook <hook>`, as `install.sh` writes it), or the events that lack it.
fn registered_hook(settings: &str) -> Result<PathBuf, Vec<&'static str>> {
    let value: serde_json::Value = serde_json::from_str(settings).unwrap_or_default();
    let mut found = None;
    let mut missing = Vec::new();
    for (event, hook) in [
        ("UserPromptSubmit", "user-prompt-submit"),
        ("PostToolUse", "post-tool-use"),
        ("Stop", "stop"),
        ("PermissionRequest", "permission-request"),
        ("StopFailure", "stop-failure"),
        ("PreCompact", "pre-compact"),
        ("PostCompact", "post-compact"),
    ] {
        let groups = value["hooks"][event].as_array().into_iter().flatten();
        let commands = groups.flat_map(|g| g["hooks"].as_array().into_iter().flatten());
        let bin = commands
            .filter_map(|h| shell_words::split(h["command"].as_str()?).ok())
            .find_map(|words| match words.as_slice() {
                [bin, name] if name == hook && bin.ends_with("/paliadin-hook") => {
                    Some(PathBuf::from(bin))
                }
                _ => None,
            });
        match bin {
            Some(bin) => found = Some(bin),
            None => missing.push(event),
        }
    }
    match found {
        Some(bin) if missing.is_empty() => Ok(bin),
        _ => Err(missing),
    }
}

fn is_executable(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `program` as given when it has a slash, else the first executable of that name on PATH.
fn find_program(program: &str, path: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}
