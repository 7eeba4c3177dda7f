//! The scripts the scripted OpenAI model plays for Codex, chosen by the first word of the
//! person's message, like the Anthropic one's ([`crate::model::script`]):
//!
//! | message | the model |
//! |---|---|
//! | anything else | follows the Paliadin instructions: writes the reply to `<id>.md.tmp` with one `exec_command` (a heredoc), then says `Replied to <id>.` |
//! | `tools N PATH` | reads the file PATH N times (`cat`, sandboxed: no approval), then replies |
//! | `work N PATH` | says `Look number i.` and runs `cat PATH` in each of N answers, then `cat`s [`MISSING_FILE`] beside PATH (the command fails), then replies `Worked N times.` |
//! | `bash CMD` | runs `CMD` with `exec_command` asking for `require_escalated` (Codex asks for approval), then replies `Ran it.`, or `Not run. <why>` when the call's output says it was rejected |
//! | `full …` | reads `/etc/hostname` once, reporting [`FULL_CONTEXT`] more input tokens than usual (past the test's `model_auto_compact_token_limit`: Codex compacts before it goes on), then, from the summary, replies |
//! | `chat …` | ignores the protocol and only talks (the Stop hook's fallback must answer) |
//! | `hang …` | starts a response and never finishes it (cancel / timeout send Escape) |
//! | `fail-auth …` | `401` `invalid_api_key` |
//! | `fail-rate …` | `429` `rate_limit_exceeded` |
//! | `fail-server …` | `500` `server_error` |
//!
//! The reply path comes from the prompt hook's reminder in the conversation: without the hook
//! the model does not know where to write. Asked to compact the conversation, the model answers
//! with a summary naming the turn in progress and its reply file ([`summary`]).

use super::request::TurnView;
use super::sse::{Answer, Item};
use crate::model::script::MISSING_FILE;
use serde_json::json;

/// What the model does for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Play {
    Answer(Answer),
    /// Start streaming and never finish.
    Hang,
    /// An API error: HTTP status, the error's `type`, `code` and `message`.
    Fail(Failure),
}

/// An API error response of the Responses API.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: &'static str,
}

/// The error the `fail-…` word answers with.
pub fn failure(word: &str) -> Option<Failure> {
    let (status, kind, code, message) = match word {
        "fail-auth" => (
            401,
            "invalid_request_error",
            "invalid_api_key",
            "Incorrect API key provided.",
        ),
        "fail-rate" => (
            429,
            "rate_limit_exceeded",
            "rate_limit_exceeded",
            "Rate limit reached for requests.",
        ),
        "fail-server" => (
            500,
            "server_error",
            "server_error",
            "The server had an error while processing your request.",
        ),
        _ => return None,
    };
    Some(Failure {
        status,
        kind,
        code,
        message,
    })
}

/// Input tokens the `full` script's first answer adds to its usage: above the
/// `model_auto_compact_token_limit` the compaction test sets (50 000).
pub const FULL_CONTEXT: i64 = 80_000;

/// Whether the answer to this request reports a nearly full context (the `full` script's
/// first step, before any compaction).
pub fn fills_context(view: &TurnView) -> bool {
    view.message.split_whitespace().next() == Some("full") && view.step == 0 && !view.summarised
}

/// The scripted model's summary of a conversation Codex asks it to compact, naming the turn in
/// progress and its reply file (as the Anthropic model's does: [`crate::model::script::summary`]).
pub fn summary(view: Option<&TurnView>) -> String {
    let named = view.map(|v| crate::model::request::TurnView {
        turn_id: v.turn_id,
        message: v.message.clone(),
        step: 0,
        tmp_path: v.tmp_path.clone(),
        stop_blocked: false,
        denied: None,
    });
    crate::model::script::summary(named.as_ref())
}

/// The reply body (without trailer) the default script writes for `message`.
pub fn default_body(message: &str) -> String {
    crate::model::script::default_body(message)
}

