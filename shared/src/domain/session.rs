//! tmux session naming: `<prefix>-<first 8 hex of the user's UUID>` (plus a collision suffix).

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

/// A validated tmux session name. Always targeted exactly (`=name`) by the drivers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

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

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() <= 80
            && !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        {
            Ok(SessionName(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "session name {s:?} must match [A-Za-z0-9_.-]{{1,80}}"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Named `<prefix>-…`, as every session the worker makes with `prefix` is.
    pub fn has_prefix(&self, prefix: &SessionPrefix) -> bool {
        self.0
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('-') && rest.len() > 1)
    }

    /// The exact tmux target for the session (`=name`), never a prefix match.
    pub fn exact_target(&self) -> String {
        format!("={}", self.0)
    }

    /// The exact tmux target for the session's active pane (`=name:`).
    pub fn pane_target(&self) -> String {
        format!("={}:", self.0)
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
    }
}
