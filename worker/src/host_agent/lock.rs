//! Per-turn locks on the host: at most one host agent process drives a given turn at a time.
//!
//! Each SSH connection runs its own host agent process. When a connection drops mid-turn, the old
//! process may still be finishing a delivery while the worker, reconnected, already asks a new
//! process to resume the same turn. The new process waits for the old one's lock, then sees
//! what the old one did (receipts, a recorded outcome) and never pastes twice.
//!
//! The lock is `flock` on `<spool>/locks/<turn_id>.lock` (released by the kernel if the process
//! dies). The file is removed by the holder when the turn ends; a waiter that wins the lock on
//! a file that was removed meanwhile notices (inode check) and tries again.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another process is still driving this turn")]
    Busy,
    #[error("cannot lock the turn: {0}")]
    Io(#[from] io::Error),
}

/// A held turn lock; dropping it releases the lock (and keeps the file).
#[derive(Debug)]
pub struct TurnLock {
    file: File,
    path: PathBuf,
}

/// `<spool>/locks`, created (0700) if missing.
pub fn dir(spool: &Path) -> io::Result<PathBuf> {
    let dir = spool.join("locks");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}

/// Removes lock files older than `age` (left by turns nobody resumed). Must exceed the longest
/// turn, so a held lock is never removed (a turn is capped at 24 h; the host agent uses 48 h).
pub fn prune(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age));
        if old && e.file_name().to_string_lossy().ends_with(".lock") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl TurnLock {
    /// Takes the turn's lock, polling every 20 ms until `deadline`.
    pub async fn acquire(dir: &Path, turn: Uuid, deadline: Instant) -> Result<TurnLock, LockError> {
        let path = dir.join(format!("{}.lock", turn.hyphenated()));
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) if same_file(&file, &path) => return Ok(TurnLock { file, path }),
                // The holder removed the file after we opened it: lock the new one.
                Ok(()) => continue,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(e.into()),
            }
            drop(file);
            if Instant::now() >= deadline {
                return Err(LockError::Busy);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Releases the lock and removes its file (the turn is over on this host).
    pub fn release_and_remove(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_removed_file_is_relocked() {
        let root = std::env::temp_dir().join(format!("paliadin-lock-{}", Uuid::new_v4()));
        let dir = dir(&root).unwrap();
        let turn = Uuid::new_v4();
        let soon = || Instant::now() + Duration::from_millis(100);
        let held = TurnLock::acquire(&dir, turn, soon()).await.unwrap();
        assert!(matches!(
            TurnLock::acquire(&dir, turn, soon()).await,
            Err(LockError::Busy)
        ));
        let waiter = tokio::spawn({
            let dir = dir.clone();
            async move { TurnLock::acquire(&dir, turn, Instant::now() + Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        held.release_and_remove();
        let second = waiter.await.unwrap().unwrap();
        assert!(second.path.exists(), "the waiter locked a removed file");
        drop(second);
        let _ = std::fs::remove_dir_all(root);
    }
}
