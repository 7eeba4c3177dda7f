//! `paliadin-hook <hook>`: Paliadin's Claude Code hooks (`user-prompt-submit`,
//! `post-tool-use`, `stop`, `permission-request`,
//! `stop-failure`, `pre-compact`, `post-compact`), Claude's hook JSON on stdin. Registered in
//! `~/.claude/settings.json` by `deploy/skill/install.sh`; see `paliadin_worker::hook` and
//! `docs/claude-code.md`.

fn main() {
    std::process::exit(paliadin_worker::hook::main(std::env::args_os()));
}
