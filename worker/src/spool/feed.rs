//! `TurnFeed`: reads one turn's spool files incrementally and yields what is new.
//!
//! The feed keeps a cursor per file, so a wake-up (from [`super::SpoolWatcher`]) only says
//! "look again": several writes coalesced into one wake-up lose nothing. Each scan reads, in
//! order, `.ack` (counted), `.events` (complete lines only), `.partial` (new bytes, cut on UTF-8
//! character boundaries; an incomplete trailing sequence waits for the next write), `.md`.
//!
//! Agents' files are bounded and never followed: each is opened with `O_NOFOLLOW` and must be
//! a regular file; none may grow past the spool's reply limit (`PALIADIN_MAX_REPLY_BYTES`);
//! an `.events` line longer than [`MAX_EVENT_LINE`] is skipped. Breaking a rule ends the turn
//! with [`SpoolEvent::Refused`] (`invalid_reply`), read no further.

use super::SpoolDir;
use super::text::{activity_text, compaction_status, take_utf8};
use paliadin_shared::domain::agent_failure::{AgentFailure, MAX_FAILURE_FILE};
use paliadin_shared::domain::permission::{
    AskError, MAX_REQUEST_FILE, MAX_REQUESTS, PermissionAnswer, PermissionAsk,
};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Something new in a turn's spool files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolEvent {
    /// New text appended to `.partial`.
    Content(String),
    /// An `activity` line from `.events`.
    Activity(String),
    /// A compaction status line from `.events`: the agent starts (`done: false`) or ends
    /// compacting its conversation; `trigger` is `auto`, `manual` or `unknown`.
    Compacting { done: bool, trigger: &'static str },
    /// The whole `.md` file, once.
    Reply(String),
    /// The agent's permission request `n` (`.perm-<n>.json`), not answered yet; a malformed
    /// one is still reported, so the worker can deny it instead of leaving the agent waiting.
    Permission {
        n: u32,
        ask: Result<PermissionAsk, AskError>,
    },
    /// `.failure`: the agent's model call failed and the agent gave up on the turn
    /// (`docs/agent-protocol.md` §3). Reported once, and only while no `.md` is there.
    Failure(AgentFailure),
    /// A turn file broke the spool's rules (too large, a symlink, not a regular file): the
    /// turn fails `invalid_reply` with this reason, and nothing more is read.
    Refused(String),
}

/// Longest `.events` line kept; a longer one is skipped whole (activity text is short).
pub const MAX_EVENT_LINE: usize = 16 * 1024;

/// Read position in an append-only file plus bytes not yet usable (half a line or character).
#[derive(Debug, Default)]
struct Cursor {
    offset: u64,
    pending: Vec<u8>,
    /// Inside an over-long line: bytes are dropped up to its newline.
    skipping: bool,
}

/// One turn's view of the spool. Dropping it unsubscribes from the watcher.
pub struct TurnFeed {
    turn: Uuid,
    dir: Arc<SpoolDir>,
    wake: mpsc::Receiver<()>,
    /// Keeps the watcher's routing entry alive; removed on drop.
    _subscription: super::watch::Subscription,
    queue: VecDeque<SpoolEvent>,
    scanned: bool,
    acks: usize,
    received: bool,
    ack: Cursor,
    events: Cursor,
    partial: Cursor,
    reply_seen: bool,
    failure_seen: bool,
    /// Permission requests seen so far (they are numbered from 1).
    perms: u32,
    /// A file broke the rules: the feed reported it and reads nothing more.
    refused: bool,
}

impl TurnFeed {
    pub(super) fn new(
        turn: Uuid,
        dir: Arc<SpoolDir>,
        wake: mpsc::Receiver<()>,
        subscription: super::watch::Subscription,
    ) -> Self {
        TurnFeed {
            turn,
            dir,
            wake,
            _subscription: subscription,
            queue: VecDeque::new(),
            scanned: false,
            acks: 0,
            received: false,
            ack: Cursor::default(),
            events: Cursor::default(),
            partial: Cursor::default(),
            reply_seen: false,
            failure_seen: false,
            perms: 0,
            refused: false,
        }
    }

    /// Records that Enter is about to be pressed on the envelope ([`SpoolDir::mark_entered`]).
    pub fn mark_entered(&self) -> std::io::Result<()> {
        self.dir.mark_entered(self.turn)
    }

