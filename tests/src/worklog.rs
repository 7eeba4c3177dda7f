//! What a work log must hold for the scripted models' `work N PATH` turn
//! (`crate::model::script`, `crate::model_openai::script`), checked the same way for a local
//! agent (`agent_claude::worklog`, `agent_codex::worklog`) and one over SSH (`ssh::worklog`,
//! `ssh::codex`): the interim texts, each read (Claude's `Read`, Codex's `exec_command`) and its
//! result, in order, numbered from 1, without the reply plumbing or the closing words.

use crate::http::SseEvent;
use crate::model::script::MISSING_FILE;
use serde_json::{Value, json};

/// The `step` events of a turn's stream, in order.
pub fn steps(evs: &[SseEvent]) -> Vec<Value> {
    evs.iter()
        .filter(|e| e.event == "step")
        .map(|e| e.data.clone())
        .collect()
}

/// Checks the steps of `work n path`, where `path` holds `text` (Claude Code's `Read`).
#[track_caller]
pub fn assert_work_steps(steps: &[Value], n: usize, path: &str, text: &str) {
    assert_steps_of(steps, n, path, text, "Read", |p| p.to_owned());
}

/// Checks the steps of the OpenAI model's `work n path` for Codex
/// (`crate::model_openai::script`): each read is an `exec_command` of `cat '<path>'`, and the
/// failing one's excerpt is what `cat` printed.
#[track_caller]
pub fn assert_codex_work_steps(steps: &[Value], n: usize, path: &str, text: &str) {
    assert_steps_of(steps, n, path, text, "exec_command", |p| {
        format!("cat '{p}'")
    });
    let failed = steps.last().expect("steps")["excerpt"].as_str();
    assert!(
        failed.is_some_and(|e| e.contains("No such file or directory")),
        "the failed command's output: {steps:#?}"
    );
}

#[track_caller]
fn assert_steps_of(
    steps: &[Value],
    n: usize,
    path: &str,
    text: &str,
    tool: &str,
    summary: impl Fn(&str) -> String,
) {
    let mut want: Vec<Value> = Vec::new();
    for i in 1..=n {
        want.push(json!({"kind": "text", "text": format!("Look number {i}.")}));
        want.push(json!({"kind": "tool", "tool": tool, "summary": summary(path)}));
        want.push(json!({"kind": "tool_result", "tool": tool, "ok": true}));
    }
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let missing = format!("{dir}/{MISSING_FILE}");
    want.push(json!({"kind": "tool", "tool": tool, "summary": summary(&missing)}));
    want.push(json!({"kind": "tool_result", "tool": tool, "ok": false}));
    assert_eq!(
        steps.len(),
        want.len(),
        "one step per entry, no plumbing: {steps:#?}"
    );
    for (i, (got, want)) in steps.iter().zip(&want).enumerate() {
        assert_eq!(got["n"], i + 1, "numbered in order: {got}");
        for (k, v) in want.as_object().expect("object") {
            assert_eq!(&got[k], v, "step {}: {k} in {got}", i + 1);
        }
        // The first read's result starts with the file (Claude Code answers a repeated read
        // of an unchanged file with a note instead).
        if i == 2 {
            let excerpt = got["excerpt"].as_str().unwrap_or_default();
            assert!(excerpt.contains(text.trim()), "the result's excerpt: {got}");
        }
    }
}
