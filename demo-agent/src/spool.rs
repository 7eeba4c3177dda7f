//! The agent side of the spool-file protocol (`docs/agent-protocol.md`).
//!
//! Per turn, in the spool dir: `<turn_id>.ack` (one line per receipt), `<turn_id>.partial`
//! (reply text so far), `<turn_id>.events` (JSON lines) and `<turn_id>.md` (the whole reply,
//! written to `<turn_id>.md.tmp` first and renamed, so a reader never sees half of it).

use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
use paliadin_shared::domain::trailer::Trailer;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// A spool directory that exists.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens the spool dir, creating it (and its parents, mode 0700) if missing; refuses one
    /// that is not this user's alone (`paliadin_shared::trust`).
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Spool> {
        let dir = dir.into();
        paliadin_shared::trust::prepare_dir(&dir)?;
        Ok(Spool { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one of a turn's files, e.g. `path(id, "md")`.
    pub fn path(&self, turn: Uuid, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", turn.hyphenated()))
    }

    /// Records one receipt of the turn: appends exactly one line to `<turn_id>.ack`.
    pub fn ack(&self, turn: Uuid, bytes: usize) -> io::Result<()> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.append(
            turn,
            "ack",
            &format!("{now} demo-agent received {bytes} bytes\n"),
        )
    }

    /// Appends a piece of the reply to `<turn_id>.partial`.
    pub fn partial(&self, turn: Uuid, text: &str) -> io::Result<()> {
        self.append(turn, "partial", text)
    }

    /// Appends `{"type":"activity","text":…}` to `<turn_id>.events`.
    pub fn activity(&self, turn: Uuid, text: &str) -> io::Result<()> {
        #[derive(serde::Serialize)]
        struct Activity<'a> {
            r#type: &'static str,
            text: &'a str,
        }
        let line = serde_json::to_string(&Activity {
            r#type: "activity",
            text,
        })?;
        self.append(turn, "events", &format!("{line}\n"))
    }

    /// Appends a status line (`compacting` or `compacted`, with its trigger) to
    /// `<turn_id>.events`, as Claude Code's compaction hooks do (`docs/agent-protocol.md`).
    pub fn status(&self, turn: Uuid, state: &str, trigger: &str) -> io::Result<()> {
        let line = serde_json::json!({"type": "status", "state": state, "trigger": trigger});
        self.append(turn, "events", &format!("{line}\n"))
    }

    /// Publishes the reply `body + "\n" + trailer line + "\n"` atomically as `<turn_id>.md`.
    pub fn reply(&self, turn: Uuid, body: &str, trailer: &Trailer) -> io::Result<()> {
        self.reply_raw(turn, &format!("{body}\n{}\n", trailer.render()))
    }

    /// Publishes an arbitrary reply file atomically (also used for deliberately bad ones).
    pub fn reply_raw(&self, turn: Uuid, contents: &str) -> io::Result<()> {
        let tmp = self.path(turn, "md.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, self.path(turn, "md"))
    }

    /// Gives up on the turn: publishes `<turn_id>.failure` (`{kind, message}`) whole, as Claude
    /// Code's `StopFailure` hook does (`docs/agent-protocol.md`).
    pub fn failure(&self, turn: Uuid, kind: &str, message: &str) -> io::Result<()> {
        let tmp = self.path(turn, "failure.tmp");
        fs::write(
            &tmp,
            serde_json::json!({"kind": kind, "message": message}).to_string(),
        )?;
        fs::rename(&tmp, self.path(turn, "failure"))
    }

    /// Asks the person: publishes `<turn_id>.perm-<n>.json` whole (written, then renamed).
    pub fn ask(&self, turn: Uuid, n: u32, ask: &PermissionAsk) -> io::Result<()> {
        let tmp = self.path(turn, &format!("perm-{n}.json.tmp"));
        fs::write(&tmp, ask.render())?;
        fs::rename(&tmp, self.path(turn, &format!("perm-{n}.json")))
    }

    /// The worker's answer to request `n`, once written (`<turn_id>.perm-<n>.decision`).
    pub fn decision(&self, turn: Uuid, n: u32) -> io::Result<Option<PermissionAnswer>> {
        match fs::read(self.path(turn, &format!("perm-{n}.decision"))) {
            Ok(bytes) => PermissionAnswer::parse(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn append(&self, turn: Uuid, ext: &str, text: &str) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(turn, ext))?;
        // One write per call, so a reader never sees a line cut by another writer.
        file.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paliadin_shared::domain::trailer::parse_reply;

    #[test]
    fn writes_each_file_of_the_protocol() {
        let dir = std::env::temp_dir().join(format!("paliadin-spool-{}", Uuid::new_v4()));
        let spool = Spool::open(dir.join("nested")).unwrap();
        let id = Uuid::new_v4();
        spool.ack(id, 3).unwrap();
        spool.ack(id, 3).unwrap();
        spool.partial(id, "Hel").unwrap();
        spool.activity(id, "say \"hi\"").unwrap();
        let trailer = Trailer {
            classifier_tag: "demo".into(),
            ..Trailer::default()
        };
        spool.reply(id, "Hello", &trailer).unwrap();
        let read = |ext| fs::read_to_string(spool.path(id, ext)).unwrap();
        assert_eq!(read("ack").lines().count(), 2);
        assert_eq!(read("partial"), "Hel");
        assert_eq!(
            read("events"),
            r#"{"type":"activity","text":"say \"hi\""}"#.to_owned() + "\n"
        );
        let reply = parse_reply(&read("md")).unwrap();
        assert_eq!((reply.text.as_str(), reply.trailer), ("Hello", trailer));
        assert!(!spool.path(id, "md.tmp").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
