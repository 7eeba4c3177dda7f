//! Answering one turn: runs the message's directive against the spool files.
//!
//! Every wait goes through [`Control::pause`], so an interrupt stops the answer at once and no
//! `.md` is written for an interrupted turn. The message is only ever quoted, echoed or hashed:
//! nothing in it is executed.

use super::control::{Control, Interrupted};
use super::directive::{self, Directive};
use super::memory::Memory;
use super::replies;
use super::spool::Spool;
use super::terminal::Screen;
use paliadin_shared::domain::permission::{Decision, PermissionAsk};
use paliadin_shared::domain::trailer::Trailer;
use std::io;
use std::time::Duration;
use uuid::Uuid;

/// Pause between the default reply's chunks.
const DEFAULT_CHUNK_PAUSE: Duration = Duration::from_millis(40);
/// Pause between `/stream` chunks.
const STREAM_PAUSE: Duration = Duration::from_millis(50);
/// The terminal question of `/dialog` (worded like Claude Code's permission dialog).
const DIALOG: &str = "Do you want to proceed?\n❯ 1. Yes\n  2. No";
/// How often `/ask` looks for the decision file.
const ASK_POLL: Duration = Duration::from_millis(20);
/// Pause between `/activity` events.
const ACTIVITY_PAUSE: Duration = Duration::from_millis(20);

/// One turn being answered.
pub struct Turn<'a> {
    pub id: Uuid,
    /// Sequence number from [`Control::submit`], which interrupts are matched against.
    pub seq: u64,
    pub message: &'a str,
    pub spool: &'a Spool,
    /// The conversation it holds: each message is kept before it is answered.
    pub memory: &'a Memory,
    pub control: &'a Control,
    pub screen: &'a Screen,
}

/// How a turn ended.
#[derive(Debug)]
pub enum Outcome {
    /// The reply file was published.
    Answered,
    /// `/crash`: the process must exit now, without answering.
    Crash,
}

/// Why a turn ended without a reply.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("interrupted")]
    Interrupted,
    #[error("spool write failed: {0}")]
    Io(#[from] io::Error),
}

impl From<Interrupted> for Stop {
    fn from(_: Interrupted) -> Self {
        Stop::Interrupted
    }
}

impl Turn<'_> {
    fn pause(&self, d: Duration) -> Result<(), Stop> {
        Ok(self.control.pause(self.seq, d)?)
    }

    /// An activity, which the transcript also shows as one tool call and its result.
    fn activity(&self, text: &str) -> Result<(), Stop> {
        self.control.check(self.seq)?;
        self.screen.line(&format!("  · {text}"));
        let id = format!("demo-{}", uuid::Uuid::now_v7().simple());
        self.memory.log(&serde_json::json!({"type": "assistant", "message": {"role": "assistant",
            "content": [{"type": "tool_use", "id": id, "name": "Demo", "input": {"activity": text}}]}}))?;
        self.spool.activity(self.id, text)?;
        self.memory.log(&serde_json::json!({"type": "user", "message": {"role": "user",
            "content": [{"type": "tool_result", "tool_use_id": id, "content": format!("done: {text}")}]}}))?;
        Ok(())
    }

    /// The agent's words in its transcript (interim text when a tool call follows).
    fn say(&self, text: &str) -> Result<(), Stop> {
        Ok(self
            .memory
            .log(&serde_json::json!({"type": "assistant", "message": {
            "role": "assistant", "content": [{"type": "text", "text": text}]}}))?)
    }

    fn partial(&self, text: &str) -> Result<(), Stop> {
        self.control.check(self.seq)?;
        Ok(self.spool.partial(self.id, text)?)
    }

    /// Publishes `body` with a trailer (unless interrupted in the meantime).
    fn reply(&self, body: &str, tag: &str, used_tools: &[&str]) -> Result<Outcome, Stop> {
        self.control.check(self.seq)?;
        let trailer = Trailer {
            used_tools: used_tools.iter().map(|t| (*t).to_owned()).collect(),
            rows_seen: line_count(self.message),
            chip_count: 0,
            classifier_tag: tag.to_owned(),
        };
        self.spool.reply(self.id, body, &trailer)?;
        self.say(&format!("Replied to {}.", self.id))?;
        Ok(Outcome::Answered)
    }

    /// Streams `body` as `.partial` pieces, then publishes it whole.
    fn streamed(&self, pieces: &[&str], pause: Duration) -> Result<(), Stop> {
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                self.pause(pause)?;
            }
            self.partial(piece)?;
        }
        Ok(())
    }
}

