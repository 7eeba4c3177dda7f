//! The spool as the hooks see it (`docs/agent-protocol.md` §3): the directory from
//! `PALIADIN_SPOOL_DIR` (created 0700, refused unless it is this user's alone: the worker's own
//! [`SpoolDir::prepare`]), the session's pending turn, the busy marker and its `.stopped-`
//! stamp, receipts and activity appended in one write, and replies published by rename.
//!
//! Every file the agent could have planted is opened with `O_NOFOLLOW`, must be a regular file
//! and is read up to a bound ([`crate::spool::open_regular`], as the worker reads them).

use super::json::{self, Json, Map};
use super::text;
use crate::spool::{self, SpoolDir};
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// Largest `.pending-<session>` and `.perm-<n>.decision` file read (both are a few bytes).
pub const MAX_SMALL_FILE: u64 = 64 * 1024;

/// One Claude session id (`.pending-<session_id>`), as Claude Code sends it.
fn is_session_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An agent's tmux name (`PALIADIN_SESSION`, for `.busy-<name>`): a session, or a
/// conversation's window in one (`paliadin_shared::SessionName`).
fn is_tmux_session(s: &str) -> bool {
    paliadin_shared::SessionName::parse(s).is_ok()
}

/// The spool directory of this hook run.
pub struct Spool {
    dir: SpoolDir,
    /// The directory as given, made absolute and normalised (Python's `os.path.abspath`).
    pub root: String,
    /// The tmux session (`PALIADIN_SESSION`), if it is a valid name.
    session: Option<String>,
}

/// The pending turn of a Claude session: `{"turn_id": …, "stop_blocks": n}` (other keys kept).
pub struct Pending {
    pub turn: Uuid,
    pub data: Map,
}

impl Spool {
    /// The spool from `PALIADIN_SPOOL_DIR`, or `None` without it (plain interactive `claude`).
    pub fn from_env() -> io::Result<Option<Spool>> {
        let Some(given) = std::env::var_os("PALIADIN_SPOOL_DIR").filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let root = abspath(Path::new(&given))?;
        let dir = SpoolDir::prepare(&root, Duration::ZERO)?;
        let session = std::env::var("PALIADIN_SESSION")
            .ok()
            .filter(|s| is_tmux_session(s));
        Ok(Some(Spool {
            dir,
            root: root.to_string_lossy().into_owned(),
            session,
        }))
    }

    /// `<spool>/<turn_id>.<ext>`.
    pub fn path(&self, turn: Uuid, ext: &str) -> PathBuf {
        self.dir.path(turn, ext)
    }

