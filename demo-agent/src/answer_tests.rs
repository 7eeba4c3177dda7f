//! Pins what each directive writes to the spool (no terminal involved), and that an interrupt
//! leaves no `.md`.

use super::{Outcome, Stop, Turn, answer};
use crate::control::Control;
use crate::spool::Spool;
use crate::terminal::Screen;
use paliadin_shared::domain::trailer::{Reply, parse_reply};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

struct Fixture {
    dir: PathBuf,
    spool: Spool,
    control: Arc<Control>,
    screen: Screen,
    memory: crate::Memory,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!("paliadin-answer-{}", Uuid::new_v4()));
        Fixture {
            spool: Spool::open(&dir).unwrap(),
            dir,
            control: Arc::new(Control::default()),
            screen: Screen::default(),
            memory: crate::Memory::none(),
        }
    }

    /// Answers `message` as a fresh turn; returns the turn id and the outcome.
    fn run(&self, message: &str) -> (Uuid, Result<Outcome, Stop>) {
        let id = Uuid::new_v4();
        let (seq, _) = self.control.submit();
        self.control.start(seq);
        let turn = Turn {
            id,
            seq,
            message,
            spool: &self.spool,
            memory: &self.memory,
            control: &self.control,
            screen: &self.screen,
        };
        let result = answer(&turn);
        self.control.finish();
        (id, result)
    }

    fn read(&self, id: Uuid, ext: &str) -> Option<String> {
        std::fs::read_to_string(self.spool.path(id, ext)).ok()
    }

    fn reply(&self, message: &str) -> (Uuid, Reply) {
        let (id, result) = self.run(message);
        assert!(matches!(result, Ok(Outcome::Answered)), "{result:?}");
        let raw = self.read(id, "md").expect("a reply file");
        (id, parse_reply(&raw).expect("the reply parses"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn default_reply_streams_its_text_and_reports_activity() {
    let f = Fixture::new();
    let (id, reply) = f.reply("hi; \"you\"\nthere");
    assert_eq!(reply.trailer.classifier_tag, "demo");
    assert_eq!(reply.trailer.used_tools, vec!["demo.quote".to_owned()]);
    assert_eq!(reply.trailer.rows_seen, 2);
    assert_eq!(f.read(id, "partial").unwrap(), reply.text);
    let events = f.read(id, "events").unwrap();
    assert!(events.starts_with(r#"{"type":"activity","text":"reading your message"#));
}

#[test]
fn echo_writes_the_exact_documented_file() {
    let f = Fixture::new();
    let (id, result) = f.run("/echo a;\n\tb ");
    assert!(matches!(result, Ok(Outcome::Answered)));
    let raw = f.read(id, "md").unwrap();
    let tail = r#"<!-- paliadin {"used_tools":[],"rows_seen":2,"chip_count":0,"classifier_tag":"demo-echo"} -->"#;
    let hex = hex::encode(Sha256::digest("a;\n\tb "));
    assert_eq!(raw, format!("a;\n\tb \nsha256: {hex}\n{tail}\n"));
    assert!(f.read(id, "partial").is_none());
}

#[test]
fn stream_activity_large_markdown_and_usage() {
    let f = Fixture::new();
    let (id, reply) = f.reply("/stream 3");
    assert_eq!(reply.text, "Chunk 1 of 3.\nChunk 2 of 3.\nChunk 3 of 3.");
    assert_eq!(f.read(id, "partial").unwrap(), reply.text);

    let (id, reply) = f.reply("/activity 2");
    assert_eq!(f.read(id, "events").unwrap().lines().count(), 2);
    assert_eq!(reply.trailer.classifier_tag, "demo-activity");

    let (id, _) = f.reply("/large 2");
    let raw = f.read(id, "md").unwrap();
    assert_eq!(raw.find("<!-- paliadin"), Some(2 * 1024 + 1));

    let (_, reply) = f.reply("/markdown");
    for needle in [
        "```rust",
        "|---|",
        "<script>alert(1)</script>",
        "javascript:",
        "onerror=",
    ] {
        assert!(reply.text.contains(needle), "{needle}");
    }

    let (_, reply) = f.reply("/stream many");
    assert_eq!(reply.trailer.classifier_tag, "demo-usage");
    assert!(reply.text.contains("/stream"));
}

#[test]
fn bad_trailer_and_crash() {
    let f = Fixture::new();
    let (id, result) = f.run("/bad-trailer");
    assert!(matches!(result, Ok(Outcome::Answered)));
    assert!(parse_reply(&f.read(id, "md").unwrap()).is_err());
    let (id, result) = f.run("/crash");
    assert!(matches!(result, Ok(Outcome::Crash)));
    assert!(f.read(id, "md").is_none());
}

#[test]
fn an_interrupted_turn_writes_no_reply() {
    let f = Arc::new(Fixture::new());
    for message in ["/hang", "/slow 600000"] {
        let runner = {
            let f = f.clone();
            let message = message.to_owned();
            std::thread::spawn(move || {
                let (id, result) = f.run(&message);
                (id, matches!(result, Err(Stop::Interrupted)))
            })
        };
        // Interrupt until the turn has started and stopped: the interrupt may come first.
        while !runner.is_finished() {
            f.control.interrupt();
            std::thread::yield_now();
        }
        let (id, interrupted) = runner.join().unwrap();
        assert!(interrupted, "{message}");
        assert!(f.read(id, "md").is_none(), "{message}");
    }
}
