//! The demo agent's keyboard decoder: raw terminal bytes in, submissions and interrupts out.
//!
//! Pure and clock-free so it can be tested byte by byte. Rules:
//! - bytes between `ESC[200~` and `ESC[201~` (bracketed paste) are content, kept byte-exact
//!   (LF, TAB, CR, quotes, UTF-8 all included); the markers may be split across reads;
//! - outside a paste, CR submits the accumulated input (LF too when `lf_submits`, i.e. when
//!   stdin is not a terminal); an empty input is never submitted, so a repeated Enter is harmless;
//! - a lone ESC interrupts: ESC followed by ESC or by anything but `[`/`O`, or ESC with no
//!   further byte before the caller's timeout ([`InputParser::escape_timeout`]);
//! - other escape sequences (arrow keys, focus reports, a stray `ESC[201~`) are ignored;
//! - Ctrl-C (0x03) interrupts and discards the typed input; Ctrl-D (0x04) on an empty input quits;
//!   DEL/BS erase the last character; other C0 controls are ignored; everything else is typed.

/// The bracketed-paste start (the part after `ESC [`) and the whole end marker.
const PASTE_START: &[u8] = b"200~";
const PASTE_END: &[u8] = b"\x1b[201~";
const ESC: u8 = 0x1b;

/// What the keyboard said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// Enter with a non-empty input: the bytes typed and pasted since the last submission.
    Submit(Vec<u8>),
    /// Escape or Ctrl-C: stop the current response.
    Interrupt,
    /// Ctrl-D on an empty input.
    Quit,
    /// Bytes typed outside a paste (for echoing on screen).
    Typed(Vec<u8>),
    /// One character was erased from the input.
    Erased,
    /// Ctrl-U removed (part of) the input.
    LineKilled,
    /// A bracketed paste of this many bytes ended.
    Pasted(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ground,
    /// Saw ESC outside a paste; the next byte decides.
    Escape,
    /// Inside `ESC [`: collecting the sequence's parameter and intermediate bytes.
    Csi(Vec<u8>),
    /// Inside `ESC O`: one more byte ends it.
    Ss3,
    /// Inside a bracketed paste; `matched` bytes of [`PASTE_END`] seen so far.
    Paste {
        matched: usize,
        len: usize,
    },
}

/// Decodes a byte stream; keep one per terminal.
#[derive(Debug)]
pub struct InputParser {
    state: State,
    /// The input line being composed.
    input: Vec<u8>,
    /// Whether a bare LF submits (true for pipes, false for a raw-mode terminal, where Enter is CR
    /// and an LF can only come from an unbracketed multi-line paste).
    lf_submits: bool,
}

impl InputParser {
    pub fn new(lf_submits: bool) -> Self {
        InputParser {
            state: State::Ground,
            input: Vec::new(),
            lf_submits,
        }
    }

    /// True when a lone ESC is pending: call [`Self::escape_timeout`] if no byte follows soon.
    pub fn escape_pending(&self) -> bool {
        self.state == State::Escape
    }

    /// No byte followed the ESC in time: it was the Escape key.
    pub fn escape_timeout(&mut self) -> Vec<InputEvent> {
        if self.escape_pending() {
            self.state = State::Ground;
            vec![InputEvent::Interrupt]
        } else {
            Vec::new()
        }
    }

    /// Feeds the bytes of one read.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<InputEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            self.byte(b, &mut out);
        }
        out
    }

    fn byte(&mut self, b: u8, out: &mut Vec<InputEvent>) {
        match std::mem::replace(&mut self.state, State::Ground) {
            State::Ground => self.ground(b, out),
            State::Escape => match b {
                b'[' => self.state = State::Csi(Vec::new()),
                b'O' => self.state = State::Ss3,
                _ => {
                    out.push(InputEvent::Interrupt);
                    self.ground(b, out);
                }
            },
            State::Csi(mut seq) => match b {
                0x20..=0x3f => {
                    seq.push(b);
                    self.state = State::Csi(seq);
                }
                0x40..=0x7e => {
                    seq.push(b);
                    if seq == PASTE_START {
                        self.state = State::Paste { matched: 0, len: 0 };
                    }
                }
                // Not a valid sequence: drop it and read the byte afresh.
                _ => self.ground(b, out),
            },
            State::Ss3 => {}
            State::Paste { matched, len } => self.paste(b, matched, len, out),
        }
    }

    fn ground(&mut self, b: u8, out: &mut Vec<InputEvent>) {
        match b {
            ESC => self.state = State::Escape,
            b'\r' => self.submit(out),
            b'\n' if self.lf_submits => self.submit(out),
            0x03 => {
                self.input.clear();
                out.push(InputEvent::Interrupt);
            }
            0x04 if self.input.is_empty() => out.push(InputEvent::Quit),
            0x7f | 0x08 if pop_char(&mut self.input) => out.push(InputEvent::Erased),
            // Ctrl-U, as in Claude Code: delete to the start of the line; at the start of a
            // line of a multi-line input, the line break.
            0x15 if kill_line(&mut self.input) => out.push(InputEvent::LineKilled),
            b'\t' | b'\n' | 0x20..=0x7e | 0x80.. => {
                self.input.push(b);
                match out.last_mut() {
                    Some(InputEvent::Typed(t)) => t.push(b),
                    _ => out.push(InputEvent::Typed(vec![b])),
                }
            }
            _ => {}
        }
    }

    fn paste(&mut self, b: u8, matched: usize, len: usize, out: &mut Vec<InputEvent>) {
        if b == PASTE_END[matched] {
            if matched + 1 == PASTE_END.len() {
                out.push(InputEvent::Pasted(len));
            } else {
                self.state = State::Paste {
                    matched: matched + 1,
                    len,
                };
            }
            return;
        }
        // A partial end marker turned out to be content: keep it, then look at `b` afresh
        // (only ESC can start the marker again, and ESC appears once in it).
        self.input.extend_from_slice(&PASTE_END[..matched]);
        let mut len = len + matched;
        let matched = if b == ESC {
            1
        } else {
            self.input.push(b);
            len += 1;
            0
        };
        self.state = State::Paste { matched, len };
    }

    fn submit(&mut self, out: &mut Vec<InputEvent>) {
        if !self.input.is_empty() {
            out.push(InputEvent::Submit(std::mem::take(&mut self.input)));
        }
    }
}

/// Removes the input's last line (or, when it is empty, the line break before it); false when
/// the input was empty.
fn kill_line(input: &mut Vec<u8>) -> bool {
    if input.is_empty() {
        return false;
    }
    match input.iter().rposition(|&b| b == b'\n') {
        Some(i) if i + 1 == input.len() => input.truncate(i),
        Some(i) => input.truncate(i + 1),
        None => input.clear(),
    }
    true
}

/// Removes the last UTF-8 character (or stray byte); false when the input was empty.
fn pop_char(input: &mut Vec<u8>) -> bool {
    let Some(mut i) = input.len().checked_sub(1) else {
        return false;
    };
    while i > 0 && input[i] & 0xc0 == 0x80 {
        i -= 1;
    }
    input.truncate(i);
    true
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
