//! Whether a spool directory can be trusted: it, and every ancestor up to one owned by root,
//! must be a real directory (not a symlink), owned by this process's user and writable by no
//! one else. Another local user who pre-created `/tmp/paliadin-<uid>/spool` could otherwise read
//! and forge replies and plant symlinks. Used by the worker, the host agent and the demo agent.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// This process's user id (the owner of `/proc/self`).
pub fn current_uid() -> io::Result<u32> {
    std::fs::metadata("/proc/self").map(|m| m.uid())
}

fn refuse(path: &Path, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("refusing the spool directory {}: {why}", path.display()),
    )
}

/// Creates `dir` (mode 0700, with missing parents, also 0700) and checks it is trusted.
pub fn prepare_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    check_tree(dir)
}

/// Checks `dir` itself (see [`check_dir`]) and each ancestor up to the first owned by root.
pub fn check_tree(dir: &Path) -> io::Result<()> {
    let uid = current_uid()?;
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(dir)
    };
    check_dir_as(&dir, uid)?;
    for ancestor in dir.ancestors().skip(1) {
        let meta = std::fs::symlink_metadata(ancestor)?;
        if meta.uid() == 0 {
            // A root-owned directory others can write is safe only with the sticky bit (/tmp).
            let open = meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0;
            if open && !meta.file_type().is_symlink() {
                return Err(refuse(
                    ancestor,
                    format!(
                        "it is writable by group or others without the sticky bit (mode {:o})",
                        meta.mode() & 0o7777
                    ),
                ));
            }
            return Ok(());
        }
        check_dir_as(ancestor, uid)?;
    }
    Ok(())
}

/// `dir` is a directory (not a symlink), owned by this user, writable by no one else.
pub fn check_dir(dir: &Path) -> io::Result<()> {
    check_dir_as(dir, current_uid()?)
}

fn check_dir_as(dir: &Path, uid: u32) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(refuse(dir, "it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(refuse(dir, "it is not a directory".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(
            dir,
            format!(
                "it is owned by uid {}, not by this user (uid {uid})",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(
            dir,
            format!(
                "it is writable by group or others (mode {:o}; use 0700)",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("paliadin-trust-{}", uuid::Uuid::new_v4()));
        std::fs::DirBuilder::new().mode(0o700).create(&d).unwrap();
        d
    }

    #[test]
    fn a_new_spool_is_0700_and_trusted() {
        let d = scratch();
        let spool = d.join("a").join("spool");
        prepare_dir(&spool).unwrap();
        let mode = std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_group_writable_symlinked_or_open_parent_spool_is_refused() {
        let d = scratch();
        let open = d.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_dir(&open).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        // A spool inside a directory others can write is refused too.
        let e = prepare_dir(&open.join("spool")).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        let target = d.join("target");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&target)
            .unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = prepare_dir(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