    /// Largest reply the worker accepts (`PALIADIN_MAX_REPLY_BYTES`, default 4 MiB): a bigger
    /// `.md.tmp` is not published.
    fn max_reply_bytes() -> u64 {
        std::env::var("PALIADIN_MAX_REPLY_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(spool::DEFAULT_MAX_REPLY_BYTES)
    }

    /// True once the turn needs nothing more from Claude: its reply is published (in the spool
    /// or already moved to `done/` by the worker), or the worker concluded the turn and removed
    /// its receipt (`.ack`, written by the prompt hook when the turn was submitted).
    pub fn concluded(&self, turn: Uuid) -> bool {
        self.path(turn, "md").exists()
            || self.dir.done_path(turn, "md").exists()
            || !self.path(turn, "ack").exists()
    }

    fn pending_path(&self, event: &Map) -> Option<PathBuf> {
        let session = event
            .get("session_id")
            .map(Json::py_str)
            .unwrap_or_default();
        is_session_id(&session).then(|| self.dir.root().join(format!(".pending-{session}")))
    }

    /// The pending turn of this Claude session, or `None`.
    pub fn read_pending(&self, event: &Map) -> Option<Pending> {
        let bytes = read_bounded(&self.pending_path(event)?, MAX_SMALL_FILE).ok()??;
        let Ok(Json::Object(data)) = json::parse(&bytes) else {
            return None;
        };
        let id = data.get("turn_id")?.as_str()?;
        if !text::is_turn_id(id) {
            return None;
        }
        let turn = Uuid::try_parse(id).ok()?;
        Some(Pending { turn, data })
    }

    pub fn write_pending(&self, event: &Map, pending: &Map) -> io::Result<()> {
        match self.pending_path(event) {
            Some(path) => {
                let text = json::dumps(&Json::Object(pending.clone()), true) + "\n";
                write_atomic(&path, text.as_bytes(), false)
            }
            None => Ok(()),
        }
    }

    pub fn clear_pending(&self, event: &Map) -> io::Result<()> {
        match self.pending_path(event) {
            Some(path) => remove_if_there(&path),
            None => Ok(()),
        }
    }

    fn busy_path(&self) -> Option<PathBuf> {
        let session = self.session.as_ref()?;
        Some(self.dir.root().join(format!(".busy-{session}")))
    }

    /// Marks the tmux session busy: `<spool>/.busy-<session>` (`<turn_id> <time>`).
    pub fn set_busy(&self, turn: Uuid) -> io::Result<()> {
        match self.busy_path() {
            Some(path) => write_atomic(&path, format!("{turn} {}\n", now()).as_bytes(), false),
            None => Ok(()),
        }
    }

    /// Claude may stop: the busy marker goes, and `<spool>/.stopped-<session>` says that it has
    /// just stopped. Claude is not ready for the next prompt when its Stop hook exits (it
    /// still finishes the turn, and text that arrives then is queued into that work), so the
    /// worker lets its screen settle before the next paste whenever this file is there, even
    /// when the marker was already gone when it looked (a reply the Stop hook itself wrote).
    pub fn clear_busy(&self) -> io::Result<()> {
        let (Some(busy), Some(session)) = (self.busy_path(), self.session.as_ref()) else {
            return Ok(());
        };
        let stopped = self.dir.root().join(format!(".stopped-{session}"));
        write_atomic(&stopped, format!("{}\n", now()).as_bytes(), false)?;
        remove_if_there(&busy)
    }

    /// Renames a finished `<turn_id>.md.tmp` (one that ends with a trailer line) to `.md`.
    /// One that cannot be read as UTF-8 text within the reply limit, or is not a regular file,
    /// is left alone (the worker would refuse it) and `false` returned.
    pub fn publish_tmp(&self, turn: Uuid) -> io::Result<bool> {
        let tmp = self.path(turn, "md.tmp");
        let bytes = match read_bounded(&tmp, Self::max_reply_bytes()) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(false),
            Err(e) => {
                eprintln!("paliadin hook: not publishing {}: {e}", tmp.display());
                return Ok(false);
            }
        };
        match std::str::from_utf8(&bytes) {
            Ok(text) if text::has_trailer(text) => {
                std::fs::rename(&tmp, self.path(turn, "md"))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Python's `os.path.abspath`: joined to the current directory, `.` and `..` resolved by
/// name (symbolic links are not followed).
fn abspath(path: &Path) -> io::Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::from("/");
    for part in joined.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// Reads a file the agent may control: never through a symlink, only a regular file, at most
/// `limit` bytes (larger is an error). `None` when it does not exist.
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let Some(file) = spool::open_regular(path).map_err(io::Error::other)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!(
            "{} is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(Some(bytes))
}

/// Appends `text` in one write (a reader never sees half a line from two writers); creates the
/// file if missing. Refuses a symlink or anything but a regular file.
pub fn append(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    file.write_all(text.as_bytes())
}

/// Writes `path` whole: a new `<path>.tmp-<pid>` (never through a symlink), renamed into place.
/// `durable` also syncs it first; the markers need no more than the rename's atomicity.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(name);
    remove_if_there(&tmp)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)?;
    file.write_all(bytes)?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(&tmp, path)
}

pub fn remove_if_there(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Now, UTC, as `2026-01-02T03:04:05.678Z`.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abspath_resolves_by_name() {
        assert_eq!(
            abspath(Path::new("/a/./b/../c//d/")).unwrap(),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(abspath(Path::new("/..")).unwrap(), PathBuf::from("/"));
    }

    #[test]
    fn names_follow_the_python_patterns() {
        assert!(is_session_id("0f1e-AB_9"));
        assert!(!is_session_id("a/b"));
        assert!(!is_session_id(&"x".repeat(129)));
        assert!(is_tmux_session("paliadin-0123abcd.1"));
        assert!(!is_tmux_session(""));
        assert!(!is_tmux_session("a b"));
        assert!(is_tmux_session(
            "paliadin-0123abcd:c-0123456789abcdef0123456789abcdef"
        ));
        assert!(!is_tmux_session("a:b:c"));
    }

    #[test]
    fn bounded_reads_refuse_symlinks_fifos_and_large_files() {
        let d = std::env::temp_dir().join(format!("paliadin-hook-files-{}", Uuid::new_v4()));
        std::fs::create_dir(&d).unwrap();
        let file = d.join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_bounded(&file, 5).unwrap().unwrap(), b"12345");
        assert!(read_bounded(&file, 4).is_err());
        assert!(read_bounded(&d.join("missing"), 4).unwrap().is_none());
        let link = d.join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_bounded(&link, 100).is_err());
        assert!(
            append(&link, "x").is_err(),
            "append never follows a symlink"
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"12345");
        let fifo = d.join("p");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo");
        assert!(read_bounded(&fifo, 100).is_err());
        write_atomic(&link, b"new", false).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"12345",
            "the link is replaced"
        );
        assert_eq!(std::fs::read(&link).unwrap(), b"new");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
