//! What a work log must hold for the scripted model's `work N PATH` turn
//! (`crate::model::script`), checked the same way for a local agent (`agent_claude::worklog`)
//! and one over SSH (`ssh::worklog`): the interim texts, each `Read` and its result, in order,
//! numbered from 1, without the reply plumbing or the closing words.

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

/// Checks the steps of `work n path`, where `path` holds `text`.
#[track_caller]
pub fn assert_work_steps(steps: &[Value], n: usize, path: &str, text: &str) {
    let mut want: Vec<Value> = Vec::new();
    for i in 1..=n {
        want.push(json!({"kind": "text", "text": format!("Look number {i}.")}));
        want.push(json!({"kind": "tool", "tool": "Read", "summary": path}));
        want.push(json!({"kind": "tool_result", "tool": "Read", "ok": true}));
    }
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let missing = format!("{dir}/{MISSING_FILE}");
    want.push(json!({"kind": "tool", "tool": "Read", "summary": missing}));
    want.push(json!({"kind": "tool_result", "tool": "Read", "ok": false}));
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
