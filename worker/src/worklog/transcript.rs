//! Claude Code's transcript entries, one JSON line each, turned into a turn's work-log steps.
//!
//! A turn's entries are those after the user entry that opens with its envelope
//! `[PALIADIN:<turn_id>]` (`crate::usage::transcript::envelope_of`), up to the next envelope.
//! Of them:
//! - an assistant `text` block is held until something follows it in the turn (a tool call,
//!   thinking): then it was interim text and becomes a `text` step; the turn's last text is
//!   the agent's chat answer ("Replied to …"), never shown — the reply is what the protocol
//!   publishes;
//! - an assistant `thinking` block becomes a `thinking` step;
//! - an assistant `tool_use` block becomes a `tool` step (its name and [`summary`] of its input);
//! - a user `tool_result` block becomes a `tool_result` step (ok unless `is_error`, the start of
//!   its text);
//! - everything else (system entries, sidechains, meta entries, attachments) is passed over.
//!
//! The reply plumbing is never shown: a tool call whose input names the spool (`hide`) is
//! dropped with its result. Past [`MAX_STEPS`] one marker step stands for the rest.

use super::step::{MAX_STEPS, Step, StepBody};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Where the parser stands in the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the turn's envelope.
    Before,
    /// In the turn.
    In,
    /// Past the next envelope: the turn is over.
    After,
}

/// The steps of one turn, read from its transcript entries in order.
#[derive(Debug)]
pub struct Parser {
    turn: Uuid,
    /// Strings whose presence in a tool call's input marks it as reply plumbing.
    hide: Vec<String>,
    phase: Phase,
    /// Steps numbered so far (the next is `n + 1`).
    n: u32,
    /// Text not yet known to be interim.
    pending: Option<String>,
    /// Open tool calls: id → tool name (a name is kept even after its result, for repeats).
    tools: HashMap<String, String>,
    /// Tool calls whose result is still to come.
    open: HashSet<String>,
    /// Tool calls that are reply plumbing.
    hidden: HashSet<String>,
    /// The last entry of the turn was the agent's closing text (nothing open after it).
    closed: bool,
    /// The result of the turn's reply plumbing (the reply written) is in: every step before it
    /// is too, and its closing words, which come after a model request of their own, add none.
    replied: bool,
    /// Entries with a time seen before the envelope (at most [`EARLY_ENTRIES`], the newest):
    /// Claude Code may write a new conversation's first answer before the prompt that asked
    /// for it; those later than the envelope are the turn's.
    early: Vec<(String, Value)>,
    /// Results whose tool call has not been seen yet (at most [`EARLY_ENTRIES`]), by call id:
    /// Claude Code may write a result's line before its call's.
    held: HashMap<String, Value>,
}

/// The most entries kept from before the envelope.
const EARLY_ENTRIES: usize = 32;

impl Parser {
    /// A parser for `turn`'s entries; `hide` lists strings (the spool directory, the turn's
    /// file names) that make a tool call plumbing.
    pub fn new(turn: Uuid, hide: Vec<String>) -> Parser {
        Parser {
            turn,
            hide: hide.into_iter().filter(|h| !h.is_empty()).collect(),
            phase: Phase::Before,
            n: 0,
            pending: None,
            tools: HashMap::new(),
            open: HashSet::new(),
            hidden: HashSet::new(),
            closed: false,
            replied: false,
            early: Vec::new(),
            held: HashMap::new(),
        }
    }

    /// Whether the turn's envelope has been seen.
    pub fn started(&self) -> bool {
        self.phase != Phase::Before
    }

    /// Whether the transcript shows the turn finished: past its envelope, every tool call has
    /// its result and the agent has written its reply or said its closing words (or the next
    /// turn began). Not waiting for the closing words after the reply saves the worker their
    /// model request (hundreds of ms, `docs/performance.md`, "Hooks"): they are no step.
    pub fn settled(&self) -> bool {
        match self.phase {
            Phase::Before => false,
            Phase::After => true,
            Phase::In => self.open.is_empty() && (self.closed || self.replied),
        }
    }

