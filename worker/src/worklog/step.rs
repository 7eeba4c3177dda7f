//! One entry of a turn's work log, as the `step` event carries it and the host-agent wire
//! pushes it, with its bounds.
//!
//! A step is `{n, kind, …}`: `n` numbers the turn's steps from 1 (a takeover and a resumed SSH
//! channel skip the steps already passed on by it), `kind` is one of
//! - `text`: `{text}` the assistant's words between tools (with `more: true` once, for the
//!   marker that ends a turn's work log at [`MAX_STEPS`]);
//! - `thinking`: `{text}` the assistant's visible reasoning;
//! - `tool`: `{tool, summary}` a tool call: its name and a summary of its input;
//! - `tool_result`: `{tool, ok, excerpt}` the outcome of a tool call and the start of its output.
//!
//! Every text is cleaned (control characters but LF and TAB removed) and cut to its bound, so
//! what comes from a transcript, a demo log or a remote host agent is bounded alike
//! ([`Step::bounded`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most steps a turn's work log holds; the next entry becomes one "more steps" marker and the
/// rest of the turn's entries are not shown.
pub const MAX_STEPS: u32 = 200;
/// Longest `text` of a `text` or `thinking` step, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest tool name, in characters.
pub const MAX_TOOL_CHARS: usize = 64;
/// Longest `summary` of a tool call, in characters.
pub const MAX_SUMMARY_CHARS: usize = 300;
/// Longest `excerpt` of a tool result, in characters.
pub const MAX_EXCERPT_CHARS: usize = 500;

/// One step of a turn's work log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// From 1, in the order of the transcript.
    pub n: u32,
    #[serde(flatten)]
    pub body: StepBody,
}

/// What a step says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepBody {
    Text {
        text: String,
        /// The marker that the turn had more steps than [`MAX_STEPS`].
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        more: bool,
    },
    Thinking {
        text: String,
    },
    Tool {
        tool: String,
        summary: String,
    },
    ToolResult {
        tool: String,
        ok: bool,
        excerpt: String,
    },
}

impl Step {
    /// The step that stands for every step past [`MAX_STEPS`].
    pub fn more(n: u32) -> Step {
        Step {
            n,
            body: StepBody::Text {
                text: format!("… more steps not shown (the work log keeps {MAX_STEPS} per turn)"),
                more: true,
            },
        }
    }

    /// The same step with every text cleaned and within its bound.
    pub fn bounded(mut self) -> Step {
        match &mut self.body {
            StepBody::Text { text, .. } | StepBody::Thinking { text } => {
                *text = clip(text, MAX_TEXT_CHARS);
            }
            StepBody::Tool { tool, summary } => {
                *tool = clip(tool, MAX_TOOL_CHARS);
                *summary = clip(summary, MAX_SUMMARY_CHARS);
            }
            StepBody::ToolResult { tool, excerpt, .. } => {
                *tool = clip(tool, MAX_TOOL_CHARS);
                *excerpt = clip(excerpt, MAX_EXCERPT_CHARS);
            }
        }
        self
    }

    /// The `step` event's payload.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("steps serialise")
    }
}

/// `s` without control characters (but LF and TAB), trimmed, cut to `max` characters with an
/// ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    let clean = clean.trim();
    if clean.chars().count() <= max {
        return clean.to_owned();
    }
    let mut out: String = clean.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_has_the_documented_shape_and_bounds() {
        let s = Step {
            n: 3,
            body: StepBody::Tool {
                tool: "Bash".into(),
                summary: format!("echo \u{1b}[31m{}", "x".repeat(1000)),
            },
        }
        .bounded();
        let v = s.to_json();
        assert_eq!(v["n"], 3);
        assert_eq!(v["kind"], "tool");
        assert_eq!(v["tool"], "Bash");
        let summary = v["summary"].as_str().unwrap();
        assert_eq!(summary.chars().count(), MAX_SUMMARY_CHARS);
        assert!(summary.starts_with("echo [31m") && summary.ends_with('…'));
        let back: Step = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        let more = Step::more(201).to_json();
        assert_eq!(
            (more["kind"].as_str(), more["more"].as_bool()),
            (Some("text"), Some(true))
        );
        let r = serde_json::json!({"n": 1, "kind": "tool_result", "tool": "Read", "ok": false, "excerpt": "no"});
        assert!(matches!(
            serde_json::from_value::<Step>(r).unwrap().body,
            StepBody::ToolResult { ok: false, .. }
        ));
    }

    #[test]
    fn a_step_crosses_the_host_agent_wire_whole() {
        use crate::host_agent::proto::{Body, Response, line};
        let step = Step {
            n: 2,
            body: StepBody::Text {
                text: "Let me look.".into(),
                more: false,
            },
        };
        let sent = line(&Response {
            id: Some(7),
            body: Body::Step { step: step.clone() },
        });
        let v: Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["kind"].as_str()),
            (Some("step"), Some("text"))
        );
        let back: Response = serde_json::from_str(&sent).unwrap();
        assert_eq!(back.body, Body::Step { step });
        assert!(!back.body.is_final());
    }
}
