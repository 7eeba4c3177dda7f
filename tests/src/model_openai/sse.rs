//! The OpenAI Responses API streaming format the scripted model answers in, as Codex CLI
//! 0.171.0 reads it (`wire_api = "responses"`, `stream: true`): `response.created`, per output
//! item `response.output_item.added`, `response.output_text.delta` for text and
//! `response.output_item.done`, then `response.completed` with the `usage`.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The tokens one answer reports, distinct for every answer of a server ([`Usage::nth`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: i64,
    pub cached: i64,
    pub output: i64,
}

impl Usage {
    /// The usage of a server's `n`-th answer (from 1).
    pub fn nth(n: i64) -> Usage {
        Usage {
            input: 100 + n,
            cached: 10 * n,
            output: 20 + 3 * n,
        }
    }

    fn to_json(self) -> Value {
        json!({"input_tokens": self.input,
               "input_tokens_details": {"cached_tokens": self.cached},
               "output_tokens": self.output,
               "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": self.input + self.output})
    }
}

/// One output item of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Text(String),
    /// A function call: the tool's name and its arguments (sent as a JSON string).
    Call {
        name: String,
        arguments: Value,
    },
}

/// One model answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub items: Vec<Item>,
}

impl Answer {
    pub fn text(text: impl Into<String>) -> Answer {
        Answer {
            items: vec![Item::Text(text.into())],
        }
    }

    pub fn call(name: &str, arguments: Value) -> Answer {
        Answer {
            items: vec![Item::Call {
                name: name.to_owned(),
                arguments,
            }],
        }
    }

    /// The streaming body as SSE frames, text split into small deltas.
    pub fn to_sse_frames(&self, model: &str, usage: Usage) -> Vec<String> {
        let rid = format!("resp_{:020}", next_id());
        let mut frames = vec![created(&rid, model)];
        let mut done_items = Vec::new();
        for (index, item) in self.items.iter().enumerate() {
            match item {
                Item::Text(text) => {
                    let id = format!("msg_{:020}", next_id());
                    let open = json!({"type": "message", "id": id, "role": "assistant",
                                      "status": "in_progress", "content": []});
                    frames.push(frame(
                        "response.output_item.added",
                        json!({"output_index": index, "item": open}),
                    ));
                    for piece in chunks(text, 64) {
                        frames.push(frame(
                            "response.output_text.delta",
                            json!({"output_index": index, "item_id": id, "content_index": 0,
                                   "delta": piece}),
                        ));
                    }
                    let done = json!({"type": "message", "id": id, "role": "assistant",
                                      "status": "completed",
                                      "content": [{"type": "output_text", "text": text,
                                                   "annotations": []}]});
                    frames.push(frame(
                        "response.output_item.done",
                        json!({"output_index": index, "item": done}),
                    ));
                    done_items.push(done);
                }
                Item::Call { name, arguments } => {
                    let n = next_id();
                    let call = json!({"type": "function_call", "id": format!("fc_{n:020}"),
                                      "call_id": format!("call_{n:020}"), "name": name,
                                      "arguments": arguments.to_string(),
                                      "status": "completed"});
                    frames.push(frame(
                        "response.output_item.added",
                        json!({"output_index": index, "item": call}),
                    ));
                    frames.push(frame(
                        "response.output_item.done",
                        json!({"output_index": index, "item": call}),
                    ));
                    done_items.push(call);
                }
            }
        }
        frames.push(frame(
            "response.completed",
            json!({"response": {"id": rid, "object": "response", "model": model,
                                "status": "completed", "output": done_items,
                                "usage": usage.to_json()}}),
        ));
        frames
    }
}

fn created(rid: &str, model: &str) -> String {
    frame(
        "response.created",
        json!({"response": {"id": rid, "object": "response", "model": model,
                            "status": "in_progress", "output": []}}),
    )
}

/// The first frame of a stream that never ends (the `hang` script).
pub fn hang_start(model: &str) -> String {
    created("resp_hang", model)
}

/// Splits on char boundaries into pieces of at most `max` bytes (at least one char each).
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = max.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

fn frame(event: &str, mut data: Value) -> String {
    data["type"] = Value::String(event.to_owned());
    format!("event: {event}\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_one_item_and_the_stream_completes_with_usage() {
        let a = Answer::call("exec_command", json!({"cmd": "ls"}));
        let frames = a.to_sse_frames("m", Usage::nth(2)).concat();
        assert!(frames.contains("\"name\":\"exec_command\""));
        assert!(frames.contains("\"arguments\":\"{\\\"cmd\\\":\\\"ls\\\"}\""));
        assert!(frames.contains("event: response.completed"));
        assert!(frames.contains("\"output_tokens\":26"));
        let t = Answer::text("é".repeat(100)).to_sse_frames("m", Usage::nth(1));
        assert!(t.iter().filter(|f| f.contains("output_text.delta")).count() >= 2);
    }
}
