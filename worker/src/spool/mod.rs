//! The spool: the directory where agents write each turn's files, and how the driver reads it.
//!
//! Per turn `<id>` (the agent side is specified in `docs/agent-protocol.md`):
//! - `<id>.ack` — one line per receipt of the envelope (confirms the paste was submitted);
//! - `<id>.partial` — the reply so far, append-only (streamed as content deltas);
//! - `<id>.events` — JSON lines, `{"type":"activity","text":…}` (streamed as activity) and
//!   `{"type":"status","state":"compacting"|"compacted",…}` (the compaction hooks);
//! - `<id>.md` — the final reply, renamed into place from `<id>.md.tmp` (atomic);
//! - `<id>.perm-<n>.json` — the agent asks the person (request `n`, from 1); the worker answers
//!   it with `<id>.perm-<n>.decision` (both renamed into place).
//!
//! [`SpoolWatcher`] turns inotify events into per-turn wake-ups; [`TurnFeed`] reads one turn's
//! files incrementally. Once the worker has committed a turn's result, the driver calls
//! [`SpoolDir::finish`], which moves the turn's files to `<spool>/done/` (kept for
//! `done_retention`, for debugging and for counting receipts); until then — and after
//! *abandon* — they stay for the next worker, who also looks in `done/` for a reply.

use paliadin_shared::trust;

mod feed;
mod text;
mod watch;

pub(crate) use feed::open_regular;
pub use feed::{MAX_EVENT_LINE, SpoolEvent, TurnFeed};
pub use watch::SpoolWatcher;

use paliadin_shared::domain::permission::{MAX_REQUESTS, PermissionAnswer};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use uuid::Uuid;

/// The files of one turn, by extension.
pub const EXTENSIONS: [&str; 6] = ["ack", "partial", "events", "md", "md.tmp", "failure"];

/// The driver's own marker, `<turn_id>.entered`: Enter was pressed on the turn's pasted envelope
/// (see [`SpoolDir::mark_entered`]). Not an agent file: it proves nothing was received.
pub const ENTERED: &str = "entered";

/// Files in `done/` are pruned at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Top-level files no turn finished (late writes after a cancel or timeout) go after this.
const STRAY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Default largest agent file of a turn (`PALIADIN_MAX_REPLY_BYTES`).
pub const DEFAULT_MAX_REPLY_BYTES: u64 = 4 * 1024 * 1024;

/// One spool directory.
#[derive(Debug)]
pub struct SpoolDir {
    root: PathBuf,
    /// Largest any one agent file of a turn may grow (`.md`, `.partial`, `.events`, `.ack`).
    max_reply_bytes: u64,
    /// How long finished turns' files stay in `done/`; zero deletes them at once.
    retention: Duration,
    last_prune: Mutex<Option<Instant>>,
}

impl SpoolDir {
    /// Creates the directory (mode 0700, parents too) if missing, and refuses one that is not
    /// this user's alone ([`trust::check_tree`]): a symlink, another owner, group/other write.
    pub fn prepare(root: impl Into<PathBuf>, retention: Duration) -> io::Result<SpoolDir> {
        let root = root.into();
        trust::prepare_dir(&root)?;
        let done = root.join("done");
        if done.symlink_metadata().is_ok() {
            trust::check_dir(&done)?;
        }
        Ok(SpoolDir {
            root,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            retention,
            last_prune: Mutex::new(None),
        })
    }

    /// Sets the largest agent file of a turn; a turn whose files grow past it fails.
    pub fn with_max_reply_bytes(mut self, limit: u64) -> SpoolDir {
        self.max_reply_bytes = limit;
        self
    }

