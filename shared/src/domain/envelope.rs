//! The envelope that carries a turn into the agent's pane: `[PALIADIN:<turn_id>] <message>`.

use super::UserMessage;
use uuid::Uuid;

/// One turn's envelope. The turn id lets the agent (and its hooks) name the reply file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub turn_id: Uuid,
    pub message: String,
}

const OPEN: &str = "[PALIADIN:";

impl Envelope {
    pub fn new(turn_id: Uuid, message: &UserMessage) -> Self {
        Envelope {
            turn_id,
            message: message.as_str().to_owned(),
        }
    }

    /// The exact text pasted into the pane.
    pub fn render(&self) -> String {
        format!("{OPEN}{}] {}", self.turn_id.hyphenated(), self.message)
    }

    /// Parses a received envelope; the message is returned byte-exact.
    pub fn parse(text: &str) -> Option<Envelope> {
        let rest = text.strip_prefix(OPEN)?;
        let (id, rest) = rest.split_once("] ")?;
        let turn_id = Uuid::parse_str(id).ok()?;
        if id != turn_id.hyphenated().to_string() {
            return None;
        }
        Some(Envelope {
            turn_id,
            message: rest.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_byte_exact() {
        let m = UserMessage::parse("x] y\n;z").unwrap();
        let e = Envelope::new(Uuid::new_v4(), &m);
        let text = e.render();
        assert_eq!(Envelope::parse(&text), Some(e));
        assert_eq!(Envelope::parse("[PALIADIN:nope] x"), None);
    }
}
