//! Codex CLI's rollout entries (`$CODEX_HOME/sessions/…/rollout-…-<id>.jsonl`, one JSON line
//! each, `{timestamp, ordinal, type, payload}`), turned into a turn's work-log steps, as
//! Codex 0.171.0 writes them.
//!
//! A turn's entries are those after the `response_item` user `message` that opens with its
//! envelope `[PALIADIN:<turn_id>]` (`crate::usage::codex`), up to the next envelope. Codex
//! writes them in the order they happened (`ordinal` counts up by one per line, a call before
//! its output), so unlike Claude Code's transcript nothing is held back for a later line. Of
//! them:
//! - an assistant `message` (its `output_text`) is held until something follows it in the
//!   turn (a call, reasoning, another message): then it was interim text and becomes a `text`
//!   step; the turn's last message is the agent's closing words ("Replied to …"), never shown;
//! - a `reasoning` item's summary (else its text) becomes a `thinking` step;
//! - a `function_call`, `custom_tool_call` or `local_shell_call` becomes a `tool` step: Codex's
//!   name for the tool (`exec_command`, `apply_patch`, …) and [`summary`] of its input (the
//!   command, the patched files, …); a `web_search_call` becomes a `tool` step without result;
//! - its `…_output` becomes a `tool_result` step: ok when the command exited with 0 (the
//!   output's `Process exited with code N`); not ok when the call never ran, which Codex says
//!   as `<tool> failed: …` (a command the person refused: `exec_command failed: CreateProcess
//!   { message: "Rejected(…)" }`); else as the `CommandExecution` item's status or the output's
//!   `success` say; and the start of what the command printed (after the output's `Output:`
//!   header), or of the whole output;
//! - everything else (developer and user messages, `turn_context`, token counts, events) is
//!   passed over; `task_complete` (or `turn_aborted`) shows the turn's end.
//!
//! As for Claude: a call whose input names the spool (`hide`) is reply plumbing and is dropped
//! with its output, and past [`MAX_STEPS`] one marker step stands for the rest.

use super::step::{MAX_EXCERPT_CHARS, MAX_STEPS, MAX_SUMMARY_CHARS, Step, StepBody};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Where the parser stands in the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Before,
    In,
    After,
}

/// The steps of one turn, read from its rollout entries in order.
#[derive(Debug)]
pub struct Parser {
    turn: Uuid,
    /// Strings whose presence in a call's input marks it as reply plumbing.
    hide: Vec<String>,
    phase: Phase,
    /// Steps numbered so far (the next is `n + 1`).
    n: u32,
    /// A message not yet known to be interim.
    pending: Option<String>,
    /// Shown calls whose output is still to come: call id → tool name.
    open: HashMap<String, String>,
    /// Calls that are reply plumbing, their output still to come.
    hidden: HashSet<String>,
    /// How Codex reported an open command's end (`CommandExecution`): call id → it succeeded.
    status: HashMap<String, bool>,
    /// Codex's turn is over (`task_complete`, `turn_aborted`) and no new one began.
    complete: bool,
}

impl Parser {
    /// A parser for `turn`'s entries; `hide` lists strings (the spool directory, the turn's
    /// file names) that make a call plumbing.
    pub fn new(turn: Uuid, hide: Vec<String>) -> Parser {
        Parser {
            turn,
            hide: hide.into_iter().filter(|h| !h.is_empty()).collect(),
            phase: Phase::Before,
            n: 0,
            pending: None,
            open: HashMap::new(),
            hidden: HashSet::new(),
            status: HashMap::new(),
            complete: false,
        }
    }

    /// Whether the turn's envelope has been seen.
    pub fn started(&self) -> bool {
        self.phase != Phase::Before
    }

    /// Whether the rollout shows the turn finished: Codex ended its turn after the envelope,
    /// or the next Paliadin turn began.
    pub fn settled(&self) -> bool {
        match self.phase {
            Phase::Before => false,
            Phase::After => true,
            Phase::In => self.complete,
        }
    }

    /// Whether no more steps can come (the next turn began, or the limit's marker went out).
    pub fn done(&self) -> bool {
        self.phase == Phase::After || self.n > MAX_STEPS
    }

