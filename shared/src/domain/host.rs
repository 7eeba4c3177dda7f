//! `HostName`: the name of a tmux host, which also names its pgmq queue `turns_<host>`.

use super::InvalidValue;
use std::fmt;

/// A validated tmux host name: `[a-z0-9_]{1,32}` (pgmq queue names are limited in length and
/// become table names, so the alphabet is deliberately narrow). `local` is the default host.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct HostName(String);

impl TryFrom<String> for HostName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        HostName::parse(&s)
    }
}

impl From<HostName> for String {
    fn from(h: HostName) -> String {
        h.0
    }
}

impl HostName {
    /// The host every worker serves when no hosts are configured.
    pub fn local() -> Self {
        HostName("local".into())
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(HostName(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "host name {s:?} must match [a-z0-9_]{{1,32}}"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pgmq queue that carries this host's turns.
    pub fn queue_name(&self) -> String {
        format!("turns_{}", self.0)
    }
}

/// Stored as `text`; a value read back is validated like [`HostName::parse`] (a row naming an
/// invalid host is an error, never a silently skipped host).
impl sqlx::Type<sqlx::Postgres> for HostName {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for HostName {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(HostName::parse(s).map_err(|e| e.0)?)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Postgres> for HostName {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_simple_names_and_rejects_others() {
        assert_eq!(
            HostName::parse("gpu_1").unwrap().queue_name(),
            "turns_gpu_1"
        );
        for bad in ["", "Gpu", "a-b", "a;b", &"x".repeat(33)] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
