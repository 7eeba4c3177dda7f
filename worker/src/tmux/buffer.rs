//! Loading user text into a tmux buffer without it ever being a command argument.
//!
//! With the control client, its stdin is the command stream, so the text goes through a file:
//! written `0600` (created, never opened if it exists) in a private `0700` directory of the
//! spool (`<spool>/.paste/`, which the tmux server can read wherever the spool is shared with
//! it, as it must be for the agents' files), loaded with `load-buffer -b NAME PATH`, and
//! deleted at once. Without a control client, or where that is not possible, the text goes on
//! the stdin of a CLI client (`load-buffer -b NAME -`), as it always did.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Files older than this in the directory are left from a crash: removed when it is first used.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The private directory buffer files are written to.
#[derive(Debug)]
pub struct PasteDir {
    path: PathBuf,
    /// Whether the directory is usable, decided on first use.
    ready: OnceLock<bool>,
}

/// A buffer file; deleted when dropped.
pub struct PasteFile {
    path: PathBuf,
}

impl PasteFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PasteFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl PasteDir {
    pub fn new(path: PathBuf) -> PasteDir {
        PasteDir {
            path,
            ready: OnceLock::new(),
        }
    }

    /// Writes `text` to a new file named `name`; None when that is not possible (the caller
    /// then uses the CLI's stdin).
    pub fn write(&self, name: &str, text: &[u8]) -> Option<PasteFile> {
        if !*self.ready.get_or_init(|| prepare(&self.path)) {
            return None;
        }
        let path = self.path.join(name);
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot write a paste buffer file");
                return None;
            }
        };
        let file_guard = PasteFile { path };
        match file.write_all(text) {
            Ok(()) => Some(file_guard),
            Err(e) => {
                tracing::warn!(error = %e, "cannot write a paste buffer file");
                None
            }
        }
    }
}

/// Creates the directory `0700`, or accepts an existing one only if it is a real directory of
/// this user that nobody else can enter; then removes files a crash left.
fn prepare(dir: &Path) -> bool {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "no paste directory: pasting through the CLI");
            return false;
        }
    }
    let private = std::fs::symlink_metadata(dir).is_ok_and(|m| {
        m.file_type().is_dir()
            && m.permissions().mode() & 0o077 == 0
            && m.uid().to_string() == super::config::current_uid()
    });
    if !private {
        tracing::warn!(dir = %dir.display(), "the paste directory is not private: pasting through the CLI");
        return false;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > STALE_AFTER));
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_removed_when_dropped() {
        let root = std::env::temp_dir().join(format!("paliadin-paste-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        let dir = PasteDir::new(root.join(".paste"));
        let file = dir.write("b1", b"secret; text\n").unwrap();
        let meta = std::fs::metadata(file.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dmeta = std::fs::metadata(root.join(".paste")).unwrap();
        assert_eq!(dmeta.permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::read(file.path()).unwrap(), b"secret; text\n");
        // A name that exists is never opened again.
        assert!(dir.write("b1", b"x").is_none());
        let path = file.path().to_owned();
        drop(file);
        assert!(!path.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_directory_others_can_enter_is_not_used() {
        let root = std::env::temp_dir().join(format!("paliadin-paste-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join(".paste")).unwrap();
        std::fs::set_permissions(root.join(".paste"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert!(
            PasteDir::new(root.join(".paste"))
                .write("b", b"x")
                .is_none()
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
