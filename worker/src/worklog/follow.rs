//! Follows one turn's transcript file as the agent appends to it, and reports each new step.
//!
//! The file is the agent's, so it is not trusted: it is opened without following a symbolic
//! link and must be a regular file (`crate::spool::open_regular`), it is read from where it
//! stood when the turn began (a takeover, which may come after the envelope, reads at most the
//! last [`TAIL_BYTES`]), at most [`READ_MAX`] bytes per look, and a line longer than
//! [`MAX_LINE`] is skipped whole. The file is looked at every [`POLL`] (a stat, then a read only
//! when it grew): the transcript lives in the agent's own directories, which an inotify watch
//! of the worker's would have to follow as they are created.
//!
//! The file may be named only after the turn began (Codex's rollout, named by its prompt hook,
//! [`super::Locate::CodexLink`]), or be replaced by another (Codex started a new rollout for
//! the conversation): a file first named after the start is read from its last [`TAIL_BYTES`],
//! as a takeover reads, since the parser passes over everything before the turn's envelope.
//! Only the parser depends on the agent ([`super::Format`]).

use super::step::Step;
use super::{Entries, Locate, Source};
use crate::driver::Progress;
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_millis(200);
/// How far back a takeover looks for the turn's envelope.
pub const TAIL_BYTES: u64 = 8 << 20;
/// Most bytes read per look.
pub const READ_MAX: u64 = 1 << 20;
/// Longest transcript line read (a tool result may hold a whole file); longer ones are skipped.
pub const MAX_LINE: usize = 8 << 20;
/// How long, once the reply is in, the follower waits for the transcript to show the turn's
/// end (Claude Code writes it in batches).
pub const SETTLE_WAIT: Duration = Duration::from_secs(1);

/// One turn's view of its transcript.
pub struct Follower {
    locate: Locate,
    /// The file followed; None until it can be named.
    path: Option<PathBuf>,
    /// Where to read next; None until the file is first seen.
    offset: Option<u64>,
    /// From the start of the tail (a takeover) or from the end the file had at the start.
    from_tail: bool,
    pending: Vec<u8>,
    skipping: bool,
    parser: Box<dyn Entries>,
    /// Steps read but not reported yet. Kept here, not in [`Follower::look`]'s future: the
    /// turn drops [`Follower::run`] when its reply comes in, possibly between two reports, and
    /// [`Follower::finish`] then reports the rest (a step reported twice is written once: the
    /// sink keeps each number once).
    unsent: VecDeque<Step>,
}

impl Follower {
    /// Follows `source` for `turn`. `takeover`: the envelope may already be in the file (an
    /// earlier attempt delivered it), so the last [`TAIL_BYTES`] are read; else only what is
    /// appended from now on. `hide`: see [`super::transcript::Parser::new`].
    pub fn new(source: Source, turn: Uuid, takeover: bool, hide: Vec<String>) -> Follower {
        let path = source.locate.path();
        let mut f = Follower {
            locate: source.locate,
            path,
            offset: None,
            from_tail: takeover,
            pending: Vec::new(),
            skipping: false,
            parser: source.format.parser(turn, hide),
            unsent: VecDeque::new(),
        };
        if !takeover
            && let Some(path) = &f.path
            && let Ok(m) = std::fs::symlink_metadata(path)
        {
            f.offset = Some(m.len());
        }
        f
    }

    /// The file to read now: the one named so far, or a newly named one (read from its tail).
    fn current(&mut self) -> Option<PathBuf> {
        if let Locate::File(p) = &self.locate {
            return Some(p.clone());
        }
        let now = self.locate.path();
        if now.is_some() && now != self.path {
            self.path = now;
            self.offset = None;
            self.from_tail = true;
            self.pending.clear();
            self.skipping = false;
        }
        self.path.clone()
    }

