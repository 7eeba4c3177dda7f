//! The account map: which Unix account runs each owner's agent, and optionally which agent.
//! One line per owner, `<user id> <account> [<agent> [<command>]]` (`#` starts a comment),
//! written by the operator:
//!
//! ```text
//! # user id                              agent account  agent  command
//! 0193a1f2-6c1e-7b7a-9d1e-2f4a5b6c7d8e   pa-alice
//! 0193a1f2-6c1e-7b7a-9d1e-2f4a5b6c7d8f   pa-bob         codex  /usr/local/bin/codex
//! ```
//!
//! `<agent>` (`claude`, `codex`, `demo` or `other`) chooses that owner's agent in place of the
//! worker's `PALIADIN_AGENT`; `<command>` (the rest of the line, split as a shell would, never
//! run by one) in place of `PALIADIN_AGENT_CMD` (default: the agent's own program on the
//! account's `PATH`). Both are read when the owner's host agent starts (the worker's first turn
//! of that owner); a change takes effect when the worker restarts.
//!
//! The map is trusted only as a regular file (not a symlink) owned by root or by the worker's
//! account and writable by no one else; an account appears once (two owners sharing one
//! account would share everything) and is never `root`. The map is read again whenever it
//! changes (size, time or inode), so adding an owner needs no restart; a map that turns bad
//! stops every turn of the host (fails closed) until it is fixed.