    pub fn max_reply_bytes(&self) -> u64 {
        self.max_reply_bytes
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<spool>/<turn_id>.<ext>`.
    pub fn path(&self, turn: Uuid, ext: &str) -> PathBuf {
        self.root.join(file_name(turn, ext))
    }

    fn done_dir(&self) -> PathBuf {
        self.root.join("done")
    }

    /// `<spool>/done/<turn_id>.<ext>`: where a settled turn's files go.
    pub fn done_path(&self, turn: Uuid, ext: &str) -> PathBuf {
        self.done_dir().join(file_name(turn, ext))
    }

    /// `<spool>/<turn_id>.perm-<n>.<kind>` (`json`: the request, `decision`: the answer).
    pub fn perm_path(&self, turn: Uuid, n: u32, kind: &str) -> PathBuf {
        self.path(turn, &format!("perm-{n}.{kind}"))
    }

    /// Answers the agent's request `n`: writes `<turn>.perm-<n>.decision` whole (a temporary
    /// file renamed into place), so the agent never reads half of it.
    pub fn answer(&self, turn: Uuid, n: u32, answer: &PermissionAnswer) -> io::Result<()> {
        let path = self.perm_path(turn, n, "decision");
        let tmp = self.perm_path(turn, n, "decision.tmp");
        std::fs::write(&tmp, answer.render())?;
        std::fs::rename(&tmp, &path)
    }

    /// Records that Enter is about to be pressed on the turn's pasted envelope: from then on
    /// the agent may have the message before it writes any receipt (a slow receipt hook), so a
    /// later attempt must not take "no files yet" for "never submitted" (`tmux::resume`).
    pub fn mark_entered(&self, turn: Uuid) -> io::Result<()> {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.path(turn, ENTERED))
            .map(drop)
    }

    /// Whether an attempt pressed Enter on the turn's envelope ([`SpoolDir::mark_entered`]).
    pub fn entered(&self, turn: Uuid) -> bool {
        self.path(turn, ENTERED).exists()
    }

    /// How many receipts the agent recorded for the turn (its `.ack` lines), whether the turn
    /// is still running or finished (`done/`). Tests use it to prove a message was sent once.
    pub fn ack_count(&self, turn: Uuid) -> usize {
        ack_lines(&self.root, turn)
    }

    /// A turn reached a terminal outcome: move its files out of the way (or delete them), and
    /// prune old ones now and then. Errors are logged, never fatal: the turn is over.
    pub fn finish(&self, turn: Uuid) {
        let mut keep = !self.retention.is_zero();
        if keep
            && let Err(e) = std::fs::DirBuilder::new()
                .mode(0o700)
                .create(self.done_dir())
            && e.kind() != io::ErrorKind::AlreadyExists
        {
            tracing::warn!(error = %e, "cannot create the spool's done/ directory");
        }
        if keep && let Err(e) = trust::check_dir(&self.done_dir()) {
            // Never move replies into a directory someone else controls: delete them instead.
            tracing::warn!(error = %e, "not keeping finished turns' files");
            keep = false;
        }
        // Permission requests are numbered from 1 without gaps.
        let mut exts: Vec<String> = EXTENSIONS.iter().map(|e| (*e).to_owned()).collect();
        exts.push(ENTERED.to_owned());
        for n in (1..=MAX_REQUESTS).take_while(|&n| self.perm_path(turn, n, "json").exists()) {
            exts.extend([format!("perm-{n}.json"), format!("perm-{n}.decision")]);
        }
        for ext in exts {
            let ext = ext.as_str();
            let from = self.path(turn, ext);
            let result = if keep {
                std::fs::rename(&from, self.done_dir().join(file_name(turn, ext)))
            } else {
                std::fs::remove_file(&from)
            };
            if let Some(e) = result
                .as_ref()
                .err()
                .filter(|e| e.kind() != io::ErrorKind::NotFound)
            {
                tracing::warn!(error = %e, file = %from.display(), "cannot clean up a spool file");
            }
        }
        self.prune_if_due();
    }

    fn prune_if_due(&self) {
        {
            let mut last = self.last_prune.lock().expect("prune lock");
            if last.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        prune(&self.done_dir(), self.retention);
        prune(&self.root, STRAY_AFTER);
    }
}

/// Deletes turn files (`<uuid>.<ext>`) in `dir` last modified more than `age` ago.
fn prune(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if parse_name(&name.to_string_lossy()).is_none() {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age));
        if old && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The `.ack` lines of `turn` in the spool at `root`, live or in `done/` (see
/// [`SpoolDir::ack_count`]; the test rigs count receipts with it too). A settle may rename the
/// file into `done/` between the reads: the live file is read again after `done/`, and the
/// reads repeated if it changed, so one file never counts twice.
pub fn ack_lines(root: &Path, turn: Uuid) -> usize {
    let name = file_name(turn, "ack");
    let (live, done) = (root.join(&name), root.join("done").join(&name));
    let lines = |p: &Path| {
        std::fs::read(p)
            .ok()
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
    };
    loop {
        let (first, settled, again) = (lines(&live), lines(&done), lines(&live));
        if first == again {
            return first.unwrap_or(0) + settled.unwrap_or(0);
        }
    }
}

fn file_name(turn: Uuid, ext: &str) -> String {
    format!("{}.{ext}", turn.hyphenated())
}

/// `<uuid>.<ext>` → the turn id, for any extension (including `md.tmp`).
pub(crate) fn parse_name(name: &str) -> Option<Uuid> {
    let (id, _ext) = name.split_once('.')?;
    Uuid::try_parse(id).ok()
}
