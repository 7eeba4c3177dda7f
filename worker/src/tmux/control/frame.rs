//! Reading a control-mode client's output: the lines between `%begin T N F` and the `%end T N
//! F` / `%error T N F` with the very same `T N F` are one command's reply; every other line
//! starting with `%` outside a reply is a notification (`%sessions-changed`, `%exit`, …).
//!
//! tmux never writes a notification inside a reply, so inside one only the exact closing guard
//! ends it: a line of screen text that merely looks like a guard (an agent printing `%end …`)
//! stays text. Anything out of order (a closing guard with no reply open, text outside a reply)
//! is a protocol violation: the connection is not trusted any further.

/// One command's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `F` of the guard: 1 for a command read from this client's stdin, 0 for the command line
    /// it was started with.
    pub from_stdin: bool,
    /// `%end` (true) or `%error` (false).
    pub ok: bool,
    /// The reply's lines, each ending in `\n`, as the CLI would have printed them.
    pub text: String,
}

/// What one line meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A reply is complete.
    Reply(Block),
    /// The client is leaving (`%exit`): nothing more will be answered.
    Exit,
    /// The stream cannot be followed any more.
    Violation(String),
}

/// The open reply, if any.
#[derive(Debug, Default)]
pub struct Framer {
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    /// `T N F` exactly as on the `%begin` line.
    guard: String,
    from_stdin: bool,
    text: String,
}

impl Framer {
    /// Takes one line (without its `\n`); returns what it completed, if anything.
    pub fn line(&mut self, line: &str) -> Option<Event> {
        if let Some(open) = &mut self.open {
            let closing = line
                .strip_prefix("%end ")
                .map(|g| (g, true))
                .or_else(|| line.strip_prefix("%error ").map(|g| (g, false)));
            match closing {
                Some((guard, ok)) if guard == open.guard => {
                    let open = self.open.take()?;
                    return Some(Event::Reply(Block {
                        from_stdin: open.from_stdin,
                        ok,
                        text: open.text,
                    }));
                }
                _ => {
                    open.text.push_str(line);
                    open.text.push('\n');
                    return None;
                }
            }
        }
        if let Some(guard) = line.strip_prefix("%begin ") {
            let Some(flags) = parse_guard(guard) else {
                return Some(Event::Violation(format!("malformed guard {line:?}")));
            };
            self.open = Some(Open {
                guard: guard.to_owned(),
                from_stdin: flags & 1 == 1,
                text: String::new(),
            });
            return None;
        }
        if line == "%exit" || line.starts_with("%exit ") {
            return Some(Event::Exit);
        }
        if line.starts_with("%end ") || line.starts_with("%error ") {
            return Some(Event::Violation(format!("{line:?} outside a reply")));
        }
        if line.starts_with('%') {
            return None; // a notification: nothing here needs one
        }
        Some(Event::Violation(format!(
            "text outside a reply: {line:.40?}"
        )))
    }
}

/// `T N F`: three decimal numbers; returns `F`.
fn parse_guard(guard: &str) -> Option<u64> {
    let mut parts = guard.split(' ');
    let (t, n, f) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then_some(());
    number(t)?;
    number(n)?;
    number(f)?;
    if parts.next().is_some() {
        return None;
    }
    f.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut Framer, lines: &[&str]) -> Vec<Event> {
        lines.iter().filter_map(|l| f.line(l)).collect()
    }

    #[test]
    fn replies_are_framed_and_notifications_between_them_ignored() {
        let mut f = Framer::default();
        let got = feed(
            &mut f,
            &[
                "%begin 1 10 0",
                "%end 1 10 0",
                "%sessions-changed",
                "%begin 1 11 1",
                "a\tb",
                "",
                "%end 1 11 1",
                "%window-add @3",
                "%begin 1 12 1",
                "can't find session: x",
                "%error 1 12 1",
                "%exit",
            ],
        );
        let block = |from_stdin, ok, text: &str| {
            Event::Reply(Block {
                from_stdin,
                ok,
                text: text.into(),
            })
        };
        assert_eq!(
            got,
            vec![
                block(false, true, ""),
                block(true, true, "a\tb\n\n"),
                block(true, false, "can't find session: x\n"),
                Event::Exit,
            ]
        );
    }

    #[test]
    fn text_that_looks_like_a_guard_stays_text() {
        let mut f = Framer::default();
        let got = feed(
            &mut f,
            &[
                "%begin 5 7 1",
                "%end 5 8 1",
                "%error 5 7 0",
                "%begin 5 9 1",
                "%exit",
                "%end 5 7 1",
            ],
        );
        assert_eq!(
            got,
            vec![Event::Reply(Block {
                from_stdin: true,
                ok: true,
                text: "%end 5 8 1\n%error 5 7 0\n%begin 5 9 1\n%exit\n".into(),
            })]
        );
    }

    #[test]
    fn out_of_order_lines_are_violations() {
        for bad in [
            "%end 1 2 1",
            "%error 1 2 1",
            "stray text",
            "%begin 1 x 1",
            "%begin 1 2",
        ] {
            let mut f = Framer::default();
            assert!(
                matches!(f.line(bad), Some(Event::Violation(_))),
                "{bad:?} was accepted"
            );
        }
    }
}
