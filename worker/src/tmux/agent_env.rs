//! The agent's environment, made explicit: a new agent session gets the worker's (or host
//! agent's) values of a documented set of variables, plus `PALIADIN_AGENT_ENV`, as `-e NAME=value`
//! of its `new-session`; variables of that set that the worker does not have are removed from
//! what the tmux server would hand down (`env -u NAME`). So the agent runs the same whether its
//! tmux server is new or was started earlier by a worker with another environment.
//!
//! The set (`docs/tmux-driving.md`, "The agent's environment"): `PATH`, `HOME`, `USER`,
//! `LOGNAME`, `SHELL`, `LANG`, `LANGUAGE`, `TZ`, and every `LC_*`, `ANTHROPIC_*`, `CLAUDE_*`,
//! `OPENAI_*`, `CODEX_*` and `PALIADIN_*` (but `PALIADIN_AGENT_ENV` itself). `TERM` is tmux's
//! own (`default-terminal`), as for any program in tmux. `DATABASE_URL` never goes.
//!
//! `PALIADIN_AGENT_ENV` holds extra entries, split like a shell command line (no expansion):
//! `NAME` copies the worker's value (or removes it when the worker has none), `NAME=value`
//! sets it. Values reach tmux only through [`crate::tmux::Tmux::run_unlisted`], never as a
//! command line, and this type's `Debug` shows names only: API keys stay out of `ps` and logs.

use std::collections::BTreeMap;

/// Names passed as they are.
const EXACT: [&str; 8] = [
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ",
];
/// Prefixes of the names passed.
const PREFIXES: [&str; 6] = [
    "LC_",
    "ANTHROPIC_",
    "CLAUDE_",
    "OPENAI_",
    "CODEX_",
    "PALIADIN_",
];
/// Never passed, whatever the set says.
const NEVER: [&str; 3] = [
    "PALIADIN_AGENT_ENV",
    "DATABASE_URL",
    "PALIADIN_CONTROL_OWNER",
];
/// Set by the worker for each session itself (`tmux/session.rs`).
const OWN: [&str; 3] = [
    "PALIADIN_SPOOL_DIR",
    "PALIADIN_SESSION",
    "PALIADIN_CONVERSATION",
];
/// Bounds of `PALIADIN_AGENT_ENV`.
pub const MAX_ENTRIES: usize = 100;
pub const MAX_BYTES: usize = 64 * 1024;

/// `PALIADIN_AGENT_ENV` could not be used. Values are never part of the message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgentEnvError {
    #[error("PALIADIN_AGENT_ENV has unbalanced quotes or a trailing backslash")]
    Unparsable,
    #[error("PALIADIN_AGENT_ENV: {0:?} is not a variable name (letters, digits, '_')")]
    BadName(String),
    #[error("PALIADIN_AGENT_ENV: the value of {0} holds a quote or a control character")]
    BadValue(String),
    #[error("PALIADIN_AGENT_ENV: {0} is set by Paliadin itself or never passed")]
    Reserved(String),
    #[error("PALIADIN_AGENT_ENV has more than {MAX_ENTRIES} entries or {MAX_BYTES} bytes")]
    TooLarge,
}

/// What a new agent session's environment is made of.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AgentEnv {
    /// Passed with `-e`.
    set: BTreeMap<String, String>,
    /// Named by `PALIADIN_AGENT_ENV` but not set in the worker: removed like the set's.
    removed: Vec<String>,
}

impl std::fmt::Debug for AgentEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentEnv")
            .field("set", &self.set.keys().collect::<Vec<_>>())
            .field("removed", &self.removed)
            .finish()
    }
}

impl AgentEnv {
    /// This process's documented set, without `PALIADIN_AGENT_ENV` (which cannot fail).
    pub fn inherited() -> AgentEnv {
        AgentEnv::from_vars(std::env::vars_os(), None).unwrap_or_default()
    }

    /// From this process's environment and `extra`, the value of `PALIADIN_AGENT_ENV`.
    pub fn from_process(extra: Option<&str>) -> Result<AgentEnv, AgentEnvError> {
        AgentEnv::from_vars(std::env::vars_os(), extra)
    }

