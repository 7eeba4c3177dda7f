//! Writing a command as one control-mode line. tmux parses each line like a line of its
//! configuration file: `;` separates commands, `{ }` groups them, `$`, `~` and `#` expand or
//! comment, and a newline ends the line. Every argument is therefore wrapped in single quotes,
//! inside which tmux takes every character literally; an argument that cannot be written that
//! way (a `'` of its own, a newline or another control character except TAB) is refused, and
//! the caller runs that command through the CLI instead, where arguments travel as argv.
//!
//! User text never comes here (see `deliver`: it reaches tmux as a buffer file or on a CLI
//! client's stdin); what does is session and buffer names, pane targets, fixed key names, the
//! health format, and the operator's settings for new sessions.

/// An argument that cannot be written inside single quotes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argument {index} of `{command}` cannot be quoted for a control-mode line")]
pub struct Unquotable {
    pub command: String,
    pub index: usize,
}

/// `args` as one line (without its `\n`), or which argument cannot be written.
pub fn line(args: &[&str]) -> Result<String, Unquotable> {
    let mut out = String::new();
    for (index, arg) in args.iter().enumerate() {
        if !quotable(arg) {
            return Err(Unquotable {
                command: args.first().copied().unwrap_or("").to_owned(),
                index,
            });
        }
        if index > 0 {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(arg);
        out.push('\'');
    }
    if out.is_empty() {
        // An empty line detaches a control client: never write one.
        return Err(Unquotable {
            command: String::new(),
            index: 0,
        });
    }
    Ok(out)
}

/// Whether `arg` means itself between single quotes.
pub fn quotable(arg: &str) -> bool {
    arg.chars()
        .all(|c| c != '\'' && (c == '\t' || !c.is_control()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_is_single_quoted() {
        assert_eq!(
            line(&["display-message", "-p", "-t", "=a:", "#{x}\t$HOME; {"]).unwrap(),
            "'display-message' '-p' '-t' '=a:' '#{x}\t$HOME; {'"
        );
        assert_eq!(line(&["kill-session", ""]).unwrap(), "'kill-session' ''");
    }

    #[test]
    fn what_single_quotes_cannot_hold_is_refused() {
        for bad in [
            "it's",
            "a\nb",
            "a\rb",
            "\u{0}",
            "\u{1b}[31m",
            "\u{7f}",
            "\u{85}",
        ] {
            let err = line(&["send-keys", "-t", bad]).unwrap_err();
            assert_eq!(err.index, 2, "{bad:?}");
        }
        assert!(line(&[]).is_err());
    }
}
