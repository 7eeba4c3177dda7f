//! `paliadin-hook`: Paliadin's Claude Code hooks, one small compiled program
//! (`paliadin-hook <hook>`, `src/bin/paliadin-hook.rs`). Claude Code runs its hooks
//! synchronously — the prompt hook before a turn starts, the tool hook after every tool call —
//! so each run must cost next to nothing: no async runtime, no logging set-up, a few system
//! calls (`docs/performance.md`, "Hooks").
//!
//! The hooks implement the agent side of `docs/agent-protocol.md` for Claude Code
//! (`docs/claude-code.md`), one module each:
//! - [`user_prompt_submit`]: acks a `[PALIADIN:<turn_id>] ` prompt, remembers the pending turn,
//!   marks the tmux session busy;
//! - [`post_tool_use`]: reports tool use as activity events; publishes a finished `.md.tmp`;
//! - [`stop`]: makes sure the pending turn gets its `.md`; lets Claude stop (busy marker off);
//! - [`permission_request`]: asks the person through the spool and answers Claude;
//! - [`stop_failure`]: the model's API ended the turn: `.failure` for the worker, busy off;
//! - [`pre_compact`]: Claude compacts the conversation: a status line before and after.
//!
//! For Codex CLI (`docs/agents.md`), registered by `deploy/agents/codex/install.sh`:
//! [`codex_prompt`] (`UserPromptSubmit`), [`codex_stop`] (`Stop`, `Interrupt`) and
//! [`codex_watch`] (started by the prompt hook: Codex runs no hook when its model fails);
//! `post-tool-use` and `permission-request` serve both agents (Codex sends the same fields).
//!
//! Per Claude session the pending turn lives in `<spool>/.pending-<session_id>` as JSON
//! `{"turn_id": "...", "stop_blocks": 0}`. While Claude works on a prompt,
//! `<spool>/.busy-<tmux session>` exists (tmux session from `PALIADIN_SESSION`). Without
//! `PALIADIN_SPOOL_DIR` the hooks do nothing (plain interactive `claude`).
//!
//! A hook never fails Claude: an error goes to stderr and the program exits 0 with no output.
//! Only a wrong command line (not something Claude sends) exits 1, which Claude reports and
//! ignores — never 2, which would block the prompt or the tool.

pub mod codex_prompt;
pub mod codex_stop;
pub mod codex_watch;
pub mod files;
pub mod json;
pub mod permission_request;
pub mod post_tool_use;
pub mod pre_compact;
pub mod stop;
pub mod stop_failure;
pub mod text;
pub mod user_prompt_submit;

use std::ffi::OsString;
use std::io::{Read, Write};

/// The hooks, by the name given on the command line.
pub const HOOKS: [&str; 10] = [
    "user-prompt-submit",
    "post-tool-use",
    "stop",
    "permission-request",
    "stop-failure",
    "pre-compact",
    "post-compact",
    "codex-user-prompt-submit",
    "codex-stop",
    "codex-interrupt",
];

type Handler = fn(&json::Map, &files::Spool) -> anyhow::Result<Option<json::Json>>;

fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "user-prompt-submit" => user_prompt_submit::handle,
        "post-tool-use" => post_tool_use::handle,
        "stop" => stop::handle,
        "permission-request" => permission_request::handle,
        "stop-failure" => stop_failure::handle,
        "pre-compact" => pre_compact::handle_pre,
        "post-compact" => pre_compact::handle_post,
        "codex-user-prompt-submit" => codex_prompt::handle,
        "codex-stop" => codex_stop::stop,
        "codex-interrupt" => codex_stop::interrupt,
        _ => return None,
    })
}

const USAGE: &str = "\
Usage: paliadin-hook <hook>   (Claude Code's hook JSON on stdin)

  user-prompt-submit   UserPromptSubmit: receipt (.ack), pending turn, busy marker, reminder
  post-tool-use        PostToolUse: activity events; publishes a finished <turn_id>.md.tmp
  stop                 Stop: makes sure the turn gets its <turn_id>.md; clears the busy marker
  permission-request   PermissionRequest: asks the person through the spool, answers Claude
  stop-failure         StopFailure: the model's API failed: <turn_id>.failure; clears busy
  pre-compact          PreCompact: a `compacting` status line in <turn_id>.events
  post-compact         PostCompact: a `compacted` status line in <turn_id>.events
  codex-user-prompt-submit  Codex's UserPromptSubmit: as user-prompt-submit, and links the
                       conversation to Codex's rollout; starts codex-watch
  codex-stop           Codex's Stop: publishes <turn_id>.md.tmp or the chat answer; busy off
  codex-interrupt      Codex's Interrupt: forgets the pending turn; busy off
  codex-watch SESSION CODEX_TURN ROLLOUT
                       follows Codex's rollout: a failed model request becomes .failure

Environment: PALIADIN_SPOOL_DIR (without it every hook does nothing), PALIADIN_SESSION (the
tmux session, for .busy-<session>), PALIADIN_PERMISSION_WAIT_SECS, PALIADIN_MAX_REPLY_BYTES.
deploy/skill/install.sh registers it in ~/.claude/settings.json; docs/claude-code.md.
";

/// Runs the program with its command line; returns the exit status.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().skip(1).collect();
    let name = args.first().and_then(|a| a.to_str()).unwrap_or_default();
    match name {
        "-V" | "--version" => {
            println!("paliadin-hook {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        "-h" | "--help" => {
            print!("{USAGE}");
            return 0;
        }
        "codex-watch" => {
            let rest: Vec<String> = args[1..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            return codex_watch::main(&rest);
        }
        _ => {}
    }
    let (Some(handle), 1) = (handler(name), args.len()) else {
        eprint!("paliadin-hook: expected one hook name\n{USAGE}");
        return 1;
    };
    match run(handle) {
        Ok(Some(out)) => {
            let text = json::dumps(&out, false) + "\n";
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                eprintln!("paliadin hook: cannot answer Claude: {e}");
            }
        }
        Ok(None) => {}
        Err(e) => eprintln!("paliadin hook: {e:#}"),
    }
    0
}

/// Reads the event, finds the spool, runs the hook: its answer for Claude, if any.
fn run(handle: Handler) -> anyhow::Result<Option<json::Json>> {
    let mut raw = Vec::new();
    std::io::stdin().read_to_end(&mut raw)?;
    let event = if raw.iter().all(u8::is_ascii_whitespace) {
        Some(json::Map::default())
    } else {
        json::parse_event(&raw)?
    };
    let Some(spool) = files::Spool::from_env()? else {
        return Ok(None);
    };
    match event {
        Some(event) => handle(&event, &spool),
        None => Ok(None),
    }
}