use crate::agent::Agent;
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A Unix account name as `useradd` accepts it by default: `[a-z_][a-z0-9_-]{0,31}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(s: &str) -> Result<AccountName, String> {
        let mut bytes = s.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
        if !(first_ok && rest_ok && s.len() <= 32) {
            return Err(format!("account {s:?} must match [a-z_][a-z0-9_-]{{0,31}}"));
        }
        if s == "root" {
            return Err("an agent account cannot be root".into());
        }
        Ok(AccountName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One owner's line: the account, and the agent when the line names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub account: AccountName,
    pub agent: Option<OwnerAgent>,
}

/// The agent a map line chooses for its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerAgent {
    pub agent: Agent,
    /// The command that runs it; None: the agent's own program, as the host agent finds it.
    pub cmd: Option<String>,
}

/// Largest agent command in the map, bytes.
const MAX_CMD: usize = 4096;

/// Parses the map's text; errors name the line.
pub fn parse(text: &str) -> Result<HashMap<Uuid, Entry>, String> {
    let mut map = HashMap::new();
    let mut accounts = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let (user, rest) = word(line);
        let (account, rest) = word(rest);
        let (agent, cmd) = word(rest);
        if account.is_empty() {
            return Err(format!(
                "line {n}: expected `<user id> <account> [<agent> [<command>]]`"
            ));
        }
        let agent = (!agent.is_empty())
            .then(|| owner_agent(agent, cmd).map_err(|e| format!("line {n}: {e}")))
            .transpose()?;
        let user =
            Uuid::parse_str(user).map_err(|_| format!("line {n}: {user:?} is not a user id"))?;
        let account = AccountName::parse(account).map_err(|e| format!("line {n}: {e}"))?;
        if !accounts.insert(account.clone()) {
            return Err(format!(
                "line {n}: account {account} is given to two owners"
            ));
        }
        if map.insert(user, Entry { account, agent }).is_some() {
            return Err(format!("line {n}: user {user} is listed twice"));
        }
    }
    Ok(map)
}

/// The first word of `s` and what follows it (leading whitespace skipped).
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    s.split_once(char::is_whitespace).unwrap_or((s, ""))
}

/// The agent word of a line and the rest of it, the command.
fn owner_agent(word: &str, cmd: &str) -> Result<OwnerAgent, String> {
    let agent = Agent::detect(Some(word), None)?;
    let cmd = Some(cmd.trim()).filter(|c| !c.is_empty());
    if let Some(c) = cmd {
        if c.len() > MAX_CMD {
            return Err(format!("the agent command is longer than {MAX_CMD} bytes"));
        }
        crate::tmux::split_agent_cmd(c).map_err(|e| format!("agent command {c:?}: {e}"))?;
    }
    Ok(OwnerAgent {
        agent,
        cmd: cmd.map(str::to_owned),
    })
}

/// What identifies one version of the file.
type Stamp = (u64, u64, i64, i64);

struct Loaded {
    stamp: Option<Stamp>,
    map: Result<Arc<HashMap<Uuid, Entry>>, String>,
}

/// The map file, read again when it changes.
pub struct AccountMap {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

impl AccountMap {
    pub fn new(path: &Path) -> AccountMap {
        AccountMap {
            path: path.to_owned(),
            loaded: Mutex::new(Loaded {
                stamp: None,
                map: Err("not read yet".into()),
            }),
        }
    }

    /// The current map, or why it cannot be used.
    pub fn current(&self) -> Result<Arc<HashMap<Uuid, Entry>>, String> {
        let meta = std::fs::symlink_metadata(&self.path)
            .map_err(|e| format!("the account map {}: {e}", self.path.display()))?;
        let stamp = (
            meta.dev(),
            meta.ino(),
            meta.size() as i64,
            meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
        );
        let mut loaded = self.loaded.lock().expect("account map");
        if loaded.stamp != Some(stamp) {
            loaded.map = self.read(&meta).map(Arc::new);
            loaded.stamp = Some(stamp);
            match &loaded.map {
                Ok(m) => {
                    tracing::info!(map = %self.path.display(), owners = m.len(), "account map read")
                }
                Err(e) => {
                    tracing::error!(error = %e, "the account map cannot be used: no turns on this host until it is fixed")
                }
            }
        }
        loaded.map.clone()
    }

    /// The line of `user`: their account and agent.
    pub fn account(&self, user: Uuid) -> Result<Entry, String> {
        self.current()?.get(&user).cloned().ok_or_else(|| {
            format!(
                "user {user} has no agent account in {}",
                self.path.display()
            )
        })
    }

    fn read(&self, meta: &std::fs::Metadata) -> Result<HashMap<Uuid, Entry>, String> {
        let path = self.path.display();
        let me = paliadin_shared::trust::current_uid().map_err(|e| e.to_string())?;
        if !meta.file_type().is_file() {
            return Err(format!(
                "the account map {path} is not a regular file (or is a symlink)"
            ));
        }
        if meta.uid() != 0 && meta.uid() != me {
            return Err(format!(
                "the account map {path} is owned by uid {}: only root or the worker may own it",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "the account map {path} is writable by group or others (mode {:o})",
                meta.mode() & 0o7777
            ));
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("the account map {path}: {e}"))?;
        parse(&text).map_err(|e| format!("the account map {path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_comments() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let m = parse(&format!("# owners\n{a}  pa-alice # Alice\n\n{b}\tpa_bob\n")).unwrap();
        assert_eq!(m[&a].account.as_str(), "pa-alice");
        assert_eq!(m[&b].account.as_str(), "pa_bob");
        assert_eq!(m[&a].agent, None);
    }

    #[test]
    fn a_line_may_choose_its_owner_s_agent_and_command() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let m = parse(&format!(
            "{a} pa-a codex\n{b} pa-b codex /opt/codex/bin/codex -c 'model=\"x y\"' # Bob\n"
        ))
        .unwrap();
        let agent = |u: &Uuid| m[u].agent.clone().unwrap();
        assert_eq!(agent(&a).agent, Agent::Codex);
        assert_eq!(agent(&a).cmd, None);
        assert_eq!(agent(&b).agent, Agent::Codex);
        assert_eq!(
            agent(&b).cmd.as_deref(),
            Some("/opt/codex/bin/codex -c 'model=\"x y\"'")
        );
        for bad in [
            format!("{a} pa-a gpt"),
            format!("{a} pa-a codex 'unbalanced"),
            format!("{a} pa-a codex {}", "x".repeat(MAX_CMD + 1)),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_shared_accounts_duplicates_root_and_odd_names() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        for bad in [
            format!("{a} pa-x\n{b} pa-x"),
            format!("{a} pa-x\n{a} pa-y"),
            format!("{a} root"),
            format!("{a} -oProxy"),
            format!("{a} Alice"),
            format!("{a} pa x y"),
            format!("{a} pa;x"),
            "alice pa-x".to_owned(),
            format!("{a} {}", "p".repeat(33)),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