    /// Answers the agent's permission request `n` (see [`SpoolDir::answer`]).
    pub fn answer(&self, n: u32, answer: &PermissionAnswer) -> std::io::Result<()> {
        self.dir.answer(self.turn, n, answer)
    }

    /// The turn this feed reads.
    pub fn turn(&self) -> Uuid {
        self.turn
    }

    /// `.ack` lines seen so far.
    pub fn acks(&self) -> usize {
        self.acks
    }

    /// The agent has shown it got the envelope: any of its files for this turn exists.
    pub fn received(&self) -> bool {
        self.received
    }

    /// The next event; waits for a wake-up when nothing is queued. Cancel-safe.
    pub async fn next(&mut self) -> SpoolEvent {
        loop {
            if !self.scanned {
                self.scan();
            }
            if let Some(ev) = self.queue.pop_front() {
                return ev;
            }
            // The sender lives in the watcher, which outlives every feed it hands out.
            if self.wake.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
            self.scanned = false;
        }
    }

    /// An already-queued event, without waiting.
    pub fn try_next(&mut self) -> Option<SpoolEvent> {
        self.queue.pop_front()
    }

    /// Waits (until `deadline`) for a sign of receipt: an ack line or any other turn file.
    pub async fn wait_received(&mut self, deadline: tokio::time::Instant) -> bool {
        loop {
            self.scan();
            if self.received {
                return true;
            }
            tokio::select! {
                w = self.wake.recv() => if w.is_none() { return false },
                _ = tokio::time::sleep_until(deadline) => { self.scan(); return self.received }
            }
        }
    }

    /// Reads everything new, now.
    pub fn scan(&mut self) {
        self.scanned = true;
        if self.refused {
            return;
        }
        if let Err(reason) = self.scan_files() {
            tracing::warn!(turn_id = %self.turn, %reason, "refusing the agent's files");
            self.refused = true;
            self.received = true;
            self.queue.push_back(SpoolEvent::Refused(reason));
        }
    }

    fn scan_files(&mut self) -> Result<(), String> {
        let limit = self.dir.max_reply_bytes();
        let path = |ext| self.dir.path(self.turn, ext);
        let (ack, events, partial, reply) =
            (path("ack"), path("events"), path("partial"), path("md"));
        if let Some(bytes) = read_new(&ack, &mut self.ack, limit)? {
            self.received = true;
            self.acks += bytes.iter().filter(|&&b| b == b'\n').count();
        }
        if let Some(bytes) = read_new(&events, &mut self.events, limit)? {
            self.received = true;
            for line in split_lines(&mut self.events, &bytes) {
                if let Some(text) = activity_text(&line) {
                    self.queue.push_back(SpoolEvent::Activity(text));
                } else if let Some((done, trigger)) = compaction_status(&line) {
                    self.queue
                        .push_back(SpoolEvent::Compacting { done, trigger });
                }
            }
        }
        if let Some(bytes) = read_new(&partial, &mut self.partial, limit)? {
            self.received = true;
            self.partial.pending.extend_from_slice(&bytes);
            let text = take_utf8(&mut self.partial.pending);
            if !text.is_empty() {
                self.queue.push_back(SpoolEvent::Content(text));
            }
        }
        self.scan_permissions();
        // A reply already moved to `done/` (by an older worker that settled before its commit
        // failed) still answers the turn.
        if !self.reply_seen {
            let bytes = match read_whole(&reply, limit)? {
                Some(bytes) => Some(bytes),
                None => read_whole(&self.dir.done_path(self.turn, "md"), limit)?,
            };
            if let Some(bytes) = bytes {
                self.reply_seen = true;
                self.received = true;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.queue.push_back(SpoolEvent::Reply(text));
            }
        }
        if !self.reply_seen && !self.failure_seen {
            let path = self.dir.path(self.turn, "failure");
            if let Some(bytes) = read_whole(&path, MAX_FAILURE_FILE as u64)? {
                self.failure_seen = true;
                self.received = true;
                let failure = AgentFailure::parse(&bytes).unwrap_or_else(|| {
                    AgentFailure::new(
                        "unknown",
                        "the agent reported a failure it did not describe",
                    )
                });
                self.queue.push_back(SpoolEvent::Failure(failure));
            }
        }
        Ok(())
    }
}

