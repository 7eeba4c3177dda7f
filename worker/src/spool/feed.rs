//! `TurnFeed`: reads one turn's spool files incrementally and yields what is new.
//!
//! The feed keeps a cursor per file, so a wake-up (from [`super::SpoolWatcher`]) only says
//! "look again": several writes coalesced into one wake-up lose nothing. Each scan reads, in
//! order, `.ack` (counted), `.events` (complete lines only), `.partial` (new bytes, cut on UTF-8
//! character boundaries; an incomplete trailing sequence waits for the next write), `.md`.

use super::SpoolDir;
use super::text::{activity_text, take_utf8};
use paliadin_shared::domain::permission::{
    AskError, MAX_REQUEST_FILE, MAX_REQUESTS, PermissionAnswer, PermissionAsk,
};
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
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
    /// The whole `.md` file, once.
    Reply(String),
    /// The agent's permission request `n` (`.perm-<n>.json`), not answered yet; a malformed
    /// one is still reported, so the worker can deny it instead of leaving the agent waiting.
    Permission {
        n: u32,
        ask: Result<PermissionAsk, AskError>,
    },
}

/// Read position in an append-only file plus bytes not yet usable (half a line or character).
#[derive(Debug, Default)]
struct Cursor {
    offset: u64,
    pending: Vec<u8>,
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
    /// Permission requests seen so far (they are numbered from 1).
    perms: u32,
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
            perms: 0,
        }
    }

    /// Answers the agent's permission request `n` (see [`SpoolDir::answer`]).
    pub fn answer(&self, n: u32, answer: &PermissionAnswer) -> std::io::Result<()> {
        self.dir.answer(self.turn, n, answer)
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
        let path = |ext| self.dir.path(self.turn, ext);
        let (ack, events, partial, reply) =
            (path("ack"), path("events"), path("partial"), path("md"));
        if let Some(bytes) = read_new(&ack, &mut self.ack) {
            self.received = true;
            self.acks += bytes.iter().filter(|&&b| b == b'\n').count();
        }
        if let Some(bytes) = read_new(&events, &mut self.events) {
            self.received = true;
            self.events.pending.extend_from_slice(&bytes);
            while let Some(end) = self.events.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.events.pending.drain(..=end).collect();
                if let Some(text) = activity_text(&line) {
                    self.queue.push_back(SpoolEvent::Activity(text));
                }
            }
        }
        if let Some(bytes) = read_new(&partial, &mut self.partial) {
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
        let done = || std::fs::read(self.dir.done_path(self.turn, "md"));
        if !self.reply_seen
            && let Ok(bytes) = std::fs::read(&reply).or_else(|_| done())
        {
            self.reply_seen = true;
            self.received = true;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            self.queue.push_back(SpoolEvent::Reply(text));
        }
    }
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
/// or `None` if it does not exist.
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_REQUEST_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// The bytes appended since the cursor, or `None` if the file does not exist. A file that
/// shrank (the agent rewrote it, against the protocol) is followed from its new end.
fn read_new(path: &Path, cur: &mut Cursor) -> Option<Vec<u8>> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    if len < cur.offset {
        tracing::warn!(file = %path.display(), "spool file shrank; following its new end");
        cur.offset = len;
        cur.pending.clear();
    }
    file.seek(SeekFrom::Start(cur.offset)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    cur.offset += bytes.len() as u64;
    Some(bytes)
}
