//! Recognising a question an agent shows in its terminal that no hook reported (an older Claude
//! Code, another agent, a survey): the worker reports it as `status: waiting` with the screen,
//! and never pastes a turn into it (the agent would take the text as the answer).

/// The most of the screen a `waiting` event carries, in characters (its last lines).
pub const MAX_SCREEN_CHARS: usize = 4000;

/// Phrases of terminal questions (Claude Code 2.1.197's dialogs, the demo agent's `/dialog`).
const QUESTIONS: [&str; 8] = [
    "Do you want to proceed?",
    "Do you want to make this edit",
    "Do you want to create",
    "Do you want to allow",
    "Detected a custom API key",
    "Do you trust the files",
    "How is Claude doing this session?",
    "Choose the text style",
];

/// How many of the screen's last non-blank lines are searched: an open question sits at the
/// bottom, where the agent waits for the key; older text above it (a transcript, a reply that
/// quotes such a phrase) is not a question.
const BOTTOM_LINES: usize = 12;

/// The question at the bottom of `screen`, if one is open: a known phrase, or a numbered menu
/// with a selection marker (`❯ 1. …`).
pub fn question(screen: &str) -> Option<&'static str> {
    let bottom: Vec<&str> = screen
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(BOTTOM_LINES)
        .collect();
    if let Some(q) = QUESTIONS
        .iter()
        .find(|q| bottom.iter().any(|l| l.contains(**q)))
    {
        return Some(q);
    }
    bottom
        .iter()
        .any(|l| l.trim_start_matches(['│', ' ']).starts_with("❯ 1."))
        .then_some("a numbered choice")
}

/// What Claude Code's status line shows while it works on something — a prompt, a tool, a
/// hook (2.1.197: `esc to interrupt · ← for agents`; idle, `? for shortcuts`). Text that
/// arrives then is queued into that work instead of becoming the next prompt.
const WORKING: &str = "esc to interrupt";

/// How many of the screen's last non-blank lines hold the status line.
const STATUS_LINES: usize = 3;

/// Whether the agent says at the bottom of its screen that it is working (see [`WORKING`]).
/// A screen quiet for a while is not enough: a loaded machine can leave a busy Claude Code
/// undrawn for longer than the quiet window.
pub fn working(screen: &str) -> bool {
    screen
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(STATUS_LINES)
        .any(|l| l.contains(WORKING))
}

/// The part of the screen to show the person: its last lines, at most [`MAX_SCREEN_CHARS`],
/// trailing blank lines removed.
pub fn excerpt(screen: &str) -> String {
    let text = screen.trim_end();
    let chars = text.chars().count();
    if chars <= MAX_SCREEN_CHARS {
        return text.to_owned();
    }
    let skip = chars - MAX_SCREEN_CHARS;
    let cut: String = text.chars().skip(skip).collect();
    match cut.split_once('\n') {
        Some((_, rest)) if !rest.is_empty() => rest.to_owned(),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_working_status_line_is_recognised_only_at_the_bottom() {
        let busy = "✻ Zesting… (running stop hook · 2s · ↓ 10 tokens)\n\n❯ \n\n  esc to interrupt · ← for agents\n\n";
        assert!(working(busy));
        let idle = "✻ Brewed for 3s\n❯ \n  ? for shortcuts · ← for agents";
        assert!(!working(idle));
        let quoted = "● it said esc to interrupt\nline\nline\nline\n❯ \n  ? for shortcuts";
        assert!(!working(quoted));
        assert!(!working(""));
    }

    #[test]
    fn questions_are_recognised_and_ordinary_screens_are_not() {
        let claude = "╭───╮\n│ Bash command\n│ touch /tmp/x\n│ Do you want to proceed?\n│ ❯ 1. Yes\n│   2. No";
        assert_eq!(question(claude), Some("Do you want to proceed?"));
        assert_eq!(
            question("pick one\n  ❯ 1. Dark mode\n    2. Light"),
            Some("a numbered choice")
        );
        for calm in [
            "",
            "> \n? for shortcuts",
            "✔ done: wrote x.md\n1. first point",
            "> 1. do this first\n> ",
            "Proceeded.",
        ] {
            assert_eq!(question(calm), None, "{calm:?}");
        }
        // Scrolled up, out of the bottom lines: answered long ago.
        let old = format!("Do you want to proceed?\n{}", "later line\n".repeat(20));
        assert_eq!(question(&old), None);
    }

    #[test]
    fn the_excerpt_keeps_the_last_whole_lines() {
        assert_eq!(excerpt("a\nb\n\n\n"), "a\nb");
        let long = (0..2000)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = excerpt(&long);
        assert!(e.chars().count() <= MAX_SCREEN_CHARS);
        assert!(
            e.ends_with("line 1999") && e.starts_with("line "),
            "{e:.40}"
        );
    }
}