    /// From `vars` (a process environment) and the value of `PALIADIN_AGENT_ENV`.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
        extra: Option<&str>,
    ) -> Result<AgentEnv, AgentEnvError> {
        let mut all = BTreeMap::new();
        for (k, v) in vars {
            if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
                all.insert(k.to_owned(), v.to_owned());
            }
        }
        let mut env = AgentEnv::default();
        for (k, v) in &all {
            if passed(k) {
                if quotable(k, v) {
                    env.set.insert(k.clone(), v.clone());
                } else {
                    tracing::warn!(name = %k, "not passed to the agent: its value holds a quote or a control character");
                }
            }
        }
        let Some(extra) = extra.filter(|e| !e.trim().is_empty()) else {
            return Ok(env);
        };
        if extra.len() > MAX_BYTES {
            return Err(AgentEnvError::TooLarge);
        }
        let words = shell_words::split(extra).map_err(|_| AgentEnvError::Unparsable)?;
        if words.len() > MAX_ENTRIES {
            return Err(AgentEnvError::TooLarge);
        }
        for word in words {
            let (name, value) = match word.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (word.clone(), None),
            };
            if !is_name(&name) {
                return Err(AgentEnvError::BadName(name));
            }
            if NEVER.contains(&name.as_str()) || OWN.contains(&name.as_str()) {
                return Err(AgentEnvError::Reserved(name));
            }
            match value.or_else(|| all.get(&name).cloned()) {
                Some(v) if quotable(&name, &v) => {
                    env.removed.retain(|n| n != &name);
                    env.set.insert(name, v);
                }
                Some(_) => return Err(AgentEnvError::BadValue(name)),
                None => {
                    env.set.remove(&name);
                    env.removed.push(name);
                }
            }
        }
        Ok(env)
    }

    /// Sets `name` for the agent (a test's or a tool's own variable); false when it cannot be
    /// passed (not a variable name, a reserved one, or a value tmux cannot be handed).
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        let ok = is_name(name)
            && !NEVER.contains(&name)
            && !OWN.contains(&name)
            && quotable(name, value);
        if ok {
            self.removed.retain(|n| n != name);
            self.set.insert(name.to_owned(), value.to_owned());
        }
        ok
    }

    /// The `-e NAME=value` arguments of `new-session`.
    pub fn tmux_args(&self) -> Vec<String> {
        self.set
            .iter()
            .flat_map(|(k, v)| ["-e".to_owned(), format!("{k}={v}")])
            .collect()
    }

    /// The value the agent gets for `name`, if it is one of ours (e.g. `PATH` for `doctor`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.set.get(name).map(String::as_str)
    }

    /// Of the names in the tmux server's global environment (`show-environment -g`), those the
    /// agent must not inherit: of our set or named by `PALIADIN_AGENT_ENV`, and not set here.
    pub fn to_remove<'a>(&self, server_names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = server_names
            .into_iter()
            .filter(|n| is_name(n) && !self.set.contains_key(*n))
            .filter(|n| (passed(n) && !OWN.contains(n)) || self.removed.iter().any(|r| r == n))
            .map(str::to_owned)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Whether `name` belongs to the documented set.
pub fn passed(name: &str) -> bool {
    !NEVER.contains(&name)
        && !OWN.contains(&name)
        && (EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)))
}

fn is_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=value` can be written as one single-quoted tmux argument.
fn quotable(name: &str, value: &str) -> bool {
    super::control::quote::quotable(name) && super::control::quote::quotable(value)
}

/// Names in `show-environment -g` output: `NAME=value` lines, and `-NAME` for removed ones.
pub fn names_of(show_environment: &str) -> Vec<&str> {
    show_environment
        .lines()
        .filter(|l| !l.starts_with('-'))
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn the_documented_set_is_passed_and_nothing_else() {
        let env = AgentEnv::from_vars(
            vars(&[
                ("PATH", "/w/bin:/usr/bin"),
                ("HOME", "/w"),
                ("ANTHROPIC_API_KEY", "sk-secret"),
                ("LC_ALL", "C.UTF-8"),
                ("PALIADIN_HOSTS", "local=local"),
                ("DATABASE_URL", "postgres://x"),
                ("PALIADIN_AGENT_ENV", "X"),
                ("PALIADIN_SPOOL_DIR", "/elsewhere"),
                ("SSH_AUTH_SOCK", "/tmp/agent"),
                ("TERM", "xterm"),
            ]),
            None,
        )
        .unwrap();
        let args = env.tmux_args();
        assert!(
            args.contains(&"PATH=/w/bin:/usr/bin".to_owned()),
            "{args:?}"
        );
        assert!(args.contains(&"ANTHROPIC_API_KEY=sk-secret".to_owned()));
        assert!(args.contains(&"LC_ALL=C.UTF-8".to_owned()));
        assert!(args.contains(&"PALIADIN_HOSTS=local=local".to_owned()));
        for never in [
            "DATABASE_URL",
            "PALIADIN_AGENT_ENV",
            "PALIADIN_SPOOL_DIR",
            "SSH_AUTH_SOCK",
            "TERM",
        ] {
            assert!(
                !args.iter().any(|a| a.starts_with(&format!("{never}="))),
                "{never}: {args:?}"
            );
        }
        assert!(
            !format!("{env:?}").contains("sk-secret"),
            "Debug shows names only"
        );
    }

    #[test]
    fn extra_entries_copy_set_or_remove() {
        let env = AgentEnv::from_vars(
            vars(&[("EDITOR", "vi"), ("HOME", "/w")]),
            Some("EDITOR 'GREETING=hello world' MISSING"),
        )
        .unwrap();
        assert_eq!(env.get("EDITOR"), Some("vi"));
        assert_eq!(env.get("GREETING"), Some("hello world"));
        let server = [
            "HOME",
            "PATH",
            "MISSING",
            "OPENAI_API_KEY",
            "EDITOR",
            "OTHER",
            "PALIADIN_SESSION",
        ];
        assert_eq!(
            env.to_remove(server),
            vec!["MISSING", "OPENAI_API_KEY", "PATH"]
        );
    }

    #[test]
    fn bad_entries_are_refused_without_their_values() {
        let e = |s: &str| AgentEnv::from_vars(vars(&[]), Some(s)).unwrap_err();
        assert_eq!(e("'A=b"), AgentEnvError::Unparsable);
        assert_eq!(e("1A=b"), AgentEnvError::BadName("1A".into()));
        assert_eq!(
            e("DATABASE_URL=x"),
            AgentEnvError::Reserved("DATABASE_URL".into())
        );
        let err = e("\"K=it's secret\"");
        assert_eq!(err, AgentEnvError::BadValue("K".into()));
        assert!(!err.to_string().contains("secret"));
        let many = (0..=MAX_ENTRIES)
            .map(|i| format!("V{i}=1"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(e(&many), AgentEnvError::TooLarge);
    }

    #[test]
    fn server_environment_names_are_read() {
        assert_eq!(names_of("A=1\n-B\nC=x=y\n"), vec!["A", "C"]);
    }
}