    /// Whether no more steps can come (the next turn began, or the limit's marker went out).
    pub fn done(&self) -> bool {
        self.phase == Phase::After || self.n > MAX_STEPS
    }

    /// The steps one transcript line adds (none for a line that is not JSON).
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
        let kind = entry.get("type").and_then(Value::as_str);
        if kind == Some("user")
            && let Some(id) = crate::usage::transcript::envelope_of(entry)
        {
            if id == self.turn && self.phase == Phase::Before {
                self.phase = Phase::In;
                let at = entry.get("timestamp").and_then(Value::as_str).unwrap_or("");
                let early = std::mem::take(&mut self.early);
                for (t, e) in early {
                    // RFC 3339 times in UTC with the same precision sort as text.
                    if !at.is_empty() && t.as_str() > at {
                        self.entry(&e, out);
                    }
                }
            } else if id != self.turn && self.phase == Phase::In {
                self.phase = Phase::After;
            }
            return;
        }
        if self.phase == Phase::Before {
            if let Some(t) = entry.get("timestamp").and_then(Value::as_str) {
                if self.early.len() == EARLY_ENTRIES {
                    self.early.remove(0);
                }
                self.early.push((t.to_owned(), entry.clone()));
            }
            return;
        }
        if entry.get("isSidechain") == Some(&Value::Bool(true)) {
            return;
        }
        let Some(Value::Array(blocks)) = entry.get("message").and_then(|m| m.get("content")) else {
            return;
        };
        for block in blocks {
            match (kind, block.get("type").and_then(Value::as_str)) {
                (Some("assistant"), Some("text")) => {
                    let text = str_of(block, "text");
                    if !text.trim().is_empty() {
                        self.pending = Some(text.to_owned());
                        self.closed = true;
                    }
                }
                (Some("assistant"), Some("thinking")) => {
                    let text = str_of(block, "thinking");
                    if !text.trim().is_empty() {
                        self.flush_pending(out);
                        self.push(
                            out,
                            StepBody::Thinking {
                                text: text.to_owned(),
                            },
                        );
                    }
                }
                (Some("assistant"), Some("tool_use")) => self.tool_use(block, out),
                (Some("user"), Some("tool_result")) => self.tool_result(block, out),
                _ => {}
            }
        }
    }

    fn tool_use(&mut self, block: &Value, out: &mut Vec<Step>) {
        self.closed = false;
        let id = str_of(block, "id").to_owned();
        let name = str_of(block, "name").to_owned();
        let input = block.get("input").cloned().unwrap_or(Value::Null);
        let raw = input.to_string();
        self.open.insert(id.clone());
        let held = self.held.remove(&id);
        if self.hide.iter().any(|h| raw.contains(h.as_str())) {
            // The reply being written: the text before it is the agent's closing words.
            if held.is_some() {
                self.open.remove(&id);
                self.replied = true;
            }
            self.hidden.insert(id);
            return;
        }
        self.flush_pending(out);
        self.tools.insert(id, name.clone());
        let summary = summary(&name, &input);
        self.push(
            out,
            StepBody::Tool {
                tool: name,
                summary,
            },
        );
        if let Some(result) = held {
            self.tool_result(&result, out);
        }
    }

    fn tool_result(&mut self, block: &Value, out: &mut Vec<Step>) {
        let id = str_of(block, "tool_use_id");
        if !self.open.contains(id) && !self.tools.contains_key(id) && !self.hidden.contains(id) {
            // Its call comes later in the file: held until then.
            if self.held.len() < EARLY_ENTRIES {
                self.held.insert(id.to_owned(), block.clone());
            }
            return;
        }
        self.open.remove(id);
        if self.hidden.contains(id) {
            self.replied = true;
            return;
        }
        let tool = self.tools.get(id).cloned().unwrap_or_default();
        let ok = block.get("is_error") != Some(&Value::Bool(true));
        let excerpt = result_text(block.get("content"));
        self.push(out, StepBody::ToolResult { tool, ok, excerpt });
    }

    /// Held text followed by more work was interim: it becomes a step.
    fn flush_pending(&mut self, out: &mut Vec<Step>) {
        if let Some(text) = self.pending.take() {
            self.push(out, StepBody::Text { text, more: false });
        }
    }

    fn push(&mut self, out: &mut Vec<Step>, body: StepBody) {
        if self.n > MAX_STEPS {
            return;
        }
        self.n += 1;
        let step = if self.n > MAX_STEPS {
            Step::more(self.n)
        } else {
            Step { n: self.n, body }.bounded()
        };
        out.push(step);
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A tool call's input in a few words: the one field that says what it does for the tools
/// Claude Code has, else the input as compact JSON (cut to its bound by [`Step::bounded`]).
pub fn summary(tool: &str, input: &Value) -> String {
    let field = |k: &str| input.get(k).and_then(Value::as_str);
    let picked = match tool {
        "Bash" => field("command"),
        "Read" | "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => {
            field("file_path").or(field("notebook_path"))
        }
        "Grep" | "Glob" => field("pattern"),
        "WebFetch" => field("url"),
        "WebSearch" => field("query"),
        "Task" | "Agent" => field("description"),
        _ => None,
    };
    match picked {
        Some(s) => s.to_owned(),
        None if input.is_null() => String::new(),
        None => {
            // Cut before serialising fully would be nicer, but inputs are one transcript line.
            let s = input.to_string();
            s.chars().take(super::step::MAX_SUMMARY_CHARS + 1).collect()
        }
    }
}