/// Complete lines out of `cur.pending` + `bytes`; a line growing past [`MAX_EVENT_LINE`] is
/// dropped whole (up to its newline), so half a line never grows without bound.
fn split_lines(cur: &mut Cursor, mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    while !bytes.is_empty() {
        let end = bytes.iter().position(|&b| b == b'\n');
        let (chunk, rest) = match end {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (bytes, &[][..]),
        };
        if !cur.skipping {
            cur.pending.extend_from_slice(chunk);
            if cur.pending.len() > MAX_EVENT_LINE {
                tracing::warn!(limit = MAX_EVENT_LINE, "skipping an over-long .events line");
                cur.pending.clear();
                cur.skipping = true;
            }
        }
        if end.is_some() {
            if !cur.skipping {
                lines.push(std::mem::take(&mut cur.pending));
            }
            cur.skipping = false;
        }
        bytes = rest;
    }
    lines
}

impl TurnFeed {
    /// New permission requests, in order. One answered already (its `.decision` exists, e.g.
    /// written by an earlier attempt) is passed over.
    fn scan_permissions(&mut self) {
        while self.perms < MAX_REQUESTS {
            let n = self.perms + 1;
            let Some(bytes) = read_bounded(&self.dir.perm_path(self.turn, n, "json")) else {
                return;
            };
            self.perms = n;
            self.received = true;
            if self.dir.perm_path(self.turn, n, "decision").exists() {
                continue;
            }
            let ask = PermissionAsk::parse(&bytes);
            self.queue.push_back(SpoolEvent::Permission { n, ask });
        }
    }
}

/// A whole small file (at most one byte over [`MAX_REQUEST_FILE`], which the parser refuses),
/// or `None` if it does not exist or is no regular file.
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let file = open_regular(path).ok()??;
    let mut bytes = Vec::new();
    file.take(MAX_REQUEST_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// Opens a turn file for reading, never through a symlink (`O_NOFOLLOW`) and never blocking
/// (`O_NONBLOCK`, for a FIFO); `None` if it does not exist; an error if it is anything but a
/// regular file.
pub(crate) fn open_regular(path: &Path) -> Result<Option<File>, String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(format!("the agent's file {name} is a symbolic link"));
        }
        Err(e) => return Err(format!("the agent's file {name} cannot be read: {e}")),
    };
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(Some(file)),
        Ok(_) => Err(format!("the agent's file {name} is not a regular file")),
        Err(e) => Err(format!("the agent's file {name} cannot be read: {e}")),
    }
}

fn too_large(path: &Path, limit: u64) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!("the agent's file {name} is larger than {limit} bytes (PALIADIN_MAX_REPLY_BYTES)")
}

/// A whole file of at most `limit` bytes, `None` if it does not exist.
fn read_whole(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(Some(bytes))
}

/// The bytes appended since the cursor, `None` if the file does not exist; an error once the
/// file passes `limit` bytes. A file that shrank (the agent rewrote it, against the protocol)
/// is followed from its new end.
fn read_new(path: &Path, cur: &mut Cursor, limit: u64) -> Result<Option<Vec<u8>>, String> {
    let Some(mut file) = open_regular(path)? else {
        return Ok(None);
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return Ok(None);
    };
    if len < cur.offset {
        tracing::warn!(file = %path.display(), "spool file shrank; following its new end");
        cur.offset = len;
        cur.pending.clear();
        cur.skipping = false;
    }
    if file.seek(SeekFrom::Start(cur.offset)).is_err() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    let room = (limit + 1).saturating_sub(cur.offset);
    if file.take(room).read_to_end(&mut bytes).is_err() {
        return Ok(None);
    }
    cur.offset += bytes.len() as u64;
    if cur.offset > limit {
        return Err(too_large(path, limit));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_long_events_line_is_skipped_whole_and_never_buffered() {
        let mut cur = Cursor::default();
        let good = br#"{"type":"activity","text":"ok"}"#;
        // Half a line, then a huge tail without newline: nothing grows past the limit.
        let mut lines = split_lines(&mut cur, &good[..]);
        assert!(lines.is_empty());
        for _ in 0..64 {
            lines.extend(split_lines(&mut cur, &[b'x'; 4096]));
            assert!(cur.pending.len() <= MAX_EVENT_LINE);
        }
        // Its newline ends the skip; the next line is read.
        let mut next = b"tail\n".to_vec();
        next.extend_from_slice(good);
        next.push(b'\n');
        lines.extend(split_lines(&mut cur, &next));
        assert_eq!(lines, vec![good.to_vec()]);
    }
}
