//! A private network namespace joined to this one by a veth pair, for partition tests: a
//! process started with [`Netns::command`] reaches the host only through the veth, at
//! [`Netns::host_addr`] (a private `10.x.y.z/30` the namespace owns). [`Netns::cut`] takes the
//! host side of the veth down — packets to and from the namespace are dropped silently, so
//! open connections hang as in a real partition — and [`Netns::heal`] brings it back.
//!
//! Needs root and `ip` (iproute2). Names are unique per namespace; the namespace and the veth
//! are removed on drop, also when the test fails.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

pub struct Netns {
    /// The namespace (`ip netns` name).
    pub name: String,
    /// The veth end in this (the host's) namespace, and the one inside the namespace.
    host_if: String,
    ns_if: String,
    /// The host side's address, reachable from inside the namespace.
    pub host_addr: Ipv4Addr,
    /// The namespace side's address.
    pub ns_addr: Ipv4Addr,
}

/// Runs `ip ARGS`; `Err` carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A `/30` in `10.200.0.0`–`10.254.255.252` that no route of this host uses yet.
fn free_subnet(seed: u128) -> Result<[u8; 4], String> {
    let routes = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
    (0..64u128)
        .map(|i| {
            let n = seed.wrapping_add(i.wrapping_mul(0x9e37_79b9));
            [
                10,
                200 + (n % 55) as u8,
                (n / 55 % 256) as u8,
                (n / 14_080 % 64) as u8 * 4,
            ]
        })
        .find(|n| !routes.contains(&format!("{}.{}.{}.", n[0], n[1], n[2])))
        .ok_or_else(|| "no free 10.x subnet".to_owned())
}

impl Netns {
    /// Creates the namespace and the veth pair, or says why it cannot (not root, no `ip`, no
    /// namespace support) — the caller then skips its test with that reason.
    pub fn create() -> Result<Netns, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("cannot run id: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("network namespaces need root".into());
        }
        let id = uuid::Uuid::new_v4();
        let tag = &id.simple().to_string()[..8];
        let net = free_subnet(id.as_u128())?;
        let addr = |last: u8| Ipv4Addr::new(net[0], net[1], net[2], net[3] + last);
        let ns = Netns {
            name: format!("paliadin-{tag}"),
            host_if: format!("pvh{tag}"),
            ns_if: format!("pvn{tag}"),
            host_addr: addr(1),
            ns_addr: addr(2),
        };
        ip(&["netns", "add", &ns.name])?;
        // From here on, drop removes whatever was made.
        let (h, n) = (ns.host_if.as_str(), ns.ns_if.as_str());
        ip(&["link", "add", h, "type", "veth", "peer", "name", n])?;
        ip(&["link", "set", n, "netns", &ns.name])?;
        ip(&["addr", "add", &format!("{}/30", ns.host_addr), "dev", h])?;
        ip(&["link", "set", h, "up"])?;
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all)
        };
        inside(&["addr", "add", &format!("{}/30", ns.ns_addr), "dev", n])?;
        inside(&["link", "set", n, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec NAME program`; `ip`
    /// execs it, so the child's pid is the program's).
    pub fn command(&self, program: &std::path::Path) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Partition: the host side of the veth goes down; nothing passes either way.
    pub fn cut(&self) {
        ip(&["link", "set", &self.host_if, "down"]).expect("cut the veth");
    }

    /// Ends the partition.
    pub fn heal(&self) {
        ip(&["link", "set", &self.host_if, "up"]).expect("heal the veth");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting either end deletes the pair; the namespace's own deletion is asynchronous.
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}
