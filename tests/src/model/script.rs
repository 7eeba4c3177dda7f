//! The scripts the scripted model plays, chosen by the first word of the person's message, so
//! a test picks the model's behaviour by what it sends:
//!
//! | message | the model |
//! |---|---|
//! | anything else | follows the skill: `Write` the reply to `<id>.md.tmp` and says `Replied to <id>.` |
//! | `stream N …` | appends N progress chunks to `<id>.partial` (Bash heredoc), then replies |
//! | `tools N PATH` | reads the file PATH N times (`Read`: no permission needed), then replies |
//! | `work N PATH` | says `Look number i.` and reads PATH (`Read`) in each of N answers, then reads [`MISSING_FILE`] beside PATH (its result is an error), then replies `Worked N times.` |
//! | `read-files …` | `Read`s each file the envelope's note of sent files names, in order, then replies `Read N files.` |
//! | `bash CMD` | runs `CMD` with the Bash tool (may need permission), then replies `Ran it.`, or `Not run. Denied by the person: …` when the permission hook denied it |
//! | `slow MS …` | thinks for MS milliseconds before its first step, then replies |
//! | `late-close MS …` | replies at once, but takes MS milliseconds over the request that closes the turn (after the reply file) |
//! | `chat …` | ignores the protocol and only talks (the Stop hook's fallback must answer) |
//! | `hang …` | starts a response and never finishes it (timeout / cancel send Escape) |
//! | `fail-auth …` | answers every request of the turn `401 authentication_error` |
//! | `fail-long …` | `400 invalid_request_error` "prompt is too long: …" |
//! | `fail-rate …` | `429 rate_limit_error` (Claude retries, then gives up) |
//! | `fail-overloaded …` | `529 overloaded_error` (Claude retries, then gives up) |
//! | `fail-billing …` | `400 invalid_request_error` "Your credit balance is too low …" |
//! | `flaky N …` | `529 overloaded_error` to the turn's first N requests, then follows the skill |
//! | `fail-org …` | `403 permission_error` "OAuth authentication is currently not allowed for this organization." |
//! | `fail-model …` | `404 not_found_error` (the model does not exist) |
//! | `fail-output …` | every answer is cut off at the output limit (`stop_reason: max_tokens`) |
//! | `full …` | follows the skill, its last answer reporting a context [`FULL_CONTEXT`] tokens fuller |
//!
//! Claude Code's request to summarise the conversation (`/compact` or its own compaction) is
//! answered with [`summary`], which names the turn in progress so that the conversation goes on
//! from the summary alone.
//!
//! The reply paths come from the prompt hook's reminder in the conversation: without the hook
//! the model does not know where to write, as a real model without it would not reliably.

use super::request::TurnView;
use super::sse::{Answer, Block};
use serde_json::json;

/// What the model does for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Play {
    Answer(Answer),
    /// Start streaming and never finish.
    Hang,
    /// Answer after thinking this long.
    Later(std::time::Duration, Answer),
    /// An API error: HTTP status, the error's `type` and `message`.
    Fail(Failure),
    /// Fail like this while the turn has had at most N requests, then play the answer.
    Flaky(usize, Failure, Box<Play>),
}

/// An API error response of the Messages API.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub kind: &'static str,
    pub message: &'static str,
}

/// The error the `fail-…` word (and `flaky`) answers with.
pub fn failure(word: &str) -> Option<Failure> {
    let (status, kind, message) = match word {
        "fail-auth" => (401, "authentication_error", "invalid x-api-key"),
        "fail-long" => (
            400,
            "invalid_request_error",
            "prompt is too long: 250000 tokens > 200000 maximum",
        ),
        "fail-rate" => (
            429,
            "rate_limit_error",
            "This request would exceed your organization's rate limit.",
        ),
        "fail-overloaded" | "flaky" => (529, "overloaded_error", "Overloaded"),
        "fail-org" => (
            403,
            "permission_error",
            "OAuth authentication is currently not allowed for this organization.",
        ),
        "fail-model" => (404, "not_found_error", "model: claude-no-such-model"),
        "fail-billing" => (
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & \
             Billing to upgrade or purchase credits.",
        ),
        _ => return None,
    };
    Some(Failure {
        status,
        kind,
        message,
    })
}

