//! The host's side of a stored transcript: which file holds a conversation's transcript and the
//! four operations on it ([`super::TranscriptOp`]). Run by the local driver in process and by
//! the host agent (`paliadin-shim serve`, `transcript` requests) as the account its agents run
//! under. The path is always derived here, from the host's own settings and the conversation's
//! UUID: nothing on the wire names a file.
//!
//! A write-back goes to `<file>.paliadin-restore` piece by piece and is renamed over the file
//! by its last piece, unless a longer file appeared meanwhile (an agent that went on writing):
//! a reader never sees half a transcript. Symbolic links are never followed.

use super::{TranscriptAnswer, TranscriptOp};
use crate::driver::DriveError;
use crate::tmux::launch::AgentKind;
use crate::tmux::{Health, TmuxConfig, TmuxHost};
use paliadin_shared::SessionName;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Where the agent of `cfg` keeps the transcript of `conversation` on this host: Claude Code's
/// `<config>/projects/<slug>/<id>.jsonl` ([`crate::tmux::launch::claude_transcript`]), the
/// demo agent's `<state>/<id>.jsonl` (`paliadin_demo_agent::memory`), both from the agent's own
/// environment. None for another agent, whose transcript Paliadin cannot name.
pub fn path(cfg: &TmuxConfig, conversation: Uuid) -> Option<PathBuf> {
    match cfg.launch.kind {
        AgentKind::Claude => cfg.transcript(conversation),
        AgentKind::Demo => {
            let env = |n: &str| {
                cfg.agent_env
                    .get(n)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            };
            let dir = env("PALIADIN_DEMO_STATE_DIR")
                .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("paliadin-demo")))
                .or_else(|| env("HOME").map(|h| h.join(".local/state/paliadin-demo")))?;
            Some(dir.join(format!("{conversation}.jsonl")))
        }
        AgentKind::Other => None,
    }
}

/// Carries out `op` on `host` (blocking file work off the runtime's threads).
pub async fn apply(host: &TmuxHost, op: TranscriptOp) -> Result<TranscriptAnswer, DriveError> {
    let conversation = op.conversation();
    let Some(file) = path(host.config(), conversation) else {
        return Ok(TranscriptAnswer::default());
    };
    // An agent still holding the conversation is stopped first: a forgotten one must not write
    // its file again, and a restored one must start again from the restored file.
    let stop = match &op {
        TranscriptOp::Forget { session, .. } => session.clone(),
        TranscriptOp::Write {
            last: true,
            session,
            ..
        } => session.clone(),
        _ => None,
    };
    if let Some(s) = stop {
        stop_holder(host, &s, conversation).await?;
    }
    tokio::task::spawn_blocking(move || on_file(&file, op))
        .await
        .map_err(|e| DriveError::Upstream(format!("the transcript task failed: {e}")))?
        .map_err(|e| DriveError::Upstream(format!("transcript file: {e}")))
}

/// Stops the agent of `session` when it holds `conversation`.
async fn stop_holder(
    host: &TmuxHost,
    session: &SessionName,
    conversation: Uuid,
) -> Result<(), DriveError> {
    // The conversation's window, or an agent started for it before windows.
    let window = session.for_conversation(conversation);
    let session = &match host.sessions().resolve(&window, false).await {
        Ok(s) => s,
        Err(e) => return Err(DriveError::TmuxUnavailable(e.to_string())),
    };
    match host.sessions().health(session).await {
        Ok(Health::Alive {
            conversation: Some(c),
            ..
        }) if c == conversation => {
            tracing::info!(%session, %conversation, "stopping the agent holding the conversation's transcript");
            host.reset(session).await
        }
        _ => Ok(()),
    }
}

fn on_file(file: &Path, op: TranscriptOp) -> io::Result<TranscriptAnswer> {
    match op {
        TranscriptOp::Stat { .. } => Ok(TranscriptAnswer {
            size: size(file)?,
            data: Vec::new(),
        }),
        TranscriptOp::Read { offset, max, .. } => read(file, offset, max.min(super::READ_MAX)),
        TranscriptOp::Write {
            offset, data, last, ..
        } => write(file, offset, &data, last),
        TranscriptOp::Forget { .. } => forget(file),
    }
}

