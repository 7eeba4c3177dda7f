//! Per-owner isolation on one machine: every owner's agent runs under a Unix account of its own,
//! driven through the host agent (`paliadin-shim serve`) started as that account by a privilege
//! helper (`sudo`), over a pipe. Same protocol, same [`crate::ssh::Link`] as a remote host; no
//! ssh. The worker keeps its own account (and `DATABASE_URL`) to itself.
//!
//! Address syntax (one entry of `PALIADIN_HOSTS`, see `docs/hosts.md` and `docs/security.md`):
//! `accounts://MAP[?shim=PATH&sudo=PATH]`, e.g. `accounts:///etc/paliadin/accounts`
//! - `MAP`: the absolute path of the account map, one `<user id> <account> [<agent> [<command>]]`
//!   per line
//!   ([`map`]); written by the operator, never derived from anything a user typed;
//! - `shim`: the absolute path of `paliadin-shim` (default: the one next to the worker), as the
//!   sudoers rule names it;
//! - `sudo`: the privilege helper (default `/usr/bin/sudo`).
//!
//! The worker runs, per account, with an empty environment and `/` as its directory:
//! `sudo -n -u ACCOUNT -- SHIM serve --private --session-prefix P --max-reply-bytes N
//! [--agent-cmd CMD]`; every part a separate argv word, no shell. `--private` makes the host agent
//! keep its spool and workdir in the account's home, which must be closed to others.
//!
//! Layout: [`map`] (the account map, reloaded when it changes); the driver is
//! [`crate::driver::accounts::AccountsDriver`].

pub mod map;

pub use map::{AccountMap, AccountName, Entry, OwnerAgent};

use std::ffi::OsString;
use std::path::PathBuf;

/// An `accounts://` address that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad accounts address {address:?}: {reason}")]
pub struct AccountsError {
    pub address: String,
    pub reason: String,
}

/// Where the account map is and how the worker becomes an agent account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsTarget {
    /// The account map (`<user id> <account> [<agent> [<command>]]` lines).
    pub map: PathBuf,
    /// `paliadin-shim`, by the absolute path the sudoers rule allows.
    pub host_agent: PathBuf,
    /// The privilege helper: `sudo`, or anything that takes the same arguments.
    pub sudo: PathBuf,
}

/// What the worker passes on to every agent account's host agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAgentSettings {
    pub session_prefix: String,
    pub max_reply_bytes: u64,
    /// `PALIADIN_AGENT_CMD` when the operator set it; else the host agent chooses (as on a host).
    pub agent_cmd: Option<String>,
    /// `PALIADIN_AGENT`, `PALIADIN_AGENT_START_ARGS`, `PALIADIN_AGENT_RESUME_ARGS` when set.
    pub launch: crate::tmux::launch::LaunchSettings,
}

impl HostAgentSettings {
    /// The settings of one owner's host agent: the worker's, or the agent (and command) the
    /// account map names for that owner, which replace the worker's agent settings whole.
    pub fn for_owner(&self, agent: Option<&OwnerAgent>) -> HostAgentSettings {
        let Some(a) = agent else {
            return self.clone();
        };
        HostAgentSettings {
            agent_cmd: a.cmd.clone(),
            launch: crate::tmux::launch::LaunchSettings {
                agent: Some(a.agent.as_str().to_owned()),
                ..Default::default()
            },
            ..self.clone()
        }
    }
}

impl AccountsTarget {
    pub fn parse(address: &str) -> Result<AccountsTarget, AccountsError> {
        let err = |reason: &str| AccountsError {
            address: address.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = address
            .strip_prefix("accounts://")
            .ok_or_else(|| err("must start with accounts://"))?;
        let (map, query) = rest.split_once('?').unwrap_or((rest, ""));
        let map =
            crate::ssh::target::percent_decode(map).ok_or_else(|| err("bad percent-encoding"))?;
        let absolute = |p: &str, what: &str| {
            let ok = p.starts_with('/') && !p.split('/').any(|part| part == "..");
            if ok {
                Ok(PathBuf::from(p))
            } else {
                Err(err(&format!("{what} must be an absolute path without ..")))
            }
        };
        let mut t = AccountsTarget {
            map: absolute(&map, "the account map")?,
            host_agent: default_host_agent(),
            sudo: PathBuf::from("/usr/bin/sudo"),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| err("query items are key=value"))?;
            let v =
                crate::ssh::target::percent_decode(v).ok_or_else(|| err("bad percent-encoding"))?;
            match k {
                "shim" => t.host_agent = absolute(&v, "shim")?,
                "sudo" => t.sudo = absolute(&v, "sudo")?,
                _ => return Err(err(&format!("unknown setting {k:?} (shim, sudo)"))),
            }
        }
        Ok(t)
    }

    /// The address without its settings, for logs and the `hosts` table.
    pub fn display(&self) -> String {
        format!("accounts://{}", self.map.display())
    }

    /// The privilege helper's arguments (after the binary) that start `account`'s host agent.
    pub fn args(&self, account: &AccountName, settings: &HostAgentSettings) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "-n".into(),
            "-u".into(),
            account.as_str().into(),
            "--".into(),
            self.host_agent.clone().into(),
            "serve".into(),
            "--private".into(),
            "--session-prefix".into(),
            settings.session_prefix.clone().into(),
            "--max-reply-bytes".into(),
            settings.max_reply_bytes.to_string().into(),
        ];
        if let Some(cmd) = &settings.agent_cmd {
            a.push("--agent-cmd".into());
            a.push(cmd.into());
        }
        a.extend(settings.launch.as_args().into_iter().map(Into::into));
        a
    }
}

/// `paliadin-shim` next to this executable (where the packages and `cargo build` put it).
fn default_host_agent() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("paliadin-shim")))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/paliadin-shim"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form_and_builds_separate_words() {
        let t = AccountsTarget::parse(
            "accounts:///etc/paliadin/accounts?shim=/usr/bin/paliadin-shim&sudo=/usr/bin/doas%20x",
        )
        .unwrap();
        assert_eq!(t.map, PathBuf::from("/etc/paliadin/accounts"));
        assert_eq!(t.sudo, PathBuf::from("/usr/bin/doas x"));
        assert_eq!(t.display(), "accounts:///etc/paliadin/accounts");
        let account = AccountName::parse("pa-alice").unwrap();
        let settings = HostAgentSettings {
            session_prefix: "paliadin".into(),
            max_reply_bytes: 10,
            agent_cmd: Some("claude --model 'x y'".into()),
            launch: Default::default(),
        };
        let args: Vec<String> = t
            .args(&account, &settings)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args[..6],
            [
                "-n",
                "-u",
                "pa-alice",
                "--",
                "/usr/bin/paliadin-shim",
                "serve"
            ]
        );
        assert_eq!(args.last().unwrap(), "claude --model 'x y'");
    }

    #[test]
    fn refuses_relative_paths_and_unknown_settings() {
        for bad in [
            "accounts://etc/accounts",
            "accounts:///etc/../tmp/a",
            "accounts:///etc/a?shim=paliadin-shim",
            "accounts:///etc/a?user=root",
            "local-accounts:///etc/a",
        ] {
            assert!(AccountsTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
