//! Control clients on their way out because the process that drove them died (a worker
//! SIGKILLed): tmux drops such a client only after its `tmux -C` process has noticed, and a
//! client dropped while another is half identified crashes tmux 3.3a ([`crate::tmux::gate`]).
//! A new client therefore attaches only once the server lists none of them.
//!
//! Each of our control clients carries its driver's pid in [`OWNER`]; a client whose owner is
//! gone (or a zombie), or whose own process is gone while the server still lists it, is
//! leaving. Control clients without the variable are someone else's and are left alone. What
//! a process cannot read in another's `/proc` (another user's, `hidepid`) counts as not ours.

use std::path::Path;
use std::time::{Duration, Instant};

/// The environment variable that names the pid of the process driving a control client.
pub const OWNER: &str = "PALIADIN_CONTROL_OWNER";

/// How often the server's client list is read again while a client is leaving.
const EVERY: Duration = Duration::from_millis(10);

/// Waits until the server lists no leaving control client of ours, at most `limit`; returns
/// how many were seen leaving at first (0: the common case, one `list-clients`).
pub async fn wait(bin: &Path, socket: Option<&str>, limit: Duration) -> usize {
    let start = Instant::now();
    let mut first = None;
    loop {
        let list = ["list-clients", "-F", "#{client_control_mode} #{client_pid}"];
        let Ok(out) = crate::tmux::cli::run(bin, socket, &list, None).await else {
            return first.unwrap_or(0);
        };
        let leaving = out
            .lines()
            .filter_map(|l| l.strip_prefix("1 "))
            .filter_map(|pid| pid.trim().parse::<u32>().ok())
            .filter(|&pid| is_leaving(pid))
            .count();
        let seen = *first.get_or_insert(leaving);
        if leaving == 0 {
            return seen;
        }
        if start.elapsed() >= limit {
            tracing::warn!(
                leaving,
                "tmux still lists control clients whose worker is gone"
            );
            return seen;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Whether the control client with process `pid` is ours and its owner is gone.
fn is_leaving(pid: u32) -> bool {
    let environ = match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(bytes) => bytes,
        // The process is gone but still listed: the server has not dropped it yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
        Err(_) => return false,
    };
    match owner(&environ) {
        Some(owner) => !alive(owner),
        None => false,
    }
}

/// The owner's pid from a `/proc/<pid>/environ` (NUL-separated `KEY=value`).
fn owner(environ: &[u8]) -> Option<u32> {
    environ.split(|&b| b == 0).find_map(|kv| {
        let value = kv.strip_prefix(OWNER.as_bytes())?.strip_prefix(b"=")?;
        std::str::from_utf8(value).ok()?.parse().ok()
    })
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S …`: the state follows the last `)` (comm may hold one).
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_read_from_the_environment() {
        let env = b"PATH=/bin\0PALIADIN_CONTROL_OWNERX=9\0PALIADIN_CONTROL_OWNER=1234\0";
        assert_eq!(owner(env), Some(1234));
        assert_eq!(owner(b"PATH=/bin\0"), None);
        assert_eq!(owner(b"PALIADIN_CONTROL_OWNER=x\0"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_one_is_not() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let _ = child.wait();
        assert!(!alive(pid));
    }
}
