//! One look at a session's pane for the live terminal view (`docs/web.md`, "Terminal"): its
//! size, its cursor and its visible screen with colours (`capture-pane -e -p`). Both commands
//! only read (`display-message`, `capture-pane`): nothing here ever reaches the pane's input.

use super::{Tmux, TmuxError};
use paliadin_shared::SessionName;
use serde::{Deserialize, Serialize};

/// The largest screen passed on; a larger one (a huge pane full of colour changes) is cut at a
/// line boundary, which xterm.js shows as a shorter screen.
pub const MAX_SCREEN_BYTES: usize = 192 * 1024;

/// What the pane shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaneView {
    /// `capture-pane -e -p`: the visible lines with their SGR escapes, `\n` between lines.
    pub screen: String,
    pub cols: u16,
    pub rows: u16,
    pub cursor_x: u16,
    pub cursor_y: u16,
}

/// Reads `session`'s pane.
pub async fn read(tmux: &Tmux, session: &SessionName) -> Result<PaneView, TmuxError> {
    let target = session.pane_target();
    let geometry = tmux
        .run(&[
            "display-message",
            "-p",
            "-t",
            &target,
            "#{pane_width} #{pane_height} #{cursor_x} #{cursor_y}",
        ])
        .await?;
    let mut numbers = geometry
        .split_whitespace()
        .map(|n| n.parse::<u16>().unwrap_or(0));
    let mut next = || numbers.next().unwrap_or(0);
    let (cols, rows, cursor_x, cursor_y) = (next(), next(), next(), next());
    let screen = tmux
        .run(&["capture-pane", "-e", "-p", "-t", &target])
        .await?;
    Ok(PaneView {
        screen: bounded(screen),
        cols,
        rows,
        cursor_x,
        cursor_y,
    })
}

/// At most [`MAX_SCREEN_BYTES`], cut after a whole line.
pub fn bounded(mut screen: String) -> String {
    if screen.len() > MAX_SCREEN_BYTES {
        let cut = screen[..MAX_SCREEN_BYTES].rfind('\n').unwrap_or(0);
        screen.truncate(cut);
    }
    screen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_screen_is_cut_after_a_whole_line() {
        let line = format!("{}\n", "x".repeat(999));
        let big = line.repeat(MAX_SCREEN_BYTES / 1000 + 5);
        let cut = bounded(big);
        assert!(cut.len() <= MAX_SCREEN_BYTES);
        assert!(cut.ends_with('x'));
        assert_eq!(bounded("a\nb\n".into()), "a\nb\n");
    }
}
