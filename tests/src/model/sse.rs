//! The Anthropic Messages API wire format the scripted model answers in: one assistant
//! message (text and `tool_use` blocks) rendered either as a JSON body or as the streaming
//! Server-Sent Events Claude Code reads (`message_start`, `content_block_*` with `text_delta` /
//! `input_json_delta`, `message_delta`, `message_stop`).

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The tokens one answer reports in its `usage`, distinct for every answer of a server
/// ([`Reported::nth`]) so that a test can tell which answers a count includes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reported {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_creation: i64,
}

impl Reported {
    /// The usage of a server's `n`-th answer (from 1).
    pub fn nth(n: i64) -> Reported {
        Reported {
            input: 100 + n,
            output: 20 + 3 * n,
            cache_read: 1000 + 10 * n,
            cache_creation: 50 + 7 * n,
        }
    }

    /// The sum of several answers' usage.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a Reported>) -> Reported {
        all.into_iter().fold(Reported::default(), |s, r| Reported {
            input: s.input + r.input,
            output: s.output + r.output,
            cache_read: s.cache_read + r.cache_read,
            cache_creation: s.cache_creation + r.cache_creation,
        })
    }

    /// As `message_start` carries it: the prompt's counts, one output token so far.
    fn at_start(&self) -> Value {
        json!({"input_tokens": self.input, "output_tokens": 1,
               "cache_read_input_tokens": self.cache_read,
               "cache_creation_input_tokens": self.cache_creation})
    }

    fn whole(&self) -> Value {
        json!({"input_tokens": self.input, "output_tokens": self.output,
               "cache_read_input_tokens": self.cache_read,
               "cache_creation_input_tokens": self.cache_creation})
    }
}

/// One content block of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    ToolUse { name: String, input: Value },
}

/// One assistant message. `stop_reason` follows from the blocks: `tool_use` when the last one
/// calls a tool, else `end_turn` (`max_tokens` for a [`Answer::cut`] one).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub blocks: Vec<Block>,
    /// The model ran out of output tokens: `stop_reason` is `max_tokens`.
    pub cut: bool,
}

impl Answer {
    pub fn text(text: impl Into<String>) -> Answer {
        Answer {
            blocks: vec![Block::Text(text.into())],
            cut: false,
        }
    }

    /// A text cut off where the model reached its output limit (`stop_reason: max_tokens`).
    pub fn cut(text: impl Into<String>) -> Answer {
        Answer {
            blocks: vec![Block::Text(text.into())],
            cut: true,
        }
    }

    pub fn tool(name: &str, input: Value) -> Answer {
        Answer {
            blocks: vec![Block::ToolUse {
                name: name.to_owned(),
                input,
            }],
            cut: false,
        }
    }

    fn stop_reason(&self) -> &'static str {
        if self.cut {
            return "max_tokens";
        }
        match self.blocks.last() {
            Some(Block::ToolUse { .. }) => "tool_use",
            _ => "end_turn",
        }
    }

    fn block_json(blocks: &[Block], ids: &[String]) -> Vec<Value> {
        blocks
            .iter()
            .zip(ids)
            .map(|(b, id)| match b {
                Block::Text(t) => json!({"type": "text", "text": t}),
                Block::ToolUse { name, input } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": input})
                }
            })
            .collect()
    }

    fn ids(&self) -> Vec<String> {
        self.blocks
            .iter()
            .map(|_| format!("toolu_{:020}", NEXT_ID.fetch_add(1, Ordering::Relaxed)))
            .collect()
    }

    /// The non-streaming JSON body.
    pub fn to_json(&self, model: &str, usage: Reported) -> Value {
        let ids = self.ids();
        json!({
            "id": format!("msg_{:020}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": Self::block_json(&self.blocks, &ids),
            "stop_reason": self.stop_reason(),
            "stop_sequence": null,
            "usage": usage.whole(),
        })
    }

    /// The streaming body as SSE frames, text split into small deltas as a model streams it.
    pub fn to_sse_frames(&self, model: &str, usage: Reported) -> Vec<String> {
        let ids = self.ids();
        let mut frames = vec![frame(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": format!("msg_{:020}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
                "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": usage.at_start()}}),
        )];
        for (index, (block, id)) in self.blocks.iter().zip(&ids).enumerate() {
            match block {
                Block::Text(text) => {
                    frames.push(frame(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": index,
                               "content_block": {"type": "text", "text": ""}}),
                    ));
                    for piece in chunks(text, 64) {
                        frames.push(frame(
                            "content_block_delta",
                            json!({"type": "content_block_delta", "index": index,
                                   "delta": {"type": "text_delta", "text": piece}}),
                        ));
                    }
                }
                Block::ToolUse { name, input } => {
                    frames.push(frame(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": index,
                               "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
                    ));
                    let text = input.to_string();
                    for piece in chunks(&text, 256) {
                        frames.push(frame(
                            "content_block_delta",
                            json!({"type": "content_block_delta", "index": index,
                                   "delta": {"type": "input_json_delta", "partial_json": piece}}),
                        ));
                    }
                }
            }
            frames.push(frame(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
        frames.push(frame(
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                   "usage": {"output_tokens": usage.output}}),
        ));
        frames.push(frame("message_stop", json!({"type": "message_stop"})));
        frames
    }
}

/// The first frame of a stream that never ends (the `hang` script).
pub fn hang_start(model: &str) -> String {
    frame(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_hang", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    )
}

fn frame(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_every_byte_and_char_boundaries() {
        let text = "é😀abc".repeat(40);
        let pieces = chunks(&text, 7);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| p.len() <= 7 + 3));
    }

    #[test]
    fn tool_answers_stop_for_tool_use() {
        let a = Answer::tool("Bash", json!({"command": "ls"}));
        let body = a.to_json("m", Reported::nth(1));
        assert_eq!(body["stop_reason"], "tool_use");
        assert_eq!(body["content"][0]["name"], "Bash");
        let frames = a.to_sse_frames("m", Reported::nth(2)).concat();
        assert!(frames.contains("\"output_tokens\":26"));
        assert!(frames.contains("input_json_delta"));
        assert!(frames.contains("\"stop_reason\":\"tool_use\""));
    }
}