    /// The steps one rollout line adds (none for a line that is not JSON).
    pub fn line(&mut self, line: &[u8]) -> Vec<Step> {
        let Ok(entry) = serde_json::from_slice::<Value>(line) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.entry(&entry, &mut out);
        out
    }

    fn entry(&mut self, entry: &Value, out: &mut Vec<Step>) {
        if self.phase == Phase::After {
            return;
        }
        let payload = &entry["payload"];
        match entry["type"].as_str() {
            Some("response_item") => {
                if let Some(id) = crate::usage::codex::user_envelope(payload) {
                    if id == self.turn && self.phase == Phase::Before {
                        self.phase = Phase::In;
                    } else if id != self.turn && self.phase == Phase::In {
                        self.phase = Phase::After;
                    }
                    return;
                }
                if self.phase == Phase::In {
                    self.item(payload, out);
                }
            }
            Some("event_msg") if self.phase == Phase::In => match payload["type"].as_str() {
                Some("task_complete" | "turn_aborted") => self.complete = true,
                Some("task_started") => self.complete = false,
                Some("item_completed") => {
                    let item = &payload["item"];
                    let id = str_of(item, "id");
                    if item["type"] == "CommandExecution" && self.open.contains_key(id) {
                        let ok = match item.get("exit_code").and_then(Value::as_i64) {
                            Some(code) => code == 0,
                            None => item["status"] == "completed",
                        };
                        self.status.insert(id.to_owned(), ok);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// One `response_item` of the turn.
    fn item(&mut self, item: &Value, out: &mut Vec<Step>) {
        match item["type"].as_str() {
            Some("message") if item["role"] == "assistant" => {
                let text = texts(&item["content"], &["output_text", "text"]);
                if !text.trim().is_empty() {
                    // Another message after a held one: the held one was interim.
                    self.flush_pending(out);
                    self.pending = Some(text);
                }
            }
            Some("reasoning") => {
                let mut text = texts(&item["summary"], &["summary_text"]);
                if text.trim().is_empty() {
                    text = texts(&item["content"], &["reasoning_text", "text"]);
                }
                if !text.trim().is_empty() {
                    self.flush_pending(out);
                    self.push(out, StepBody::Thinking { text });
                }
            }
            Some("function_call") => {
                let raw = str_of(item, "arguments");
                let input = serde_json::from_str::<Value>(raw).unwrap_or(Value::Null);
                let name = str_of(item, "name");
                self.call(
                    str_of(item, "call_id"),
                    name,
                    raw,
                    summary(name, &input, raw),
                    out,
                );
            }
            Some("custom_tool_call") => {
                let raw = str_of(item, "input");
                let name = str_of(item, "name");
                let summary = summary(name, &Value::Null, raw);
                self.call(str_of(item, "call_id"), name, raw, summary, out);
            }
            Some("local_shell_call") => {
                let action = &item["action"];
                let raw = action.to_string();
                let id = item["call_id"].as_str().unwrap_or(str_of(item, "id"));
                self.call(id, "shell", &raw, command(&action["command"]), out);
            }
            Some("web_search_call") => {
                let query = str_of(&item["action"], "query").to_owned();
                self.flush_pending(out);
                self.push(
                    out,
                    StepBody::Tool {
                        tool: "web_search".to_owned(),
                        summary: query,
                    },
                );
            }
            Some(
                "function_call_output" | "custom_tool_call_output" | "local_shell_call_output",
            ) => {
                self.output(str_of(item, "call_id"), &item["output"], out);
            }
            _ => {}
        }
    }

    fn call(&mut self, id: &str, name: &str, raw: &str, summary: String, out: &mut Vec<Step>) {
        if self.hide.iter().any(|h| raw.contains(h.as_str())) {
            // The reply being written: the message before it is the agent's closing words.
            if !self.done() {
                self.hidden.insert(id.to_owned());
            }
            return;
        }
        self.flush_pending(out);
        let shown = self.push(
            out,
            StepBody::Tool {
                tool: name.to_owned(),
                summary,
            },
        );
        if shown {
            self.open.insert(id.to_owned(), name.to_owned());
        }
    }

    fn output(&mut self, id: &str, output: &Value, out: &mut Vec<Step>) {
        if self.hidden.remove(id) {
            return;
        }
        // Only the output of a call shown in this turn.
        let Some(tool) = self.open.remove(id) else {
            return;
        };
        let status = self.status.remove(id);
        let (text, success) = match output {
            Value::Object(o) => (
                content_text(o.get("content").unwrap_or(&Value::Null)),
                o.get("success").and_then(Value::as_bool),
            ),
            other => (content_text(other), None),
        };
        let (code, printed) = exec_output(&text);
        let not_run = text.trim_start().starts_with(&format!("{tool} failed"));
        let ok = match (code, status, success) {
            (Some(code), _, _) => code == 0,
            _ if not_run => false,
            (None, Some(ok), _) => ok,
            (None, None, Some(ok)) => ok,
            (None, None, None) => true,
        };
        self.push(
            out,
            StepBody::ToolResult {
                tool,
                ok,
                excerpt: head(printed),
            },
        );
    }

    /// Held text followed by more work was interim: it becomes a step.
    fn flush_pending(&mut self, out: &mut Vec<Step>) {
        if let Some(text) = self.pending.take() {
            self.push(out, StepBody::Text { text, more: false });
        }
    }

    /// Numbers and bounds a step; false once the limit's marker has gone out.
    fn push(&mut self, out: &mut Vec<Step>, body: StepBody) -> bool {
        if self.n > MAX_STEPS {
            return false;
        }
        self.n += 1;
        if self.n > MAX_STEPS {
            out.push(Step::more(self.n));
            return false;
        }
        out.push(Step { n: self.n, body }.bounded());
        true
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The texts of the content items of the given types, joined by a line break.
fn texts(content: &Value, kinds: &[&str]) -> String {
    let Value::Array(items) = content else {
        return String::new();
    };
    let mut parts: Vec<&str> = Vec::new();
    let mut len = 0;
    for item in items {
        if kinds.iter().any(|k| item["type"] == *k)
            && let Some(t) = item["text"].as_str()
        {
            parts.push(t);
            len += t.len();
            if len > 4 * super::step::MAX_TEXT_CHARS {
                break;
            }
        }
    }
    parts.join("\n")
}

/// The text of a call's output: a string, or content items (an image says so).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut parts = Vec::new();
            for item in items {
                match item["type"].as_str() {
                    Some("input_text" | "output_text" | "text") => {
                        parts.push(head(str_of(item, "text")));
                    }
                    Some("input_image") => parts.push("[image]".to_owned()),
                    _ => {}
                }
                if parts.iter().map(String::len).sum::<usize>() > 4 * MAX_EXCERPT_CHARS {
                    break;
                }
            }
            parts.join("\n")
        }
        _ => String::new(),
    }
}

/// A command's output as Codex gives it to the model: a header (`Chunk ID`, `Wall time`,
/// `Process exited with code N`, `Original token count`), then `Output:` and what the command
/// printed. The exit code, if there, and what was printed (the whole text without a header).
fn exec_output(text: &str) -> (Option<i64>, &str) {
    let (header, printed) = match text.find("Output:\n") {
        Some(i) if i == 0 || text.as_bytes()[i - 1] == b'\n' => (&text[..i], &text[i + 8..]),
        _ => return (None, text),
    };
    let code = header
        .lines()
        .find_map(|l| l.trim().strip_prefix("Process exited with code "))
        .and_then(|c| c.trim().parse().ok());
    (code, printed)
}

/// A call's input in a few words: the command of a shell tool, the files of a patch, the path
/// of an image, else the input as Codex sent it (cut to its bound by [`Step::bounded`]).
pub fn summary(tool: &str, input: &Value, raw: &str) -> String {
    let field = |k: &str| input.get(k).and_then(Value::as_str);
    let picked = match tool {
        "exec_command" => field("cmd").map(str::to_owned),
        "shell" | "container.exec" | "local_shell" => Some(command(&input["command"])),
        "apply_patch" => Some(patched_files(field("input").unwrap_or(raw))),
        "view_image" => field("path").map(str::to_owned),
        "write_stdin" => field("chars").map(str::to_owned),
        _ => None,
    };
    match picked.filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => raw.chars().take(MAX_SUMMARY_CHARS + 1).collect(),
    }
}

/// A shell tool's `command`: the script of `bash -lc <script>`, else its words joined.
fn command(argv: &Value) -> String {
    match argv {
        Value::String(s) => s.clone(),
        Value::Array(words) => {
            let words: Vec<&str> = words.iter().filter_map(Value::as_str).collect();
            match words.as_slice() {
                [_, flag, script] if flag.starts_with('-') && flag.ends_with('c') => {
                    (*script).to_owned()
                }
                w => w.join(" "),
            }
        }
        _ => String::new(),
    }
}

/// The files an `apply_patch` input adds, updates or deletes, joined by `, `.
fn patched_files(patch: &str) -> String {
    let files: Vec<&str> = patch
        .lines()
        .filter_map(|l| {
            ["*** Add File: ", "*** Update File: ", "*** Delete File: "]
                .iter()
                .find_map(|p| l.strip_prefix(p))
        })
        .take(20)
        .collect();
    files.join(", ")
}

/// The start of `s`, a little over the excerpt bound (the step cuts it exactly).
fn head(s: &str) -> String {
    s.chars().take(MAX_EXCERPT_CHARS + 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(kind: &str, payload: Value) -> Vec<u8> {
        json!({"timestamp": "2026-12-06T21:19:02.728Z", "type": kind, "payload": payload})
            .to_string()
            .into_bytes()
    }

    fn prompt(turn: Uuid, text: &str) -> Vec<u8> {
        line(
            "response_item",
            json!({"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": format!("[PALIADIN:{turn}] {text}")}]}),
        )
    }

    fn said(text: &str) -> Vec<u8> {
        line(
            "response_item",
            json!({"type": "message", "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}),
        )
    }

    fn exec(id: &str, cmd: &str) -> Vec<u8> {
        let args = json!({"cmd": cmd, "yield_time_ms": 2000}).to_string();
        line(
            "response_item",
            json!({"type": "function_call", "name": "exec_command", "arguments": args,
                   "call_id": id}),
        )
    }

    fn ran(id: &str, code: i64, printed: &str) -> Vec<u8> {
        let out = format!(
            "Chunk ID: 1d0c6d\nWall time: 0.0045 seconds\nProcess exited with code {code}\n\
             Original token count: 4\nOutput:\n{printed}"
        );
        line(
            "response_item",
            json!({"type": "function_call_output", "call_id": id, "output": out}),
        )
    }

    fn event(kind: &str) -> Vec<u8> {
        line("event_msg", json!({"type": kind}))
    }

    fn brief(steps: &[Step]) -> Vec<Value> {
        steps.iter().map(Step::to_json).collect()
    }

    #[test]
    fn a_turns_entries_become_steps_without_its_plumbing_or_closing_words() {
        let (turn, other) = (Uuid::now_v7(), Uuid::now_v7());
        let mut p = Parser::new(turn, vec!["/spool/".into()]);
        let mut steps = Vec::new();
        steps.extend(p.line(&said("an earlier turn")));
        steps.extend(p.line(&exec("c0", "ls /earlier")));
        steps.extend(p.line(&prompt(turn, "work")));
        assert!(p.started() && !p.settled());
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "message", "role": "developer",
                   "content": [{"type": "input_text", "text": "This prompt is Paliadin turn …"}]}),
        )));
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}],
                   "encrypted_content": "xyz"}),
        )));
        steps.extend(p.line(&said("Look number 1.")));
        steps.extend(p.line(&exec("c1", "cat notes.txt")));
        steps.extend(p.line(&ran("c1", 0, "a file for cat\n")));
        steps.extend(p.line(&exec("c2", "cat missing.txt")));
        steps.extend(p.line(&ran(
            "c2",
            1,
            "cat: missing.txt: No such file or directory\n",
        )));
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "custom_tool_call", "name": "apply_patch", "call_id": "c3",
                   "input": "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: b.txt\n+b\n*** End Patch"}),
        )));
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "custom_tool_call_output", "call_id": "c3",
                   "output": "{\"output\":\"Success.\"}"}),
        )));
        steps.extend(p.line(&exec("c4", "cat > '/spool/x.md.tmp' <<'EOF'\nreply\nEOF")));
        steps.extend(p.line(&ran("c4", 0, "")));
        steps.extend(p.line(&said("Replied to x.")));
        assert!(!p.settled(), "Codex's turn is not over yet");
        steps.extend(p.line(&event("task_complete")));
        assert!(p.settled());
        steps.extend(p.line(b"not json"));
        steps.extend(p.line(&prompt(other, "next")));
        steps.extend(p.line(&said("next turn")));
        steps.extend(p.line(&exec("c5", "ls")));
        assert!(p.done());
        let got = brief(&steps);
        let kinds: Vec<(u64, &str)> = got
            .iter()
            .map(|v| (v["n"].as_u64().unwrap(), v["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, "thinking"),
                (2, "text"),
                (3, "tool"),
                (4, "tool_result"),
                (5, "tool"),
                (6, "tool_result"),
                (7, "tool"),
                (8, "tool_result"),
            ],
            "{got:#?}"
        );
        assert_eq!(got[0]["text"], "hmm");
        assert_eq!(got[1]["text"], "Look number 1.");
        assert_eq!(
            (got[2]["tool"].as_str(), got[2]["summary"].as_str()),
            (Some("exec_command"), Some("cat notes.txt"))
        );
        assert_eq!(
            (got[3]["ok"].as_bool(), got[3]["excerpt"].as_str()),
            (Some(true), Some("a file for cat"))
        );
        assert_eq!(got[5]["ok"], false);
        assert_eq!(
            got[5]["excerpt"],
            "cat: missing.txt: No such file or directory"
        );
        assert_eq!(
            (got[6]["tool"].as_str(), got[6]["summary"].as_str()),
            (Some("apply_patch"), Some("src/a.rs, b.txt"))
        );
        assert_eq!(got[7]["ok"], true);
    }

    #[test]
    fn a_declined_command_is_not_ok_and_messages_in_a_row_are_interim() {
        let turn = Uuid::now_v7();
        let mut p = Parser::new(turn, Vec::new());
        let mut steps = p.line(&prompt(turn, "bash rm -rf x"));
        steps.extend(p.line(&said("First.")));
        steps.extend(p.line(&said("Second.")));
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "function_call", "name": "shell", "call_id": "s1",
                   "arguments": json!({"command": ["bash", "-lc", "rm -rf x"]}).to_string()}),
        )));
        steps.extend(p.line(&line(
            "event_msg",
            json!({"type": "item_completed", "item": {"type": "CommandExecution", "id": "s1",
                   "status": "declined"}}),
        )));
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "function_call_output", "call_id": "s1",
                   "output": "shell: rejected by user"}),
        )));
        // As 0.171.0 answers a command the person refused: no exit code, no CommandExecution.
        let refused = "exec_command failed: CreateProcess { message: \"Rejected(\\\"Denied by the person: no\\\")\" }";
        steps.extend(p.line(&exec("e1", "touch x")));
        steps.extend(p.line(&line(
            "response_item",
            json!({"type": "function_call_output", "call_id": "e1", "output": refused}),
        )));
        // An output whose call this turn never showed (before a takeover's tail) is not shown.
        steps.extend(p.line(&ran("gone", 0, "x")));
        let got = brief(&steps);
        assert_eq!(got.len(), 6, "{got:#?}");
        assert_eq!(
            (got[0]["text"].as_str(), got[1]["text"].as_str()),
            (Some("First."), Some("Second."))
        );
        assert_eq!(got[2]["summary"], "rm -rf x");
        assert_eq!(
            (got[3]["ok"].as_bool(), got[3]["excerpt"].as_str()),
            (Some(false), Some("shell: rejected by user"))
        );
        assert_eq!(
            (got[5]["ok"].as_bool(), got[5]["excerpt"].as_str()),
            (Some(false), Some(refused))
        );
    }

    #[test]
    fn a_turn_keeps_at_most_max_steps_and_one_marker() {
        let turn = Uuid::now_v7();
        let mut p = Parser::new(turn, Vec::new());
        p.line(&prompt(turn, "go"));
        let mut steps = Vec::new();
        for i in 0..MAX_STEPS + 50 {
            let id = format!("c{i}");
            steps.extend(p.line(&exec(&id, &"x".repeat(5000))));
            steps.extend(p.line(&ran(&id, 0, &"y".repeat(5000))));
        }
        assert_eq!(steps.len() as u32, MAX_STEPS + 1);
        assert!(p.done());
        assert_eq!(steps.last().unwrap().to_json()["more"], true);
        assert!(steps.iter().all(|s| s.to_json().to_string().len() < 4096));
        assert!(p.open.len() <= 1, "no call kept past the limit");
    }
}