/// How a rejected command shows in the call's output (Codex's words, or the hook's reason).
fn rejected(output: &str) -> bool {
    let o = output.to_lowercase();
    o.contains("denied by the person") || o.contains("rejected") || o.contains("declined")
}

/// Decides the answer to a main-loop request on a Paliadin turn.
pub fn play(view: &TurnView) -> Play {
    let (word, rest) = view
        .message
        .split_once(char::is_whitespace)
        .unwrap_or((view.message.as_str(), ""));
    if let Some(f) = failure(word) {
        return Play::Fail(f);
    }
    match word {
        "chat" => Play::Answer(Answer::text(format!("Plain answer: {rest}"))),
        "hang" => Play::Hang,
        "full" if !view.summarised && view.step == 0 => Play::Answer(Answer::call(
            "exec_command",
            json!({"cmd": "cat /etc/hostname", "yield_time_ms": 2000}),
        )),
        "full" if !view.summarised => {
            protocol(view, view.step - 1, &default_body(&view.message), &["Bash"])
        }
        "tools" => {
            let n: usize = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            if view.step < n {
                let path = rest.split_whitespace().nth(1).unwrap_or("/etc/hostname");
                return Play::Answer(Answer::call(
                    "exec_command",
                    json!({"cmd": format!("cat '{path}'"), "yield_time_ms": 2000}),
                ));
            }
            protocol(
                view,
                view.step - n,
                &format!("Looked {n} times."),
                &["Bash"],
            )
        }
        "work" => {
            let n: usize = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let path = rest.split_whitespace().nth(1).unwrap_or("/etc/hostname");
            let cat = |path: &str| json!({"cmd": format!("cat '{path}'"), "yield_time_ms": 2000});
            if view.step < n {
                return Play::Answer(Answer {
                    items: vec![
                        Item::Text(format!("Look number {}.", view.step + 1)),
                        Item::Call {
                            name: "exec_command".into(),
                            arguments: cat(path),
                        },
                    ],
                });
            }
            if view.step == n {
                let missing = match path.rsplit_once('/') {
                    Some((dir, _)) => format!("{dir}/{MISSING_FILE}"),
                    None => MISSING_FILE.to_owned(),
                };
                return Play::Answer(Answer::call("exec_command", cat(&missing)));
            }
            protocol(
                view,
                view.step - n - 1,
                &format!("Worked {n} times."),
                &["Bash"],
            )
        }
        "bash" => {
            if view.step == 0 {
                return Play::Answer(Answer::call(
                    "exec_command",
                    json!({"cmd": rest, "sandbox_permissions": "require_escalated",
                           "justification": "Run what the person asked?",
                           "yield_time_ms": 2000}),
                ));
            }
            let output = view.last_output.clone().unwrap_or_default();
            if view.step == 1 && rejected(&output) {
                let why = output.lines().next().unwrap_or_default().to_owned();
                return protocol(view, 0, &format!("Not run. {why}"), &[]);
            }
            let k = view.step - 1;
            let ran = view.step > 1 || !rejected(&output);
            protocol(view, k, if ran { "Ran it." } else { "Not run." }, &["Bash"])
        }
        _ => protocol(view, view.step, &default_body(&view.message), &[]),
    }
}

/// The reply protocol from step `k` on: write the reply file, then say so.
fn protocol(view: &TurnView, k: usize, body: &str, tools: &[&str]) -> Play {
    let Some(tmp) = &view.tmp_path else {
        return Play::Answer(Answer::text("I do not know where to write the reply."));
    };
    match k {
        0 => {
            let trailer = crate::model::script::trailer(tools);
            let cmd = format!("cat > '{tmp}' <<'PALIADIN_EOF'\n{body}\n{trailer}\nPALIADIN_EOF");
            Play::Answer(Answer::call(
                "exec_command",
                json!({"cmd": cmd, "yield_time_ms": 2000}),
            ))
        }
        _ => Play::Answer(Answer::text(format!("Replied to {}.", view.turn_id))),
    }
}
