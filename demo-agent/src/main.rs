//! `paliadin-demo-agent`: the default agent. Runs in a tmux pane, reads envelopes
//! `[PALIADIN:<turn_id>] <message>` from the keyboard (bracketed paste + Enter) and answers
//! through the spool files in `$PALIADIN_SPOOL_DIR`. See `docs/agent-protocol.md`.

use paliadin_demo_agent as demo;
use std::process::ExitCode;

fn usage() -> String {
    format!(
        "paliadin-demo-agent: Paliadin's built-in demo agent.

Usage: paliadin-demo-agent [--help | --version | --session-id UUID | --resume UUID]

Run it in a terminal (normally the user's tmux pane). It waits for envelopes
`[PALIADIN:<turn_id>] <message>`, typed or pasted (bracketed paste) and submitted with Enter,
and answers each one through the file protocol (docs/agent-protocol.md):
  <spool>/<turn_id>.ack      one line per receipt
  <spool>/<turn_id>.partial  the reply so far
  <spool>/<turn_id>.events   JSON lines {{\"type\":\"activity\",\"text\":\"…\"}}
  <spool>/<turn_id>.md       the whole reply + trailer line (via .md.tmp + rename)
One turn at a time; later envelopes queue. Esc or Ctrl-C interrupts the current answer (no .md
is written); Ctrl-D on an empty line quits. Nothing in a message is ever executed.

--session-id UUID starts conversation UUID and --resume UUID continues it: each message is
kept in the state directory, and /recall lists the earlier ones (a resume of a conversation
not kept here, or a start of one that is, fails as Claude Code's does).

Environment:
  PALIADIN_SPOOL_DIR        the spool directory (required; created if missing)
  PALIADIN_DEMO_STATE_DIR   where conversations are kept (default
                            $XDG_STATE_HOME/paliadin-demo, else ~/.local/state/paliadin-demo)

{}
",
        demo::HELP
    )
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("paliadin-demo-agent {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(_) => {}
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let memory = match demo::memory::parse_args(&args) {
        Err(e) => {
            eprintln!("paliadin-demo-agent: {e}");
            return ExitCode::from(2);
        }
        Ok(None) => demo::Memory::none(),
        Ok(Some(how)) => {
            let Some(dir) = demo::memory::state_dir() else {
                eprintln!(
                    "paliadin-demo-agent: no state directory (set PALIADIN_DEMO_STATE_DIR or HOME)"
                );
                return ExitCode::from(2);
            };
            match demo::Memory::open(&dir, how) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    let Some(dir) = std::env::var_os("PALIADIN_SPOOL_DIR").filter(|d| !d.is_empty()) else {
        eprintln!("paliadin-demo-agent: PALIADIN_SPOOL_DIR must name the spool directory");
        return ExitCode::from(2);
    };
    let spool = match demo::Spool::open(dir) {
        Ok(spool) => spool,
        Err(e) => {
            eprintln!("paliadin-demo-agent: cannot create the spool directory: {e}");
            return ExitCode::from(1);
        }
    };
    match demo::run(spool, memory) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(u8::try_from(status).unwrap_or(1)),
        Err(e) => {
            eprintln!("paliadin-demo-agent: terminal error: {e}");
            ExitCode::from(1)
        }
    }
}
