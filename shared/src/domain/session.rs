//! tmux naming: an owner's session is `<prefix>-<first 8 hex of the user's UUID>` (plus a
//! collision suffix), and each conversation's agent is a window in it, `c-<conversation's 32
//! hex>`, addressed together as `<session>:<window>` ([`SessionName::for_conversation`]).

use super::InvalidValue;
use std::fmt;
use uuid::Uuid;

fn valid_name_chars(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// `PALIADIN_SESSION_PREFIX`, validated `[A-Za-z0-9_.-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPrefix(String);

impl SessionPrefix {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if valid_name_chars(s) {
            Ok(SessionPrefix(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "session prefix {s:?} must match [A-Za-z0-9_.-]{{1,64}}"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SessionPrefix {
    fn default() -> Self {
        SessionPrefix("paliadin".into())
    }
}

/// Where an agent lives on a tmux server: an owner's session (`<prefix>-<userid8>`), or one
/// conversation's window in it (`<session>:c-<32 hex>`, [`SessionName::for_conversation`]).
/// Validated; always targeted exactly (`=session`, `=session:=window`) by the drivers. The text
/// form also keys the agent's spool files (`.busy-<name>`) and is its `PALIADIN_SESSION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

/// The prefix of a conversation's window name.
pub const WINDOW_PREFIX: &str = "c-";

fn valid_part(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

impl SessionName {
    /// The base name for a user: `<prefix>-<userid8>`. `collision` > 0 appends `-<n>`: two users
    /// whose UUIDs share the first 8 hex digits get distinct names (see `docs/architecture.md`).
    pub fn for_user(prefix: &SessionPrefix, user: Uuid, collision: u32) -> Self {
        let hex = user.simple().to_string();
        let mut name = format!("{}-{}", prefix.0, &hex[..8]);
        if collision > 0 {
            name.push_str(&format!("-{collision}"));
        }
        // prefix ≤ 64 chars; keep the whole name within tmux-friendly limits.
        SessionName(name)
    }

    /// The window of `conversation`'s agent in this name's session.
    pub fn for_conversation(&self, conversation: Uuid) -> Self {
        SessionName(format!(
            "{}:{WINDOW_PREFIX}{}",
            self.session_part(),
            conversation.simple()
        ))
    }

    /// `session` or `session:window`, each part `[A-Za-z0-9_.-]`, the session at most 80
    /// characters and the window at most 40.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = match s.split_once(':') {
            None => valid_part(s, 80),
            Some((session, window)) => valid_part(session, 80) && valid_part(window, 40),
        };
        if ok {
            Ok(SessionName(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "session name {s:?} must match [A-Za-z0-9_.-]{{1,80}}, optionally followed by \
                 :[A-Za-z0-9_.-]{{1,40}} (a window)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner's session name, without a window.
    fn session_part(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(s, _)| s)
    }

    /// The owner's session this agent lives in (itself when it names no window).
    pub fn session(&self) -> SessionName {
        SessionName(self.session_part().to_owned())
    }

    /// The window's name, when this names a conversation's window.
    pub fn window(&self) -> Option<&str> {
        self.0.split_once(':').map(|(_, w)| w)
    }

    /// The conversation whose window this names.
    pub fn conversation(&self) -> Option<Uuid> {
        let hex = self.window()?.strip_prefix(WINDOW_PREFIX)?;
        (hex.len() == 32)
            .then(|| Uuid::try_parse(hex).ok())
            .flatten()
    }

    /// Named `<prefix>-…`, as every session the worker makes with `prefix` is.
    pub fn has_prefix(&self, prefix: &SessionPrefix) -> bool {
        self.session_part()
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('-') && rest.len() > 1)
    }

    /// The exact tmux target for the owner's session (`=name`), never a prefix match.
    pub fn exact_target(&self) -> String {
        format!("={}", self.session_part())
    }

    /// The exact tmux target for the agent's pane: the session's active pane (`=name:`), or
    /// the window's (`=name:=window`; tmux 3.3a answers a `display-message` for a missing
    /// window from the current one, so its callers check the window's name in the reply).
    pub fn pane_target(&self) -> String {
        match self.window() {
            None => format!("={}:", self.0),
            Some(w) => format!("={}:={w}", self.session_part()),
        }
    }
}

impl TryFrom<String> for SessionName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SessionName::parse(&s)
    }
}

impl From<SessionName> for String {
    fn from(s: SessionName) -> String {
        s.0
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prefix_and_user_and_collision() {
        let p = SessionPrefix::parse("pal.x_1-").unwrap();
        let u = Uuid::parse_str("1234abcd-0000-4000-8000-000000000000").unwrap();
        assert_eq!(
            SessionName::for_user(&p, u, 0).as_str(),
            "pal.x_1--1234abcd"
        );
        assert_eq!(
            SessionName::for_user(&p, u, 2).as_str(),
            "pal.x_1--1234abcd-2"
        );
        assert_eq!(
            SessionName::for_user(&p, u, 0).exact_target(),
            "=pal.x_1--1234abcd"
        );
    }

    #[test]
    fn rejects_bad_prefixes_and_names() {
        for bad in ["", "a b", "a;b", "a:b", "é", &"x".repeat(65)] {
            assert!(SessionPrefix::parse(bad).is_err(), "{bad:?}");
        }
        assert!(SessionName::parse("x;kill-server").is_err());
        assert!(SessionName::parse("=x").is_err());
        assert!(SessionName::parse("a:").is_err());
        assert!(SessionName::parse("a:b:c").is_err());
        assert!(SessionName::parse(":w").is_err());
    }

    #[test]
    fn a_conversation_s_window_is_addressed_in_its_owner_s_session() {
        let p = SessionPrefix::parse("pd").unwrap();
        let u = Uuid::parse_str("1234abcd-0000-4000-8000-000000000000").unwrap();
        let c = Uuid::parse_str("0badcafe-1111-4222-8333-444455556666").unwrap();
        let base = SessionName::for_user(&p, u, 0);
        let w = base.for_conversation(c);
        assert_eq!(w.as_str(), "pd-1234abcd:c-0badcafe111142228333444455556666");
        assert_eq!(
            w.pane_target(),
            "=pd-1234abcd:=c-0badcafe111142228333444455556666"
        );
        assert_eq!(w.exact_target(), "=pd-1234abcd");
        assert_eq!(w.session(), base);
        assert_eq!(w.conversation(), Some(c));
        assert_eq!(base.conversation(), None);
        assert_eq!(base.pane_target(), "=pd-1234abcd:");
        assert!(w.has_prefix(&p));
        assert_eq!(SessionName::parse(w.as_str()).unwrap(), w);
        assert_eq!(w.for_conversation(c), w);
    }
}