/// Answers one turn according to its directive.
pub fn answer(turn: &Turn) -> Result<Outcome, Stop> {
    turn.control.check(turn.seq)?;
    turn.memory.remember(turn.message)?;
    turn.memory.log(
        &serde_json::json!({"type": "user", "message": {"role": "user",
        "content": format!("[PALIADIN:{}] {}", turn.id.hyphenated(), turn.message)}}),
    )?;
    let directive = directive::parse(turn.message);
    let tag = directive.classifier_tag();
    match directive {
        Directive::Default => {
            turn.activity(&format!(
                "reading your message ({} bytes)",
                turn.message.len()
            ))?;
            let body = replies::greeting(turn.message);
            turn.streamed(&replies::chunks(&body, 3), DEFAULT_CHUNK_PAUSE)?;
            turn.reply(&body, tag, &["demo.quote"])
        }
        Directive::Echo(payload) => turn.reply(&replies::echo(payload), tag, &[]),
        Directive::Slow(ms) => {
            turn.activity(&format!("waiting {ms} ms before answering"))?;
            turn.pause(Duration::from_millis(ms))?;
            turn.reply(&format!("Waited {ms} ms before answering."), tag, &[])
        }
        Directive::LateAck(ms) => turn.reply(
            &format!("Took the message; its receipt was written {ms} ms later."),
            tag,
            &[],
        ),
        Directive::Stream(n) => {
            let chunks: Vec<String> = (1..=n).map(|i| replies::stream_chunk(i, n)).collect();
            let pieces: Vec<&str> = chunks.iter().map(String::as_str).collect();
            turn.streamed(&pieces, STREAM_PAUSE)?;
            turn.reply(&chunks.concat(), tag, &[])
        }
        Directive::Activity(n) => {
            turn.say(&format!("Working through {n} steps."))?;
            for i in 1..=n {
                if i > 1 {
                    turn.pause(ACTIVITY_PAUSE)?;
                }
                turn.activity(&format!("step {i} of {n}: pretending to work"))?;
            }
            turn.reply(
                &format!("Reported {n} activity events."),
                tag,
                &["demo.activity"],
            )
        }
        Directive::Compact(ms) => {
            turn.control.check(turn.seq)?;
            turn.spool.status(turn.id, "compacting", "manual")?;
            turn.screen.line("  · compacting the conversation");
            turn.pause(Duration::from_millis(ms))?;
            turn.spool.status(turn.id, "compacted", "manual")?;
            turn.reply(&format!("Compacted the conversation in {ms} ms."), tag, &[])
        }
        Directive::Fail { kind, text } => {
            turn.control.check(turn.seq)?;
            turn.screen.line(&format!("  · API error ({kind})"));
            turn.spool.failure(turn.id, kind, text)?;
            Ok(Outcome::Answered)
        }
        Directive::Hang => {
            turn.activity("hanging until interrupted")?;
            loop {
                turn.pause(Duration::from_secs(3600))?;
            }
        }
        Directive::BadTrailer => {
            turn.control.check(turn.seq)?;
            turn.spool.reply_raw(turn.id, replies::BAD_TRAILER_REPLY)?;
            Ok(Outcome::Answered)
        }
        Directive::Large(kib) => turn.reply(&replies::large(kib), tag, &[]),
        Directive::Markdown => turn.reply(replies::MARKDOWN, tag, &[]),
        Directive::Recall => turn.reply(&replies::recall(&turn.memory.earlier()), tag, &[]),
        Directive::Crash => Ok(Outcome::Crash),
        Directive::Ask { tool, what } => ask(turn, tool, what),
        Directive::Dialog => {
            turn.activity("asking in the terminal")?;
            turn.control.open_dialog();
            turn.screen.line(DIALOG);
            turn.control.await_dialog(turn.seq)?;
            turn.reply("Proceeded.", tag, &[])
        }
        Directive::DialogAfter => {
            // Shown before the reply is published, so it is on screen by the next turn.
            turn.control.open_dialog();
            turn.screen.line(DIALOG);
            turn.reply("Answered; a question stays open in the terminal.", tag, &[])
        }
        Directive::Usage(text) => turn.reply(&text, tag, &[]),
    }
}

/// `/ask`: asks the person through the spool and answers with their decision. The wait is
/// bounded (`PALIADIN_PERMISSION_WAIT_SECS` plus a minute, as the worker denies at that
/// limit; one hour when unset) and an interrupt ends it at once.
fn ask(turn: &Turn, tool: &str, what: &str) -> Result<Outcome, Stop> {
    let request = PermissionAsk {
        tool: tool.to_owned(),
        summary: what.to_owned(),
        options: vec![Decision::Allow, Decision::AllowAlways, Decision::Deny],
    };
    turn.activity(&format!("asking for permission to use {tool}"))?;
    turn.control.check(turn.seq)?;
    turn.spool.ask(turn.id, 1, &request)?;
    let limit = std::env::var("PALIADIN_PERMISSION_WAIT_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(Duration::from_secs(3600), |s| Duration::from_secs(s + 60));
    let started = std::time::Instant::now();
    let answer = loop {
        if let Some(a) = turn.spool.decision(turn.id, 1)? {
            break Some(a);
        }
        if started.elapsed() > limit {
            break None;
        }
        turn.pause(ASK_POLL)?;
    };
    let tag = "demo-ask";
    match answer {
        Some(a) if a.decision != Decision::Deny => {
            turn.activity(&format!("{tool}: {}", what.lines().next().unwrap_or("")))?;
            let body = format!("Allowed ({}): {tool} ran: {what}", a.decision);
            turn.reply(&body, tag, &[tool])
        }
        Some(a) => {
            let why = a.message.unwrap_or_else(|| "no reason given".into());
            turn.reply(&format!("Denied: {tool} did not run ({why})."), tag, &[])
        }
        None => turn.reply(
            &format!("Denied: nobody answered; {tool} did not run."),
            tag,
            &[],
        ),
    }
}

/// The trailer's `rows_seen`: lines in the message (at least 1).
fn line_count(message: &str) -> i32 {
    i32::try_from(message.trim_end().split('\n').count()).unwrap_or(i32::MAX)
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
