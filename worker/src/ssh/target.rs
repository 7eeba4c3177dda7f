//! `SshTarget`: where a remote tmux host is and how the system `ssh` client reaches it.
//!
//! Address syntax (one entry of `PALIADIN_HOSTS`, see `docs/hosts.md`):
//! `ssh://[user@]host[:port][?key=PATH&known_hosts=PATH&config=PATH&ssh=PATH&shim=PATH]`
//! - `host`: a DNS name, an IPv4 address, or an IPv6 address in brackets;
//! - `key`: the identity file (`-i`, with `IdentitiesOnly=yes`);
//! - `known_hosts`: pins the host key (`UserKnownHostsFile`, `StrictHostKeyChecking=yes`);
//! - `config`: an ssh_config file (`-F`; e.g. `/dev/null` to ignore the user's);
//! - `ssh`: the ssh binary (default `ssh` on PATH);
//! - `shim`: the remote command (default `paliadin-shim`; a forced command overrides it).
//!
//! Values are percent-decoded. Everything ends up as separate argv words, never in a shell, and
//! user and host names are validated so they cannot be taken for options.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// An `ssh://` address that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad ssh address {address:?}: {reason}")]
pub struct TargetError {
    pub address: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub key: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub ssh_bin: PathBuf,
    pub host_agent: String,
}

impl SshTarget {
    pub fn parse(address: &str) -> Result<SshTarget, TargetError> {
        let err = |reason: &str| TargetError {
            address: address.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = address
            .strip_prefix("ssh://")
            .ok_or_else(|| err("must start with ssh://"))?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(u) = user {
            let ok = !u.is_empty()
                && u.len() <= 64
                && !u.starts_with('-')
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(err(
                    "the user must match [A-Za-z0-9._-]{1,64}, not starting with -",
                ));
            }
        }
        let (host, port) = split_host_port(hostport).map_err(|r| err(&r))?;
        let mut t = SshTarget {
            user: user.map(str::to_owned),
            host,
            port,
            key: None,
            known_hosts: None,
            config: None,
            ssh_bin: PathBuf::from("ssh"),
            host_agent: "paliadin-shim".into(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| err("query items are key=value"))?;
            let v = percent_decode(v).ok_or_else(|| err("bad percent-encoding"))?;
            if v.is_empty() {
                return Err(err(&format!("{k} is empty")));
            }
            match k {
                "key" => t.key = Some(v.into()),
                "known_hosts" => t.known_hosts = Some(v.into()),
                "config" => t.config = Some(v.into()),
                "ssh" => t.ssh_bin = v.into(),
                "shim"
                    if v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b)) =>
                {
                    t.host_agent = v
                }
                "shim" => return Err(err("shim must be a plain path ([A-Za-z0-9._/-])")),
                _ => {
                    return Err(err(&format!(
                        "unknown setting {k:?} (key, known_hosts, config, ssh, shim)"
                    )));
                }
            }
        }
        Ok(t)
    }

    /// The address without its settings, for logs and the `hosts` table.
    pub fn display(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("ssh://{user}{host}{port}")
    }

    /// The ssh client's arguments (after the binary) for one persistent connection.
    pub fn args(&self, connect_timeout: Duration) -> Vec<OsString> {
        let secs = connect_timeout.as_secs().max(1);
        let mut a: Vec<OsString> = Vec::new();
        let opt = |a: &mut Vec<OsString>, o: String| {
            a.push("-o".into());
            a.push(o.into());
        };
        a.push("-T".into());
        if let Some(cfg) = &self.config {
            a.push("-F".into());
            a.push(cfg.clone().into());
        }
        for o in [
            "BatchMode=yes".to_owned(),
            "ServerAliveInterval=5".to_owned(),
            "ServerAliveCountMax=3".to_owned(),
            format!("ConnectTimeout={secs}"),
        ] {
            opt(&mut a, o);
        }
        if let Some(key) = &self.key {
            a.push("-i".into());
            a.push(key.clone().into());
            opt(&mut a, "IdentitiesOnly=yes".into());
        }
        if let Some(kh) = &self.known_hosts {
            let mut o = OsString::from("UserKnownHostsFile=");
            o.push(kh);
            a.push("-o".into());
            a.push(o);
            opt(&mut a, "StrictHostKeyChecking=yes".into());
        }
        if let Some(p) = self.port {
            a.push("-p".into());
            a.push(p.to_string().into());
        }
        if let Some(u) = &self.user {
            a.push("-l".into());
            a.push(u.into());
        }
        a.push("--".into());
        a.push(self.host.clone().into());
        a.push(self.host_agent.clone().into());
        a.push("serve".into());
        a
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        let ok = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok {
            return Err("a bracketed host must be an IPv6 address".into());
        }
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if !host.contains(':') {
        let ok = !host.is_empty()
            && host.len() <= 253
            && !host.starts_with('-')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err("the host must be a DNS name or an IP address".into());
        }
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p > 0).ok_or("bad port")?),
    };
    Ok((host.to_owned(), port))
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let t = SshTarget::parse(
            "ssh://paliadin@10.0.0.5:2222?key=/etc/p/id_ed25519&known_hosts=/etc/p/kh%20x",
        )
        .unwrap();
        assert_eq!(t.user.as_deref(), Some("paliadin"));
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.5", Some(2222)));
        assert_eq!(t.known_hosts, Some(PathBuf::from("/etc/p/kh x")));
        assert_eq!(t.display(), "ssh://paliadin@10.0.0.5:2222");
        let args: Vec<String> = t
            .args(Duration::from_secs(5))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let tail = &args[args.len() - 4..];
        assert_eq!(tail, ["--", "10.0.0.5", "paliadin-shim", "serve"]);
        assert!(
            args.windows(2)
                .any(|w| w == ["-o", "StrictHostKeyChecking=yes"])
        );
        let v6 = SshTarget::parse("ssh://[::1]:22").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.display().as_str()),
            ("::1", "ssh://[::1]:22")
        );
    }

    #[test]
    fn refuses_what_could_become_an_option_or_is_unknown() {
        for bad in [
            "gpu1:22",
            "ssh://-oProxyCommand=x",
            "ssh://-l@h",
            "ssh://u@h:99999",
            "ssh://u@h?agent=yes",
            "ssh://u@h?shim=a;b",
            "ssh://u@h?key=",
            "ssh://u v@h",
            "ssh://[zz]:1",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
