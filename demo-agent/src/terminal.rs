//! The demo agent's terminal: raw mode plus bracketed paste while it runs, restored on exit,
//! and a transcript printer that makes untrusted text safe to show.

use nix::sys::termios::{self, OutputFlags, SetArg, Termios};
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

const PASTE_ON: &str = "\x1b[?2004h";
const PASTE_OFF: &str = "\x1b[?2004l";

/// Raw mode and bracketed paste, undone on drop (or by [`RawMode::restore`] before an exit).
pub struct RawMode {
    /// The settings to put back; None when stdin is not a terminal (nothing was changed).
    saved: Mutex<Option<Termios>>,
    /// Whether bracketed paste was switched on (stdout is a terminal).
    paste: bool,
}

impl RawMode {
    /// Switches stdin to raw input (no echo, no line editing, no signals from Ctrl-C, CR kept as
    /// CR) while keeping output post-processing so `\n` still starts a new line. A stdin that is
    /// not a terminal is left alone.
    pub fn enable() -> io::Result<RawMode> {
        let stdin = io::stdin();
        let saved = if stdin.is_terminal() {
            let original = termios::tcgetattr(&stdin)?;
            let mut raw = original.clone();
            termios::cfmakeraw(&mut raw);
            raw.output_flags |= OutputFlags::OPOST | OutputFlags::ONLCR;
            termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw)?;
            Some(original)
        } else {
            None
        };
        let paste = io::stdout().is_terminal();
        if paste {
            let mut out = io::stdout().lock();
            out.write_all(PASTE_ON.as_bytes())?;
            out.flush()?;
        }
        Ok(RawMode {
            saved: Mutex::new(saved),
            paste,
        })
    }

    /// True when stdin is a raw terminal (Enter arrives as CR; a bare LF is pasted content).
    pub fn is_tty(&self) -> bool {
        self.saved.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// Puts the terminal back as it was. Idempotent.
    pub fn restore(&self) {
        if self.paste {
            let mut out = io::stdout().lock();
            let _ = out.write_all(PASTE_OFF.as_bytes());
            let _ = out.flush();
        }
        if let Some(original) = self.saved.lock().ok().and_then(|mut s| s.take()) {
            let _ = termios::tcsetattr(io::stdin(), SetArg::TCSANOW, &original);
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Prints the transcript. Lines from both threads never interleave mid-line.
#[derive(Debug, Default)]
pub struct Screen {
    lock: Mutex<()>,
}

impl Screen {
    /// Prints one line (untrusted parts must go through [`shown`]).
    pub fn line(&self, text: &str) {
        let _guard = self.lock.lock();
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Echoes raw typed bytes (or erases one character), without a newline.
    /// Clears the screen and its scrollback (a closed question leaves no trace, as in a
    /// full-screen agent that redraws).
    pub fn clear(&self) {
        self.echo(b"\x1b[2J\x1b[3J\x1b[H");
    }

    pub fn echo(&self, bytes: &[u8]) {
        let _guard = self.lock.lock();
        let mut out = io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

/// Makes untrusted text safe for a terminal: control characters (ESC included) become `␛`-style
/// pictures or `\xNN`, so nothing from a message can move the cursor or change modes. Long
/// text is cut to `max` characters with a marker.
pub fn shown(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push_str(&format!(
                " …[{} more bytes]",
                text.len() - out_len(text, max)
            ));
            break;
        }
        match c {
            '\n' => out.push_str("⏎\n    "),
            '\t' => out.push('⇥'),
            c if (c as u32) < 0x20 => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Byte length of the first `max` characters.
fn out_len(text: &str, max: usize) -> usize {
    text.char_indices().nth(max).map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn control_characters_are_pictured_not_sent() {
        assert_eq!(shown("a\x1b[2Jb\tc", 100), "a␛[2Jb⇥c");
        assert_eq!(shown("x\u{9b}y", 100), "x\\u{9b}y");
        assert_eq!(shown("l1\nl2", 100), "l1⏎\n    l2");
        assert_eq!(shown("abcdef", 3), "abc …[3 more bytes]");
    }
}