/// Cache-read tokens the `full` script's last answer adds to its usage: with Claude Code's
/// window set to 100 000 tokens (`CLAUDE_CODE_AUTO_COMPACT_WINDOW`), above the point where it
/// compacts by itself (100 000 − 20 000 − 13 000) and below the point where it refuses to go on
/// (100 000 − 3 000).
pub const FULL_CONTEXT: i64 = 80_000;

/// Whether the answer to this request reports a nearly full context (the `full` script's last
/// step, the text after the reply file is written).
pub fn fills_context(view: &TurnView) -> bool {
    view.message.split_whitespace().next() == Some("full") && view.step >= 1
}

/// The scripted model's summary of a conversation it is asked to compact: Claude Code's format
/// (`<analysis>`, then `<summary>`), naming the turn in progress and its reply file.
pub fn summary(view: Option<&TurnView>) -> String {
    let mut text = String::from(
        "<analysis>The person chats through Paliadin.</analysis>\n<summary>\n\
         The conversation so far followed the Paliadin skill.\n",
    );
    if let Some(v) = view {
        let first = v.message.lines().next().unwrap_or_default();
        text += &format!(
            "{}\n[PALIADIN:{}] {first}\n",
            super::request::SUMMARY_TURN,
            v.turn_id
        );
        if let Some(tmp) = &v.tmp_path {
            text += &format!("Reply file: {tmp}\n");
        }
    }
    text + "</summary>"
}

/// The reply body (without trailer) the default script writes for `message`.
pub fn default_body(message: &str) -> String {
    format!("Received {} characters.", message.chars().count())
}

/// The progress chunk `i` (1-based) of `stream N`; the reply starts with all of them.
pub fn stream_chunk(i: usize, n: usize) -> String {
    format!("Chunk {i} of {n}.\n")
}

pub fn trailer(tools: &[&str]) -> String {
    let tools = serde_json::to_string(tools).expect("json");
    format!(
        "<!-- paliadin {{\"used_tools\":{tools},\"rows_seen\":0,\"chip_count\":0,\"classifier_tag\":\"test\"}} -->"
    )
}

