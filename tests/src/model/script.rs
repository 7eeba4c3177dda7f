//! The scripts the scripted model plays, chosen by the first word of the person's message, so
//! a test picks the model's behaviour by what it sends:
//!
//! | message | the model |
//! |---|---|
//! | anything else | follows the skill: `Write` the reply to `<id>.md.tmp` and says `Replied to <id>.` |
//! | `stream N …` | appends N progress chunks to `<id>.partial` (Bash heredoc), then replies |
//! | `tools N PATH` | reads the file PATH N times (`Read`: no permission needed), then replies |
//! | `bash CMD` | runs `CMD` with the Bash tool (may need permission), then replies `Ran it.`, or `Not run. Denied by the person: …` when the permission hook denied it |
//! | `slow MS …` | thinks for MS milliseconds before its first step, then replies |
//! | `chat …` | ignores the protocol and only talks (the Stop hook's fallback must answer) |
//! | `hang …` | starts a response and never finishes it (timeout / cancel send Escape) |
//! | `fail-auth …` | answers every request of the turn `401 authentication_error` |
//! | `fail-long …` | `400 invalid_request_error` "prompt is too long: …" |
//! | `fail-rate …` | `429 rate_limit_error` (Claude retries, then gives up) |
//! | `fail-overloaded …` | `529 overloaded_error` (Claude retries, then gives up) |
//! | `fail-billing …` | `400 invalid_request_error` "Your credit balance is too low …" |
//! | `flaky N …` | `529 overloaded_error` to the turn's first N requests, then follows the skill |
//!
//! The reply paths come from the prompt hook's reminder in the conversation: without the hook
//! the model does not know where to write, as a real model without it would not reliably.

use super::request::TurnView;
use super::sse::Answer;
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
        "hang" => Play::Hang,
        "slow" => match protocol(view, view.step, &default_body(&view.message), &[]) {
            Play::Answer(a) if view.step == 0 => {
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
