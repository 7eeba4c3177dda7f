//! `UserMessage`: the text a user sends, validated so it can be pasted into a terminal safely.
//!
//! Rules (documented in `docs/agent-protocol.md`):
//! - 1..=32 KiB of UTF-8 (size counted on the bytes received);
//! - CR LF and lone CR are normalised to LF;
//! - TAB and LF are the only control characters kept; every other C0 control (including ESC,
//!   which starts terminal escape sequences and would end a bracketed paste), DEL and every C1
//!   control (U+0080..=U+009F) is **rejected**, never silently stripped, so nothing the user
//!   typed is lost without them knowing;
//! - a message that is only whitespace counts as empty.

/// The largest accepted message, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// Why a message was refused; each maps to one HTTP status in the API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("user_message is empty")]
    Empty,
    #[error("user_message is {0} bytes; the limit is {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error(
        "user_message contains control character U+{0:04X} at character {1}; only TAB and newlines are allowed"
    )]
    ControlCharacter(u32, usize),
}

/// A message that passed the rules above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMessage(String);

impl UserMessage {
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        if raw.len() > MAX_MESSAGE_BYTES {
            return Err(MessageError::TooLarge(raw.len()));
        }
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        if text.trim().is_empty() {
            return Err(MessageError::Empty);
        }
        for (i, c) in text.chars().enumerate() {
            let cp = c as u32;
            let control = (cp < 0x20 && c != '\t' && c != '\n') || (0x7F..=0x9F).contains(&cp);
            if control {
                return Err(MessageError::ControlCharacter(cp, i));
            }
        }
        Ok(UserMessage(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_hostile_but_printable_text_byte_exact() {
        let hostile = "a; b;\n$(rm -rf /) `x` \"'\\ \t😀 مرحبا ;";
        assert_eq!(UserMessage::parse(hostile).unwrap().as_str(), hostile);
    }

    #[test]
    fn normalises_carriage_returns() {
        assert_eq!(UserMessage::parse("a\r\nb\rc").unwrap().as_str(), "a\nb\nc");
    }

    #[test]
    fn rejects_empty_large_and_controls() {
        assert_eq!(UserMessage::parse(" \n\t"), Err(MessageError::Empty));
        assert_eq!(UserMessage::parse(""), Err(MessageError::Empty));
        let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            UserMessage::parse(&big),
            Err(MessageError::TooLarge(MAX_MESSAGE_BYTES + 1))
        );
        assert!(UserMessage::parse(&"x".repeat(MAX_MESSAGE_BYTES)).is_ok());
        for bad in ["a\u{1b}[201~b", "\u{0}", "\u{7f}", "\u{9b}31m", "\u{3}"] {
            assert!(
                matches!(
                    UserMessage::parse(bad),
                    Err(MessageError::ControlCharacter(..))
                ),
                "{bad:?}"
            );
        }
    }
}
