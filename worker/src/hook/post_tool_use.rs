//! `paliadin-hook post-tool-use` (Claude Code's `PostToolUse`, matcher `*`): reports what Claude
//! does for the pending Paliadin turn.
//!
//! Appends `{"type":"activity","text":"<tool>: <short input summary>"}` to
//! `<spool>/<turn_id>.events` (the summary is the command, path, pattern, URL or query,
//! whitespace collapsed, at most 100 characters), except for tool calls that touch the spool
//! files (the reply plumbing itself). When such a call is a `Write`/`Edit`/`MultiEdit` that left
//! a complete `<turn_id>.md.tmp` (its last line is a trailer), publishes it as `<turn_id>.md`
//! with an atomic rename: that is how every reply is published. Docs: `docs/claude-code.md`.

use super::files::{Spool, append};
use super::json::{Json, Map, dumps_compact};
use super::text::{collapse, first_chars, strip};

/// The input fields a summary prefers, in order; then any other string field.
const SUMMARY_KEYS: [&str; 9] = [
    "command",
    "file_path",
    "notebook_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "prompt",
];
const MAX_SUMMARY: usize = 100;

fn summary(tool_input: Option<&Json>) -> String {
    let Some(Json::Object(input)) = tool_input else {
        return String::new();
    };
    let preferred = SUMMARY_KEYS.iter().filter_map(|k| input.get(k));
    let text = preferred
        .chain(input.values())
        .filter_map(Json::as_str)
        .find(|v| !strip(v).is_empty())
        .unwrap_or_default();
    let text = collapse(text);
    if text.chars().count() <= MAX_SUMMARY {
        text
    } else {
        format!("{}…", first_chars(&text, MAX_SUMMARY - 1))
    }
}

/// Whether the call names the spool in its path or command (reply plumbing, not activity).
fn touches_spool(tool_input: Option<&Json>, spool: &str) -> bool {
    let Some(Json::Object(input)) = tool_input else {
        return false;
    };
    ["file_path", "command"]
        .iter()
        .filter_map(|k| input.get(k).and_then(Json::as_str))
        .any(|v| v.contains(spool))
}

pub fn handle(event: &Map, spool: &Spool) -> anyhow::Result<Option<Json>> {
    let Some(pending) = spool.read_pending(event) else {
        return Ok(None);
    };
    if spool.concluded(pending.turn) {
        return Ok(None);
    }
    let tool = match event.get("tool_name") {
        Some(name) if name.truthy() => name.py_str(),
        _ => "tool".to_owned(),
    };
    let tool_input = event.get("tool_input");
    if touches_spool(tool_input, &spool.root) {
        if matches!(tool.as_str(), "Write" | "Edit" | "MultiEdit") {
            spool.publish_tmp(pending.turn)?;
        }
        return Ok(None);
    }
    let text = summary(tool_input);
    let line = if text.is_empty() {
        tool
    } else {
        format!("{tool}: {text}")
    };
    let activity = Map::from_pairs([("type", Json::str("activity")), ("text", Json::str(line))]);
    let line = dumps_compact(&Json::Object(activity)) + "\n";
    append(&spool.path(pending.turn, "events"), &line)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::json::parse;

    #[test]
    fn summaries_prefer_known_fields_then_the_first_string_in_order() {
        let input = parse(br#"{"zeta": " ", "b": "second", "a": "third"}"#).unwrap();
        assert_eq!(summary(Some(&input)), "second");
        let input = parse(br#"{"description": "List", "command": "ls   -la\n /tmp"}"#).unwrap();
        assert_eq!(summary(Some(&input)), "ls -la /tmp");
        let long = Json::Object(Map::from_pairs([("query", Json::str("é".repeat(150)))]));
        let s = summary(Some(&long));
        assert_eq!(s.chars().count(), 100);
        assert!(s.ends_with("é…"));
        assert_eq!(summary(Some(&Json::str("x"))), "");
        assert_eq!(summary(None), "");
    }
}