/// Decides the answer to a main-loop request on a Paliadin turn.
pub fn play(view: &TurnView) -> Play {
    let (word, rest) = view
        .message
        .split_once(char::is_whitespace)
        .unwrap_or((view.message.as_str(), ""));
    let count = || {
        rest.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1usize)
    };
    if let Some(f) = failure(word) {
        if word == "flaky" {
            let rest = protocol(view, view.step, &default_body(&view.message), &[]);
            return Play::Flaky(count(), f, Box::new(rest));
        }
        return Play::Fail(f);
    }
    match word {
        "chat" => Play::Answer(Answer::text(format!("Plain answer: {rest}"))),
        "fail-output" => Play::Answer(Answer::cut("This answer goes on and on and")),
        "hang" => Play::Hang,
        "slow" => match protocol(view, view.step, &default_body(&view.message), &[]) {
            Play::Answer(a) if view.step == 0 => {
                Play::Later(std::time::Duration::from_millis(count() as u64), a)
            }
            other => other,
        },
        "late-close" => match protocol(view, view.step, &default_body(&view.message), &[]) {
            Play::Answer(a) if view.step >= 1 => {
                Play::Later(std::time::Duration::from_millis(count() as u64), a)
            }
            other => other,
        },
        "stream" => {
            let n = count();
            if view.step < n {
                let Some(tmp) = &view.tmp_path else {
                    return lost();
                };
                let partial = format!("{}.partial", tmp.trim_end_matches(".md.tmp"));
                let chunk = stream_chunk(view.step + 1, n);
                let command = format!("cat >> {partial} <<'PALIADIN_EOF'\n{chunk}PALIADIN_EOF");
                return Play::Answer(Answer::tool(
                    "Bash",
                    json!({"command": command, "description": "Append reply progress"}),
                ));
            }
            let body: String = (1..=n).map(|i| stream_chunk(i, n)).collect();
            protocol(view, view.step - n, &format!("{body}Done."), &["Bash"])
        }
        "tools" => {
            let n = count();
            if view.step < n {
                let path = rest.split_whitespace().nth(1).unwrap_or("/etc/hostname");
                return Play::Answer(Answer::tool("Read", json!({"file_path": path})));
            }
            protocol(
                view,
                view.step - n,
                &format!("Looked {n} times."),
                &["Read"],
            )
        }
        "work" => {
            let n = count();
            let path = rest.split_whitespace().nth(1).unwrap_or("/etc/hostname");
            if view.step < n {
                return Play::Answer(Answer {
                    blocks: vec![
                        Block::Text(format!("Look number {}.", view.step + 1)),
                        Block::ToolUse {
                            name: "Read".into(),
                            input: json!({"file_path": path}),
                        },
                    ],
                    cut: false,
                });
            }
            if view.step == n {
                let missing = match path.rsplit_once('/') {
                    Some((dir, _)) => format!("{dir}/{MISSING_FILE}"),
                    None => MISSING_FILE.to_owned(),
                };
                return Play::Answer(Answer::tool("Read", json!({"file_path": missing})));
            }
            protocol(
                view,
                view.step - n - 1,
                &format!("Worked {n} times."),
                &["Read"],
            )
        }
        "read-files" => {
            let paths = sent_files(&view.message);
            if let Some(path) = paths.get(view.step) {
                return Play::Answer(Answer::tool("Read", json!({"file_path": path})));
            }
            let n = paths.len();
            protocol(view, view.step - n, &format!("Read {n} files."), &["Read"])
        }
        "bash" => {
            if view.step == 0 {
                return Play::Answer(Answer::tool(
                    "Bash",
                    json!({"command": rest, "description": "Run what the person asked"}),
                ));
            }
            match &view.denied {
                Some(why) => protocol(view, view.step - 1, &format!("Not run. {why}"), &[]),
                None => protocol(view, view.step - 1, "Ran it.", &["Bash"]),
            }
        }
        _ => protocol(view, view.step, &default_body(&view.message), &[]),
    }
}

/// The file `work` reads last, beside PATH, which does not exist (so that its tool result is an
/// error).
pub const MISSING_FILE: &str = "paliadin-missing-file.txt";

/// The paths the envelope's note of sent files names (`worker/src/uploads.rs`, `note`): its
/// lines `- <path> (<type>, <n> bytes)`.
fn sent_files(message: &str) -> Vec<String> {
    let Some(at) = message.find("[Files sent with this message") else {
        return Vec::new();
    };
    message[at..]
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .filter_map(|l| l.rsplit_once(" (").map(|(path, _)| path.to_owned()))
        .collect()
}

/// The skill's reply protocol from step `k` on: write the reply file, then say so.
fn protocol(view: &TurnView, k: usize, body: &str, tools: &[&str]) -> Play {
    let Some(tmp) = &view.tmp_path else {
        return lost();
    };
    match k {
        0 => Play::Answer(Answer::tool(
            "Write",
            json!({"file_path": tmp, "content": format!("{body}\n{}\n", trailer(tools))}),
        )),
        _ => Play::Answer(Answer::text(format!("Replied to {}.", view.turn_id))),
    }
}

/// A model that was never told where to reply just talks.
fn lost() -> Play {
    Play::Answer(Answer::text("I do not know where to write the reply."))
}
