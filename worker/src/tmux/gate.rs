//! Keeps a control client's attach apart from every other tmux command sent to the same server,
//! across all the processes of this user (`docs/tmux-driving.md`, "Control mode").
//!
//! Why: tmux 3.3a (Debian 12's) marks a client as a control client when its first identify
//! message arrives and makes its control state only when the last one does; the messages come
//! in several reads (the file descriptors travel alone), and a notification sent to every
//! control client in between — a session made or closed, a paste buffer set or deleted, a
//! client detached — writes through the missing state and the **server crashes** (SIGSEGV at
//! address 0x20, every agent session gone; tmux's source checks for it since 2026,
//! tmux/tmux#4980). Every command of ours holds the gate shared while tmux runs it; an attach
//! holds it exclusively from starting its client until tmux has answered the attach. So no
//! command of ours can raise a notification while a control client of ours is half
//! identified. What stays possible: a session that closes by itself (its agent exited) or a
//! client lost at that instant.
//!
//! The gate is `flock(2)` on two files beside the server's socket (`<socket>.paliadin-gate` and
//! `.paliadin-turnstile`, in the socket's private directory: made 0700 here if it does not
//! exist yet, [`super::socket`]); the turnstile gives a waiting
//! attach precedence over new commands. Where the files cannot be opened commands run without.

use super::socket::Socket;
use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Files kept open for the next shared hold (each hold needs its own open file: `flock` locks
/// an open file description, and two holds of one process must not share one).
const SPARE_FILES: usize = 16;

/// The gate of one tmux server.
#[derive(Debug)]
pub struct Gate {
    /// None: no gate (the files could not be made).
    files: Option<Files>,
}

/// The two lock files and the open files kept for the next shared holds.
#[derive(Debug)]
struct Files {
    /// Held shared by commands, exclusively by an attach.
    gate: PathBuf,
    /// Passed through shared before taking `gate`, held exclusively by an attach before it
    /// waits for `gate`: `flock` grants new shared locks while an exclusive one waits, so
    /// without it a steady flow of commands would keep an attach waiting for ever.
    turnstile: PathBuf,
    spare_gates: Mutex<Vec<File>>,
    spare_turnstiles: Mutex<Vec<File>>,
}

impl Files {
    fn take(&self, turnstile: bool) -> std::io::Result<File> {
        let (spare, path) = match turnstile {
            true => (&self.spare_turnstiles, &self.turnstile),
            false => (&self.spare_gates, &self.gate),
        };
        let file = spare.lock().expect("gate spares").pop();
        file.map(Ok).unwrap_or_else(|| open(path))
    }

    /// Unlocks `file` and keeps it for a later hold.
    fn give_back(&self, file: File, turnstile: bool) {
        if file.unlock().is_err() {
            return;
        }
        let spare = match turnstile {
            true => &self.spare_turnstiles,
            false => &self.spare_gates,
        };
        let mut spare = spare.lock().expect("gate spares");
        if spare.len() < SPARE_FILES {
            spare.push(file);
        }
    }
}

/// A hold on the gate; released when dropped.
#[derive(Debug)]
pub struct Held<'a> {
    gate: &'a Gate,
    /// The gate file, and for an attach the turnstile's.
    files: Vec<File>,
    shared: bool,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let files = std::mem::take(&mut self.files);
        // An attach's files are closed (which releases them); a command's goes back to the
        // spares after an explicit unlock.
        if let (true, Some(f)) = (self.shared, &self.gate.files) {
            for file in files {
                f.give_back(file, false);
            }
        }
    }
}

impl Gate {
    /// The gate of the server at `socket`: files beside its socket.
    pub fn for_server(socket: &Socket) -> Gate {
        let sock = socket.path().to_owned();
        let dir = sock.parent().unwrap_or(Path::new("/tmp")).to_owned();
        let mut path = sock.clone().into_os_string();
        path.push(".paliadin-gate");
        let path = PathBuf::from(path);
        Gate::at(&dir, path)
    }

    fn at(dir: &Path, path: PathBuf) -> Gate {
        let _ = DirBuilder::new().mode(0o700).create(dir);
        let turnstile = path.with_extension("paliadin-turnstile");
        // The files opened to check are the first spares.
        let files = match open(&path).and_then(|g| Ok((g, open(&turnstile)?))) {
            Ok((g, t)) => Some(Files {
                gate: path,
                turnstile,
                spare_gates: Mutex::new(vec![g]),
                spare_turnstiles: Mutex::new(vec![t]),
            }),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e,
                    "no tmux gate: control clients may attach during other commands");
                None
            }
        };
        Gate { files }
    }

    /// Held by every command while tmux runs it. Waits while an attach holds or waits for the
    /// gate.
    pub async fn shared(&self) -> Held<'_> {
        let mut files = Vec::new();
        if let Some(f) = &self.files
            && let Ok(turn) = f.take(true)
            && let Some(turn) = lock(turn, true, None).await
        {
            if let Ok(gate) = f.take(false)
                && let Some(gate) = lock(gate, true, None).await
            {
                files.push(gate);
            }
            f.give_back(turn, true);
        }
        Held {
            gate: self,
            files,
            shared: true,
        }
    }

    /// Held by an attach; None when the commands in flight did not end within `limit`.
    pub async fn exclusive(&self, limit: Duration) -> Option<Held<'_>> {
        let mut files = Vec::new();
        if let Some(f) = &self.files {
            let deadline = tokio::time::Instant::now() + limit;
            files.push(lock(open(&f.turnstile).ok()?, false, Some(deadline)).await?);
            files.push(lock(open(&f.gate).ok()?, false, Some(deadline)).await?);
        }
        Some(Held {
            gate: self,
            files,
            shared: false,
        })
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

/// Locks `file`; at once when nobody holds the gate the other way, else on a blocking thread
/// (up to `deadline`). None: the lock could not be taken.
async fn lock(file: File, shared: bool, deadline: Option<tokio::time::Instant>) -> Option<File> {
    let now = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match now {
        Ok(()) => return Some(file),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => {
            tracing::debug!(error = %e, "tmux gate unusable for this command");
            return None;
        }
    }
    let wait = tokio::task::spawn_blocking(move || {
        let r = if shared {
            file.lock_shared()
        } else {
            file.lock()
        };
        r.map(|()| file)
    });
    let done = match deadline {
        // On timeout the blocking thread still takes the lock, then drops it with the file.
        Some(deadline) => tokio::time::timeout_at(deadline, wait).await.ok()?,
        None => wait.await,
    };
    done.ok()?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_exclusive_hold_waits_for_shared_ones_and_they_wait_for_it() {
        let dir = std::env::temp_dir().join(format!("paliadin-gate-{}", std::process::id()));
        let gate = Gate::at(&dir, dir.join("s.paliadin-gate"));
        let a = gate.shared().await;
        let b = gate.shared().await;
        assert!(gate.exclusive(Duration::from_millis(50)).await.is_none());
        drop(a);
        assert!(gate.exclusive(Duration::from_millis(50)).await.is_none());
        drop(b);
        let ex = gate.exclusive(Duration::from_secs(5)).await.expect("free");
        let waiting = tokio::spawn(async move {
            // A second gate on the same file: another process's view.
            let other = Gate::at(&dir, dir.join("s.paliadin-gate"));
            let _held = other.shared().await;
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(ex);
        waiting.await.unwrap();
        drop(gate);
        std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("paliadin-gate-{}", std::process::id())),
        )
        .unwrap();
    }
}
