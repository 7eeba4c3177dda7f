//! The worker's check of each remote host: ssh connects with the configured key and known
//! hosts, and the host agent (`paliadin-shim`) answers its hello in this worker's protocol.

use crate::host_agent::proto::PROTOCOL;
use crate::ssh::LinkOptions;
use crate::ssh::{Conn, SshTarget};
use paliadin_shared::doctor::Report;
use tokio::process::Command;

/// Connects to `target` once, as the worker would, and reports the host agent's version.
pub async fn host(report: &mut Report, name: &str, target: &SshTarget, opts: &LinkOptions) {
    let check = format!("host {name} reachable");
    let mut cmd = Command::new(&target.ssh_bin);
    cmd.args(target.args(opts.connect_timeout));
    // ssh's own ConnectTimeout covers the TCP part; the hello gets as long again.
    match Conn::start(cmd, name, opts.connect_timeout * 2).await {
        Ok(conn) => {
            report.ok(
                &check,
                format!(
                    "{}: {} (protocol {PROTOCOL})",
                    target.display(),
                    conn.server
                ),
            );
            conn.kill();
        }
        Err(e) => report.fail(
            &check,
            format!("{}: {e}", target.display()),
            "check the host is up, its sshd reachable from here, the key and known_hosts \
             in PALIADIN_HOSTS, and paliadin-host installed there in this release \
             (docs/hosts.md; runbook \"A host is unreachable\" in docs/operations.md)",
        ),
    }
}
