//! `paliadin-worker doctor`: the shared database and queue checks
//! ([`paliadin_shared::doctor`]), then, for a served local host, this machine's tmux, spool
//! directory, agent command and Claude Code skill ([`local`]), and each remote host over SSH
//! with its host agent's protocol ([`remote`]), and the account map of an `accounts://` host. Reads the same settings the worker runs with.

pub mod credentials;
pub mod local;
pub mod remote;

use crate::agent_cmd;
use crate::cli::Cli;
use crate::hosts::{self, Address};
use crate::tmux::TmuxConfig;
use paliadin_shared::doctor::{self, Report};

/// Runs every check `cli`'s settings call for.
pub async fn run(cli: &Cli) -> Report {
    let mut report = Report::default();
    let specs = match hosts::parse(cli.hosts.hosts.as_deref(), &cli.local_host) {
        Ok(s) => s,
        Err(e) => {
            report.fail(
                "hosts configured",
                e.to_string(),
                "fix PALIADIN_HOSTS (docs/configuration.md, docs/hosts.md)",
            );
            Vec::new()
        }
    };
    if let Err(e) = cli.hosts.draining(&specs) {
        report.fail("hosts configured", e.to_string(), "fix PALIADIN_DRAIN");
    }
    let pool = doctor::database(&mut report, Some(&cli.database_url)).await;
    if let Some(pool) = &pool {
        let names: Vec<_> = specs.iter().map(|s| s.name.clone()).collect();
        doctor::queues(&mut report, pool, &names).await;
        pool.close().await;
    }
    if specs.iter().any(|s| s.address == Address::Local) {
        local_checks(&mut report, cli);
    }
    let opts = cli.hosts.link_options();
    for spec in &specs {
        match &spec.address {
            Address::Ssh(target) => {
                remote::host(&mut report, spec.name.as_str(), target, &opts).await
            }
            Address::Accounts(target) => accounts(&mut report, spec.name.as_str(), target),
            Address::Local => {}
        }
    }
    report
}

/// An `accounts://` host: its account map can be used (each account's host agent is checked
/// by its first turn, which logs why it cannot start).
fn accounts(report: &mut Report, name: &str, target: &crate::accounts::AccountsTarget) {
    let check = format!("host {name} account map");
    match crate::accounts::AccountMap::new(&target.map).current() {
        Ok(map) => report.ok(
            &check,
            format!("{}: {} owners", target.display(), map.len()),
        ),
        Err(e) => report.fail(
            &check,
            e,
            "write one `<user id> <account> [<agent> [<command>]]` line per owner, owned by root, mode 0644 \
             (docs/security.md, \"Per-owner isolation\")",
        ),
    }
}

fn local_checks(report: &mut Report, cli: &Cli) {
    let (cmd, why) = agent_cmd::resolve(cli.agent_cmd.as_deref());
    let mut cfg = match TmuxConfig::from_agent_cmd(&cmd) {
        Ok(c) => c,
        Err(e) => {
            report.fail(
                "agent command",
                format!("{cmd:?}: {e}"),
                "fix PALIADIN_AGENT_CMD",
            );
            return;
        }
    };
    if let Some(dir) = &cli.spool_dir {
        cfg.spool_dir = dir.clone();
    }
    cfg.socket = cli.tmux_socket.clone();
    match crate::tmux::AgentEnv::from_process(cli.agent_env.as_deref()) {
        Ok(env) => {
            report.ok("agent environment", format!("{env:?}"));
            cfg.agent_env = env;
        }
        Err(e) => report.fail(
            "agent environment",
            e.to_string(),
            "fix PALIADIN_AGENT_ENV (docs/tmux-driving.md, \"The agent's environment\")",
        ),
    }
    match cli.launch.launch(cfg.agent_argv.first().map(String::as_str)) {
        Ok(launch) if launch.can_resume() => report.ok(
            "agent conversations",
            format!("{}: each conversation resumes after a restart of its agent", launch.kind.as_str()),
        ),
        Ok(launch) => report.warn(
            "agent conversations",
            format!(
                "{}: this agent does not remember earlier turns after a restart",
                launch.kind.as_str()
            ),
            "set PALIADIN_AGENT (claude, demo) or PALIADIN_AGENT_RESUME_ARGS (docs/claude-code.md, \"Conversations\")",
        ),
        Err(e) => report.fail("agent conversations", e, "fix PALIADIN_AGENT / PALIADIN_AGENT_*_ARGS"),
    }
    local::tmux(report, &cfg);
    local::socket(report, &crate::tmux::Socket::resolve(cfg.socket.as_deref()));
    local::spool(report, &cfg.spool_dir);
    if let Some(program) = local::agent(report, &cfg, why) {
        local::claude_skill(report, &program, cfg.agent_env.get("HOME"));
        credentials::claude_credentials(report, &program, &cfg.agent_env);
    }
}