/// The size of the regular file at `file` (None: none; a link or anything else is refused).
fn size(file: &Path) -> io::Result<Option<u64>> {
    match fs::symlink_metadata(file) {
        Ok(m) if m.file_type().is_file() => Ok(Some(m.len())),
        Ok(_) => Err(io::Error::other(format!(
            "{} is not a regular file",
            file.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn open_read(file: &Path) -> io::Result<Option<File>> {
    match OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(file)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// At most `max` bytes from `offset`, cut after the last complete line (a line longer than
/// `max` comes in pieces: the stored chunks tile the file byte for byte either way).
fn read(file: &Path, offset: u64, max: u64) -> io::Result<TranscriptAnswer> {
    let Some(mut f) = open_read(file)? else {
        return Ok(TranscriptAnswer::default());
    };
    let len = f.metadata()?.len();
    let mut data = Vec::new();
    if offset < len {
        f.seek(SeekFrom::Start(offset))?;
        f.take(max).read_to_end(&mut data)?;
        match data.iter().rposition(|&b| b == b'\n') {
            Some(end) => data.truncate(end + 1),
            // A line still being written: wait for its end, unless it alone fills the read.
            None if (data.len() as u64) < max => data.clear(),
            None => {}
        }
    }
    Ok(TranscriptAnswer {
        size: Some(len),
        data,
    })
}

fn staging(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".paliadin-restore");
    file.with_file_name(name)
}

/// One piece of a write-back (see the module docs).
fn write(file: &Path, offset: u64, data: &[u8], last: bool) -> io::Result<TranscriptAnswer> {
    let dir = file
        .parent()
        .ok_or_else(|| io::Error::other("a transcript file needs a directory"))?;
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = staging(file);
    let mut opts = OpenOptions::new();
    opts.write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW);
    if offset == 0 {
        opts.create(true).truncate(true);
    }
    let mut f = opts.open(&tmp)?;
    let have = f.metadata()?.len();
    if have != offset {
        return Err(io::Error::other(format!(
            "a write-back piece at {offset} does not follow the {have} bytes written"
        )));
    }
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(data)?;
    let total = offset + data.len() as u64;
    if !last {
        return Ok(TranscriptAnswer {
            size: Some(total),
            data: Vec::new(),
        });
    }
    f.sync_all()?;
    drop(f);
    match size(file)? {
        Some(now) if now > total => {
            // The agent wrote more meanwhile: its file is the newer.
            fs::remove_file(&tmp)?;
            Ok(TranscriptAnswer {
                size: Some(now),
                data: Vec::new(),
            })
        }
        _ => {
            fs::rename(&tmp, file)?;
            Ok(TranscriptAnswer {
                size: Some(total),
                data: Vec::new(),
            })
        }
    }
}

/// Removes the file, its unfinished write-back and Claude Code's directory of the same name
/// (its tool results and subagents of the conversation).
fn forget(file: &Path) -> io::Result<TranscriptAnswer> {
    for f in [file.to_path_buf(), staging(file)] {
        match fs::remove_file(&f) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let dir = file.with_extension("");
    if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_dir()) {
        fs::remove_dir_all(&dir)?;
    }
    Ok(TranscriptAnswer::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        std::env::temp_dir().join(format!("paliadin-ts-{}", Uuid::new_v4()))
    }

    #[test]
    fn reads_whole_lines_and_writes_back_in_pieces() {
        let dir = temp();
        let file = dir.join("sub").join("c.jsonl");
        assert_eq!(size(&file).unwrap(), None);
        assert_eq!(read(&file, 0, 100).unwrap(), TranscriptAnswer::default());
        write(&file, 0, b"one\ntw", false).unwrap();
        assert_eq!(
            size(&file).unwrap(),
            None,
            "not in place before the last piece"
        );
        assert!(write(&file, 3, b"x", false).is_err(), "a gap is refused");
        let a = write(&file, 6, b"o\nthr", true).unwrap();
        assert_eq!(a.size, Some(11));
        assert_eq!(fs::read(&file).unwrap(), b"one\ntwo\nthr");
        // The unfinished last line waits; a read from an offset continues.
        let a = read(&file, 0, 100).unwrap();
        assert_eq!((a.size, a.data.as_slice()), (Some(11), &b"one\ntwo\n"[..]));
        assert_eq!(read(&file, 4, 100).unwrap().data, b"two\n");
        assert_eq!(
            read(&file, 4, 2).unwrap().data,
            b"tw",
            "a long line in pieces"
        );
        assert!(read(&file, 50, 10).unwrap().data.is_empty());
        // A longer file that appeared meanwhile wins over a shorter write-back.
        fs::write(&file, b"0123456789abcdef\n").unwrap();
        let a = write(&file, 0, b"short\n", true).unwrap();
        assert_eq!(a.size, Some(17));
        assert_eq!(fs::read(&file).unwrap(), b"0123456789abcdef\n");
        fs::create_dir_all(file.with_extension("")).unwrap();
        forget(&file).unwrap();
        assert!(!file.exists() && !file.with_extension("").exists());
        forget(&file).unwrap();
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn links_are_not_followed() {
        let dir = temp();
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("secret");
        fs::write(&target, b"no\n").unwrap();
        let link = dir.join("c.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(size(&link).is_err());
        assert!(read(&link, 0, 10).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_demo_agent_s_file_is_in_its_state_directory() {
        let mut cfg = TmuxConfig::new(vec!["paliadin-demo-agent".into()]);
        cfg.launch = crate::tmux::launch::Launch::for_kind(AgentKind::Demo);
        let id = Uuid::nil();
        let mut env = crate::tmux::AgentEnv::default();
        assert!(env.set("HOME", "/home/p"));
        cfg.agent_env = env.clone();
        assert_eq!(
            path(&cfg, id).unwrap(),
            Path::new("/home/p/.local/state/paliadin-demo").join(format!("{id}.jsonl"))
        );
        assert!(env.set("PALIADIN_DEMO_STATE_DIR", "/s"));
        cfg.agent_env = env;
        assert_eq!(
            path(&cfg, id).unwrap(),
            Path::new("/s").join(format!("{id}.jsonl"))
        );
        cfg.launch = crate::tmux::launch::Launch::for_kind(AgentKind::Other);
        assert_eq!(path(&cfg, id), None);
    }
}
