//! Control clients on their way out because the process that drove them died (a worker
//! SIGKILLed): a client dropped while another is half identified crashes tmux 3.3a
//! ([`crate::tmux::gate`]), so a new client attaches only once the server lists none of them.
//!
//! tmux drops such a client once its `tmux -C` process has noticed, usually within
//! milliseconds, but orphaned clients were also seen attached for minutes (`docs/tmux-driving.md`).
//! So the attach, which holds the gate exclusively, kills the `tmux -C` process of each such
//! client itself and waits until the server has dropped it.
//!
//! Each of our control clients carries its driver's pid in [`OWNER`]; a client whose owner is
//! gone (or a zombie) is an orphan, and one whose own process is gone while the server still
//! lists it is leaving. Control clients without the variable are someone else's and are left
//! alone. What a process cannot read in another's `/proc` (another user's, `hidepid`) counts
//! as not ours.

use crate::tmux::socket::Socket;
use std::path::Path;
use std::time::{Duration, Instant};

/// The environment variable that names the pid of the process driving a control client.
pub const OWNER: &str = "PALIADIN_CONTROL_OWNER";

/// How often the server's client list is read again while a client is leaving.
const EVERY: Duration = Duration::from_millis(10);

/// Removes the orphaned control clients of ours and waits until the server lists none of them
/// (at most `limit`); returns how many were seen at first (0: the common case, one
/// `list-clients`). Call it holding the gate exclusively.
pub async fn wait(bin: &Path, socket: &Socket, limit: Duration) -> usize {
    let start = Instant::now();
    let mut first = None;
    let mut killed = Vec::new();
    loop {
        let list = ["list-clients", "-F", "#{client_control_mode} #{client_pid}"];
        let Ok(out) = crate::tmux::cli::run(bin, socket, &list, None).await else {
            return first.unwrap_or(0);
        };
        let leaving: Vec<(u32, State)> = out
            .lines()
            .filter_map(|l| l.strip_prefix("1 "))
            .filter_map(|pid| pid.trim().parse::<u32>().ok())
            .filter_map(|pid| state(pid).map(|s| (pid, s)))
            .collect();
        let seen = *first.get_or_insert(leaving.len());
        if leaving.is_empty() {
            return seen;
        }
        for &(pid, s) in &leaving {
            if s == State::Orphan && !killed.contains(&pid) {
                killed.push(pid);
                kill(pid);
            }
        }
        if start.elapsed() >= limit {
            tracing::warn!(
                leaving = leaving.len(),
                "tmux still lists control clients whose worker is gone"
            );
            return seen;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Where a control client of ours that should not be there stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its owner is gone; its own process is still there.
    Orphan,
    /// Its process is gone; the server has not dropped it yet.
    Gone,
}

/// The state of the control client with process `pid`: None when it is someone else's or its
/// owner is alive.
fn state(pid: u32) -> Option<State> {
    let environ = match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(State::Gone),
        Err(_) => return None,
    };
    let owner = owner(&environ)?;
    (!alive(owner)).then_some(State::Orphan)
}

/// SIGKILL to an orphaned `tmux -C` process: the server drops a client whose process is gone
/// whatever it still holds for it.
fn kill(pid: u32) {
    use nix::sys::signal::{Signal, kill};
    let Ok(raw) = i32::try_from(pid) else { return };
    match kill(nix::unistd::Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) => tracing::info!(
            pid,
            "killed the tmux control client of a worker that is gone"
        ),
        Err(e) => tracing::debug!(pid, error = %e, "cannot kill an orphaned tmux control client"),
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