/// The text of a tool result's `content` (a string, or text blocks; an image says so).
fn result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => head(s),
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::new();
            for b in blocks {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => parts.push(head(str_of(b, "text"))),
                    Some("image") => parts.push("[image]".to_owned()),
                    _ => {}
                }
                if parts.iter().map(String::len).sum::<usize>() > 4 * super::step::MAX_EXCERPT_CHARS
                {
                    break;
                }
            }
            parts.join("\n")
        }
        _ => String::new(),
    }
}

/// The start of `s`, a little over the excerpt bound (the step cuts it exactly).
fn head(s: &str) -> String {
    s.chars().take(super::step::MAX_EXCERPT_CHARS + 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn assistant(blocks: Value) -> Vec<u8> {
        line(json!({"type": "assistant", "message": {"role": "assistant", "content": blocks}}))
    }

    fn result(id: &str, text: &str, error: bool) -> Vec<u8> {
        line(
            json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": text, "is_error": error}]}}),
        )
    }

    #[test]
    fn a_turns_entries_become_steps_without_its_plumbing_or_closing_words() {
        let (turn, other) = (Uuid::now_v7(), Uuid::now_v7());
        let mut p = Parser::new(turn, vec!["/spool/".into()]);
        let mut steps = Vec::new();
        let env = |id: Uuid| {
            line(json!({"type": "user", "message": {"content": format!("[PALIADIN:{id}] hi")}}))
        };
        steps.extend(p.line(&assistant(
            json!([{"type": "text", "text": "earlier turn"}]),
        )));
        steps.extend(p.line(&env(turn)));
        assert!(p.started() && !p.settled());
        steps.extend(p.line(&assistant(json!([{"type": "thinking", "thinking": "hmm"}]))));
        steps.extend(p.line(&assistant(
            json!([{"type": "text", "text": "Let me look."}]),
        )));
        steps.extend(p.line(&assistant(
            json!([{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls -la"}}]),
        )));
        steps.extend(p.line(&result("t1", "a\nb", false)));
        steps.extend(p.line(&assistant(
            json!([{"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": "/nope"}}]),
        )));
        steps.extend(p.line(&result("t2", "File does not exist.", true)));
        steps.extend(p.line(&assistant(
            json!([{"type": "tool_use", "id": "t3", "name": "Write",
            "input": {"file_path": "/spool/x.md.tmp", "content": "reply"}}]),
        )));
        assert!(!p.settled());
        steps.extend(p.line(&result("t3", "written", false)));
        // The reply is written: nothing after it is a step, the closing words are not awaited.
        assert!(p.settled());
        steps.extend(p.line(&assistant(
            json!([{"type": "text", "text": "Replied to x."}]),
        )));
        assert!(p.settled());
        steps.extend(p.line(b"not json"));
        steps.extend(p.line(&env(other)));
        steps.extend(p.line(&assistant(json!([{"type": "text", "text": "next turn"}]))));
        assert!(p.done());
        let kinds: Vec<Value> = steps.iter().map(Step::to_json).collect();
        let brief: Vec<(u64, &str)> = kinds
            .iter()
            .map(|v| (v["n"].as_u64().unwrap(), v["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(
            brief,
            [
                (1, "thinking"),
                (2, "text"),
                (3, "tool"),
                (4, "tool_result"),
                (5, "tool"),
                (6, "tool_result")
            ]
        );
        assert_eq!(kinds[1]["text"], "Let me look.");
        assert_eq!(
            (kinds[2]["tool"].as_str(), kinds[2]["summary"].as_str()),
            (Some("Bash"), Some("ls -la"))
        );
        assert_eq!(
            (kinds[3]["ok"].as_bool(), kinds[3]["excerpt"].as_str()),
            (Some(true), Some("a\nb"))
        );
        assert_eq!(
            (kinds[5]["tool"].as_str(), kinds[5]["ok"].as_bool()),
            (Some("Read"), Some(false))
        );
    }

    #[test]
    fn an_answer_written_before_its_prompt_is_the_turns_by_its_time() {
        // As Claude Code writes a new conversation's file: the first answer first, then the
        // prompt; an earlier turn's late line keeps its earlier time and stays out.
        let turn = Uuid::now_v7();
        let mut p = Parser::new(turn, Vec::new());
        let at = |t: &str, mut v: Value| {
            v["timestamp"] = json!(t);
            v.to_string().into_bytes()
        };
        let mut steps = Vec::new();
        steps.extend(p.line(&at(
            "2026-12-06T20:21:18.000Z",
            json!({"type": "assistant", "message": {"content": [
                {"type": "tool_use", "id": "t0", "name": "Read", "input": {"file_path": "/old"}}]}}),
        )));
        // The result's line first, then the prompt, then the call (seen so here).
        steps.extend(p.line(&at(
            "2026-12-06T20:21:19.300Z",
            json!({"type": "user", "message": {"content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "a b"}]}}),
        )));
        assert!(steps.is_empty() && !p.started());
        steps.extend(p.line(&at(
            "2026-12-06T20:21:19.205Z",
            json!({"type": "user", "message": {"content": format!("[PALIADIN:{turn}] hi")}}),
        )));
        steps.extend(p.line(&at(
            "2026-12-06T20:21:19.260Z",
            json!({"type": "assistant", "message": {"content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]}}),
        )));
        let got: Vec<String> = steps
            .iter()
            .map(|s| serde_json::to_string(&s.body).unwrap())
            .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("\"ls\""), "{got:?}");
        assert!(got[1].contains("tool_result"), "{got:?}");
    }

    #[test]
    fn a_turn_keeps_at_most_max_steps_and_one_marker() {
        let turn = Uuid::now_v7();
        let mut p = Parser::new(turn, Vec::new());
        p.line(&line(json!({"type": "user", "message": {"content": [{"type": "text", "text": format!("[PALIADIN:{turn}] go")}]}})));
        let mut steps = Vec::new();
        for i in 0..MAX_STEPS + 50 {
            let id = format!("t{i}");
            steps.extend(p.line(&assistant(
                json!([{"type": "tool_use", "id": id, "name": "Bash", "input": {"command": "x".repeat(5000)}}]),
            )));
        }
        assert_eq!(steps.len() as u32, MAX_STEPS + 1);
        assert!(p.done());
        let last = steps.last().unwrap().to_json();
        assert_eq!(last["more"], true);
        assert!(steps.iter().all(|s| s.to_json().to_string().len() < 4096));
    }
}
