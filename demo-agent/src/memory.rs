//! The demo agent's conversation memory, so that every test without Claude Code exercises the
//! same start/resume logic as Claude's (`worker/src/tmux/launch.rs`): `--session-id <uuid>`
//! starts a conversation, `--resume <uuid>` continues one. Each message the agent takes is
//! appended as one JSON string line to `<state>/<uuid>.jsonl`; `/recall` answers with them.
//! The same file holds, as JSON objects, entries shaped like Claude Code's transcript (the
//! envelope, interim text, tool calls and their results: [`Memory::log`]), which the worker
//! follows for the turn's work log (`crate::worklog`); reading the memory skips them.
//!
//! Like Claude Code, `--resume` of a conversation this machine does not have fails ("No
//! conversation found with session ID: …", exit 1), and so does `--session-id` of one it has
//! ("Session ID … is already in use."): the worker then starts it the other way.
//!
//! The state directory: `$PALIADIN_DEMO_STATE_DIR`, else `$XDG_STATE_HOME/paliadin-demo`, else
//! `$HOME/.local/state/paliadin-demo` (created `0700`).

use std::io::{self, BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use uuid::Uuid;

/// How many remembered messages `/recall` lists at most (the newest).
pub const RECALL_MAX: usize = 50;
/// Largest remembered message, in characters (longer ones are cut).
pub const MESSAGE_MAX: usize = 2000;

/// What the agent remembers of its conversation.
#[derive(Debug, Default)]
pub struct Memory {
    /// Where it is kept; None without `--session-id` / `--resume` (nothing is kept).
    path: Option<PathBuf>,
    messages: Mutex<Vec<String>>,
}

/// How the agent was asked to hold its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    Start(Uuid),
    Resume(Uuid),
}

impl Memory {
    /// No conversation: nothing is remembered.
    pub fn none() -> Memory {
        Memory::default()
    }

    /// Opens the conversation in `dir` as asked.
    pub fn open(dir: &Path, how: Open) -> Result<Memory, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let (id, resume) = match how {
            Open::Start(id) => (id, false),
            Open::Resume(id) => (id, true),
        };
        let path = dir.join(format!("{id}.jsonl"));
        let exists = path.is_file();
        if resume && !exists {
            return Err(format!("No conversation found with session ID: {id}"));
        }
        if !resume && exists {
            return Err(format!("Session ID {id} is already in use."));
        }
        let mut messages = Vec::new();
        if exists {
            let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            for line in io::BufReader::new(file).lines() {
                let line = line.map_err(|e| e.to_string())?;
                if let Ok(m) = serde_json::from_str::<String>(&line) {
                    messages.push(m);
                }
            }
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        }
        Ok(Memory {
            path: Some(path),
            messages: Mutex::new(messages),
        })
    }

    /// Keeps `message` (cut to [`MESSAGE_MAX`] characters).
    pub fn remember(&self, message: &str) -> io::Result<()> {
        let kept: String = message.chars().take(MESSAGE_MAX).collect();
        if let Some(path) = &self.path {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(path)?;
            writeln!(f, "{}", serde_json::Value::String(kept.clone()))?;
        }
        self.messages.lock().expect("memory").push(kept);
        Ok(())
    }

    /// Appends one transcript entry (`{"type": "user" | "assistant", "message": {…}}`, as
    /// Claude Code writes them) for the work log.
    pub fn log(&self, entry: &serde_json::Value) -> io::Result<()> {
        if let Some(path) = &self.path {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(path)?;
            writeln!(f, "{entry}")?;
        }
        Ok(())
    }

    /// The messages kept before the last one (the one being answered), oldest first.
    pub fn earlier(&self) -> Vec<String> {
        let m = self.messages.lock().expect("memory");
        let before = m.len().saturating_sub(1);
        m[before.saturating_sub(RECALL_MAX)..before].to_vec()
    }
}

/// `--session-id <uuid>` or `--resume <uuid>` from the agent's arguments (after the program);
/// None when neither is given; an error for anything else.
pub fn parse_args(args: &[String]) -> Result<Option<Open>, String> {
    match args {
        [] => Ok(None),
        [flag, id] if flag == "--session-id" || flag == "--resume" => {
            let id = Uuid::parse_str(id).map_err(|_| format!("{flag}: {id:?} is not a UUID"))?;
            Ok(Some(if flag == "--resume" {
                Open::Resume(id)
            } else {
                Open::Start(id)
            }))
        }
        other => Err(format!("unexpected arguments {other:?}; try --help")),
    }
}

/// Where conversations are kept (see the module docs); None when no directory can be named.
pub fn state_dir() -> Option<PathBuf> {
    let var = |n: &str| {
        std::env::var_os(n)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("PALIADIN_DEMO_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("paliadin-demo")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/paliadin-demo")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_is_started_once_and_resumed_with_its_messages() {
        let dir = std::env::temp_dir().join(format!("paliadin-mem-{}", Uuid::new_v4()));
        let id = Uuid::new_v4();
        let err = Memory::open(&dir, Open::Resume(id)).unwrap_err();
        assert!(err.starts_with("No conversation found"), "{err}");
        let m = Memory::open(&dir, Open::Start(id)).unwrap();
        m.remember("first").unwrap();
        m.remember("second\nline").unwrap();
        assert_eq!(m.earlier(), ["first"]);
        assert!(
            Memory::open(&dir, Open::Start(id)).is_err(),
            "started twice"
        );
        let again = Memory::open(&dir, Open::Resume(id)).unwrap();
        again.remember("third").unwrap();
        assert_eq!(again.earlier(), ["first", "second\nline"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn arguments_name_one_conversation() {
        let id = Uuid::nil().to_string();
        let a = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&[]), Ok(None));
        assert_eq!(a(&["--resume", &id]), Ok(Some(Open::Resume(Uuid::nil()))));
        assert_eq!(
            a(&["--session-id", &id]),
            Ok(Some(Open::Start(Uuid::nil())))
        );
        assert!(a(&["--resume", "x"]).is_err());
        assert!(a(&["--other"]).is_err());
    }
}
