//! The hosts a worker serves (`PALIADIN_HOSTS`) and what happens when one is unreachable
//! (`PALIADIN_FAILOVER`).
//!
//! Syntax: comma-separated `name=address` entries, e.g.
//! `local=local,gpu1=ssh://paliadin@10.0.0.5:22?key=/etc/paliadin/id_ed25519&known_hosts=/etc/paliadin/known_hosts`.
//! - `name` is the host's name everywhere: `[a-z0-9_]{1,32}`, its queue is `turns_<name>`;
//! - `address` is `local` (this machine's tmux, configured by the worker's tmux settings, run
//!   as the worker's own account: the single-trust mode; at most one entry), an `ssh://`
//!   address (see [`crate::ssh::target`]; percent-encode a `,` in a path as `%2C`), or an
//!   `accounts://` address (this machine, one agent account per owner: [`crate::accounts`]).
//!
//! Unset: the worker serves one local host named `PALIADIN_LOCAL_HOST` (default `local`).
//!
//! `PALIADIN_DRAIN` names served hosts to empty before removing them ([`drain`]).

pub mod drain;

use crate::accounts::AccountsTarget;
use crate::ssh::{LinkOptions, SshTarget};
use clap::{Args, ValueEnum};
use paliadin_shared::HostName;
use std::time::Duration;

/// Host settings of a worker.
#[derive(Debug, Clone, Args)]
pub struct HostsConfig {
    /// The hosts this worker serves: `name=local`, `name=ssh://…` or `name=accounts://…`
    /// (one agent account per owner on this machine), comma-separated.
    #[arg(long, env = "PALIADIN_HOSTS")]
    pub hosts: Option<String>,
    /// How long a turn waits for a remote host's connection before failing `host_unreachable`
    /// (also ssh's ConnectTimeout).
    #[arg(long, env = "PALIADIN_HOST_CONNECT_TIMEOUT_SECS", default_value_t = 10)]
    pub host_connect_timeout_secs: u64,
    /// Period of keep-alive pings on each remote host's channel.
    #[arg(long, env = "PALIADIN_SSH_KEEPALIVE_SECS", default_value_t = 5)]
    pub ssh_keepalive_secs: u64,
    /// Served hosts to drain (comma-separated names): no new users; idle users move off.
    #[arg(long, env = "PALIADIN_DRAIN")]
    pub drain: Option<String>,
}

impl HostsConfig {
    /// The hosts named by `PALIADIN_DRAIN`, each of which must be one of `served`.
    pub fn draining(&self, served: &[HostSpec]) -> Result<Vec<HostName>, HostsError> {
        let names = self.drain.as_deref().unwrap_or("").split(',');
        let mut out = Vec::new();
        for name in names.map(str::trim).filter(|n| !n.is_empty()) {
            let name = HostName::parse(name).map_err(|e| HostsError(e.0))?;
            if !served.iter().any(|s| s.name == name) {
                return Err(HostsError(format!(
                    "PALIADIN_DRAIN names {name}, which this worker does not serve"
                )));
            }
            out.push(name);
        }
        Ok(out)
    }

    pub fn link_options(&self) -> LinkOptions {
        LinkOptions {
            connect_timeout: Duration::from_secs(self.host_connect_timeout_secs.max(1)),
            keepalive: Duration::from_secs(self.ssh_keepalive_secs.max(1)),
            max_backoff: LinkOptions::MAX_BACKOFF,
        }
    }
}

impl Default for LinkOptions {
    /// The link options of the host flags' defaults (one source: the attributes above).
    fn default() -> Self {
        paliadin_shared::config::defaults::<HostsConfig>().link_options()
    }
}

/// What a worker does for a user whose host is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Failover {
    /// The user stays pinned: their turns fail `host_unreachable` until the host is back.
    #[default]
    Never,
    /// The turn that found the host down fails `host_unreachable`; the user is re-pinned to
    /// the healthy host with the fewest sessions (a fresh session there) and their queued turns
    /// move with them, in one transaction.
    Move,
}

/// How a host is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Local,
    Ssh(SshTarget),
    /// This machine, each owner's agent under their own account ([`crate::accounts`]).
    Accounts(AccountsTarget),
}

/// One configured host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub name: HostName,
    pub address: Address,
}

impl HostSpec {
    /// The address as shown in the `hosts` table (no key paths).
    pub fn display(&self) -> String {
        match &self.address {
            Address::Local => "local".into(),
            Address::Ssh(t) => t.display(),
            Address::Accounts(t) => t.display(),
        }
    }
}

/// `PALIADIN_HOSTS` could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("PALIADIN_HOSTS: {0}")]
pub struct HostsError(String);

/// Parses `PALIADIN_HOSTS`; `None` or blank gives the single local host `default_local`.
pub fn parse(value: Option<&str>, default_local: &str) -> Result<Vec<HostSpec>, HostsError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        let name = HostName::parse(default_local).map_err(|e| HostsError(e.0))?;
        return Ok(vec![HostSpec {
            name,
            address: Address::Local,
        }]);
    };
    let mut specs: Vec<HostSpec> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, address) = entry
            .split_once('=')
            .ok_or_else(|| HostsError(format!("{entry:?} is not name=address")))?;
        let name = HostName::parse(name.trim()).map_err(|e| HostsError(e.0))?;
        let address = match address.trim() {
            "local" => Address::Local,
            a if a.starts_with("accounts:") => {
                Address::Accounts(AccountsTarget::parse(a).map_err(|e| HostsError(e.to_string()))?)
            }
            a => Address::Ssh(SshTarget::parse(a).map_err(|e| HostsError(e.to_string()))?),
        };
        if specs.iter().any(|s| s.name == name) {
            return Err(HostsError(format!("host {name} is listed twice")));
        }
        if address == Address::Local && specs.iter().any(|s| s.address == Address::Local) {
            return Err(HostsError("at most one host can be local".into()));
        }
        specs.push(HostSpec { name, address });
    }
    if specs.is_empty() {
        return Err(HostsError("no hosts listed".into()));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_mix_and_defaults_to_local() {
        let v = "local=local, gpu1=ssh://paliadin@10.0.0.5:22?key=/etc/paliadin/id_ed25519&known_hosts=/etc/paliadin/known_hosts";
        let specs = parse(Some(v), "local").unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].name.as_str(), "gpu1");
        assert_eq!(specs[1].display(), "ssh://paliadin@10.0.0.5:22");
        let Address::Ssh(t) = &specs[1].address else {
            panic!("not ssh")
        };
        assert_eq!(
            t.key.as_deref(),
            Some(std::path::Path::new("/etc/paliadin/id_ed25519"))
        );
        let acc = parse(Some("iso=accounts:///etc/paliadin/accounts"), "local").unwrap();
        assert_eq!(acc[0].display(), "accounts:///etc/paliadin/accounts");
        let default = parse(None, "box_1").unwrap();
        assert_eq!(default[0].name.as_str(), "box_1");
        assert_eq!(default[0].address, Address::Local);
    }

    #[test]
    fn refuses_bad_names_duplicates_and_two_locals() {
        for bad in [
            "gpu-1=local",
            "a=local,a=ssh://h",
            "a=local,b=local",
            "a",
            "a=ftp://h",
            "a=accounts://relative",
            ",",
        ] {
            assert!(parse(Some(bad), "local").is_err(), "{bad}");
        }
    }
}