    /// Reports steps as they appear until `stop` is cancelled, then returns between two reports,
    /// never in the middle of one: a step write cut short may or may not have reached the
    /// database, so the caller lets it end (cancel `stop`, then await this) rather than drop it.
    pub async fn run(&mut self, progress: &dyn Progress, stop: &CancellationToken) {
        loop {
            self.look(progress).await;
            if stop.is_cancelled() {
                return;
            }
            if self.parser.done() {
                return stop.cancelled().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// The turn's reply is in: reports what the transcript still adds until it shows the turn's
    /// end, at most [`SETTLE_WAIT`].
    pub async fn finish(&mut self, progress: &dyn Progress) {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            self.look(progress).await;
            if self.parser.settled() || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads what is new (until the end of the file) and reports its steps. Cancel-safe: a step
    /// leaves [`Follower::unsent`] only once reported.
    async fn look(&mut self, progress: &dyn Progress) {
        loop {
            while let Some(s) = self.unsent.front() {
                progress.step(s).await;
                self.unsent.pop_front();
            }
            let (steps, more) = self.read();
            let read = !steps.is_empty();
            self.unsent.extend(steps);
            if !more && !read {
                return;
            }
        }
    }

    /// One bounded read: the steps of the complete lines in it, and whether more is there.
    fn read(&mut self) -> (Vec<Step>, bool) {
        let Some(path) = self.current() else {
            return (Vec::new(), false);
        };
        let mut file = match crate::spool::open_regular(&path) {
            Ok(Some(f)) => f,
            Ok(None) => return (Vec::new(), false),
            Err(e) => {
                tracing::debug!(error = %e, "cannot follow the agent's transcript");
                return (Vec::new(), false);
            }
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return (Vec::new(), false);
        };
        let offset = *self.offset.get_or_insert_with(|| {
            if self.from_tail {
                len.saturating_sub(TAIL_BYTES)
            } else {
                0
            }
        });
        if len < offset {
            // Rewritten (not how an agent writes it): follow its new end.
            self.offset = Some(len);
            self.pending.clear();
            return (Vec::new(), false);
        }
        if len == offset || file.seek(SeekFrom::Start(offset)).is_err() {
            return (Vec::new(), false);
        }
        let mut bytes = Vec::new();
        if file.take(READ_MAX).read_to_end(&mut bytes).is_err() {
            return (Vec::new(), false);
        }
        if self.from_tail && offset > 0 {
            // The tail starts mid-line: its first partial line is skipped.
            self.skipping = true;
        }
        self.from_tail = false;
        self.offset = Some(offset + bytes.len() as u64);
        let mut rest = &bytes[..];
        let mut steps = Vec::new();
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b'\n');
            let (chunk, after) = match end {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            if !self.skipping {
                self.pending.extend_from_slice(chunk);
                if self.pending.len() > MAX_LINE {
                    tracing::debug!(limit = MAX_LINE, "skipping an over-long transcript line");
                    self.pending.clear();
                    self.skipping = true;
                }
            }
            if end.is_some() {
                if !self.skipping {
                    let line = std::mem::take(&mut self.pending);
                    steps.extend(self.parser.line(&line));
                }
                self.skipping = false;
            }
            rest = after;
        }
        let more = self.offset.unwrap_or(0) < len && !self.parser.done();
        (steps, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Steps(Mutex<Vec<Step>>);

    #[async_trait]
    impl Progress for Steps {
        async fn delivered(&self) {}
        async fn content(&self, _: &str) {}
        async fn activity(&self, _: &str) {}
        async fn permission(&self, _: u32, _: &PermissionAsk) -> Option<PermissionAnswer> {
            None
        }
        async fn waiting(&self, _: &str) {}
        async fn step(&self, step: &Step) {
            self.0.lock().unwrap().push(step.clone());
        }
    }

    #[tokio::test]
    async fn appended_entries_are_reported_once_and_half_lines_wait() {
        let dir = std::env::temp_dir().join(format!("paliadin-worklog-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let turn = Uuid::now_v7();
        let mut old = std::fs::File::create(&path).unwrap();
        writeln!(
            old,
            "{{\"type\":\"user\",\"message\":{{\"content\":\"[PALIADIN:{turn}] old\"}}}}"
        )
        .unwrap();
        let claude = |p: &std::path::Path| Source {
            format: super::super::Format::Claude,
            locate: Locate::File(p.to_owned()),
        };
        let mut f = Follower::new(claude(&path), turn, false, Vec::new());
        let steps = Steps::default();
        let env =
            format!("{{\"type\":\"user\",\"message\":{{\"content\":\"[PALIADIN:{turn}] hi\"}}}}\n");
        let tool = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"Bash","input":{"command":"ls"}}]}}"#;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(env.as_bytes()).unwrap();
        file.write_all(&tool.as_bytes()[..20]).unwrap();
        f.look(&steps).await;
        assert!(steps.0.lock().unwrap().is_empty(), "half a line waits");
        file.write_all(&tool.as_bytes()[20..]).unwrap();
        file.write_all(b"\n").unwrap();
        f.look(&steps).await;
        f.look(&steps).await;
        let got = steps.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to_json()["summary"], "ls");
        // A takeover reads the envelope from the tail and finds the same step.
        let mut again = Follower::new(claude(&path), turn, true, Vec::new());
        let steps2 = Steps::default();
        again.look(&steps2).await;
        assert_eq!(*steps2.0.lock().unwrap(), got);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A progress whose second step never finishes being written (the turn ends meanwhile).
    #[derive(Default)]
    struct Stalls(Mutex<Vec<Step>>);

    #[async_trait]
    impl Progress for Stalls {
        async fn delivered(&self) {}
        async fn content(&self, _: &str) {}
        async fn activity(&self, _: &str) {}
        async fn permission(&self, _: u32, _: &PermissionAsk) -> Option<PermissionAnswer> {
            None
        }
        async fn waiting(&self, _: &str) {}
        async fn step(&self, step: &Step) {
            if !self.0.lock().unwrap().is_empty() {
                std::future::pending::<()>().await;
            }
            self.0.lock().unwrap().push(step.clone());
        }
    }

    #[tokio::test]
    async fn steps_read_before_the_turn_ended_are_reported_by_finish() {
        let dir = std::env::temp_dir().join(format!("paliadin-worklog-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let turn = Uuid::now_v7();
        let lines = [
            format!("{{\"type\":\"user\",\"message\":{{\"content\":\"[PALIADIN:{turn}] hi\"}}}}"),
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Looking."}]}}"#.to_owned(),
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"a","name":"Bash","input":{"command":"ls"}}]}}"#.to_owned(),
        ];
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let source = Source {
            format: super::super::Format::Claude,
            locate: Locate::File(path.clone()),
        };
        let mut f = Follower::new(source, turn, true, Vec::new());
        // The live follower reports the text, then is dropped while writing the tool call (the
        // reply came in): `finish` must still report that step.
        let stalls = Stalls::default();
        let never = CancellationToken::new();
        let cut = tokio::time::timeout(Duration::from_millis(200), f.run(&stalls, &never)).await;
        assert!(cut.is_err(), "the second step stalls");
        assert_eq!(stalls.0.lock().unwrap().len(), 1);
        let rest = Steps::default();
        f.finish(&rest).await;
        let got = rest.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].to_json()["summary"], "ls");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_codex_rollout_named_after_the_start_is_followed_from_its_beginning() {
        let dir = std::env::temp_dir().join(format!("paliadin-worklog-{}", Uuid::now_v7()));
        let spool = dir.join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let (turn, conversation) = (Uuid::now_v7(), Uuid::now_v7());
        let source = Source {
            format: super::super::Format::Codex,
            locate: Locate::CodexLink {
                spool: spool.clone(),
                conversation,
            },
        };
        let mut f = Follower::new(source, turn, false, Vec::new());
        let steps = Steps::default();
        f.look(&steps).await;
        let rollout = dir.join(format!(
            "rollout-2026-12-06T21-19-02-{}.jsonl",
            Uuid::now_v7()
        ));
        let prompt = serde_json::json!({"type": "response_item", "payload": {"type": "message",
            "role": "user", "content": [{"type": "input_text", "text": format!("[PALIADIN:{turn}] hi")}]}});
        let call = serde_json::json!({"type": "response_item", "payload": {"type": "function_call",
            "name": "exec_command", "call_id": "c1", "arguments": "{\"cmd\":\"ls\"}"}});
        std::fs::write(&rollout, format!("{prompt}\n{call}\n")).unwrap();
        f.look(&steps).await;
        assert!(steps.0.lock().unwrap().is_empty(), "not named yet");
        std::fs::write(
            crate::agent::codex_link(&spool, conversation),
            format!("{}\n", rollout.display()),
        )
        .unwrap();
        f.look(&steps).await;
        let got = steps.0.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].to_json()["summary"], "ls");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
