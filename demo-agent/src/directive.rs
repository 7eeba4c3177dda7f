//! Directives: the first word of a message selects how the demo agent answers.
//!
//! The syntax is documented in `docs/agent-protocol.md` and in `paliadin-demo-agent --help`
//! ([`HELP`]); a message that does not start with a known directive gets the default reply.

/// Largest `/slow` wait, in milliseconds (one hour).
pub const MAX_SLOW_MS: u64 = 3_600_000;
/// Largest `/stream` chunk count and `/activity` event count.
pub const MAX_COUNT: u32 = 1000;
/// Largest `/large` reply, in KiB (16 MiB).
pub const MAX_LARGE_KIB: u32 = 16 * 1024;

/// The directive reference, shown by `--help` (kept in sync with `docs/agent-protocol.md`).
pub const HELP: &str = "\
Directives (the first word of the message after the envelope):
  <anything else>     friendly Markdown reply quoting the message, streamed in 3 .partial
                      chunks after one activity event; classifier_tag demo
  /echo <text>        reply body is exactly <text> (every byte after \"/echo \"; a TAB or LF
                      after /echo works as the separator too), then LF, then
                      \"sha256: <64 lowercase hex of those bytes>\"; classifier_tag demo-echo
  /slow <ms>          wait <ms> milliseconds (0..=3600000), then reply; demo-slow
  /late-ack <ms>      take the message at once but write its receipt (.ack) only <ms>
                      milliseconds later (0..=3600000), as a slow receipt hook would; then
                      reply; demo-late-ack
  /stream <n>         n .partial chunks (1..=1000), 50 ms apart; demo-stream
  /activity <n>       n activity events (0..=1000), 20 ms apart, then reply; demo-activity
  /compact <ms>       report that the conversation is being compacted (the .events status
                      lines compacting, then compacted after <ms> milliseconds, 0..=3600000),
                      then reply; demo-compact
  /fail <kind> [text] give up on the turn as an agent whose model's API failed: write the
                      spool's <turn_id>.failure with kind <kind> ([a-z0-9_]{1,40}) and the
                      text as its message; no reply
  /hang               never answer; only an interrupt (Esc, Ctrl-C) ends the turn
  /bad-trailer        reply whose trailer line is malformed (tests invalid_reply)
  /large <kib>        reply body of exactly <kib> KiB (1..=16384); demo-large
  /markdown           code block, table, link, plus hostile HTML for sanitiser tests; demo-markdown
  /crash              exit the process with status 70 without answering (agent died)
  /recall             list the earlier messages of this conversation (started with
                      --session-id, continued with --resume); demo-recall
  /dialog             show a question in the terminal (\"Do you want to proceed?\") and wait
                      for a key: Enter answers it (any typed text is taken with it), Esc
                      interrupts; then reply \"Proceeded.\"; demo-dialog
  /dialog-after       reply at once, then leave such a question open in the terminal
  /ask <tool> <text>  ask the person for permission to use <tool> ([A-Za-z0-9_.:/-]{1,64})
                      to do <text> (the spool's perm-1.json), wait for the decision, then
                      reply \"Allowed: …\" or \"Denied: …\"; demo-ask
A directive with a missing or out-of-range number gets a reply explaining the usage
(classifier_tag demo-usage).";

/// How to answer one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive<'a> {
    Default,
    /// The exact bytes after `/echo` and its one separator character.
    Echo(&'a str),
    Slow(u64),
    /// `/late-ack <ms>`: the receipt is written `ms` after the submission.
    LateAck(u64),
    Stream(u32),
    Activity(u32),
    /// `/compact <ms>`: a compaction of `ms` milliseconds, reported as Claude's hooks do.
    Compact(u64),
    /// `/fail <kind> [text]`: the model's API failed; the turn ends without a reply.
    Fail {
        kind: &'a str,
        text: &'a str,
    },
    Hang,
    BadTrailer,
    Large(u32),
    Markdown,
    /// `/recall`: the earlier messages of the conversation.
    Recall,
    Crash,
    /// `/dialog`: a question in the terminal that no hook reports.
    Dialog,
    /// `/dialog-after`: reply, then leave a question open.
    DialogAfter,
    /// `/ask <tool> <text>`: ask the person before "using" a tool.
    Ask {
        tool: &'a str,
        what: &'a str,
    },
    /// A known directive with a bad argument; the text says what is expected.
    Usage(String),
}

impl Directive<'_> {
    /// The reply's `classifier_tag`.
    pub fn classifier_tag(&self) -> &'static str {
        match self {
            Directive::Default => "demo",
            Directive::Echo(_) => "demo-echo",
            Directive::Slow(_) => "demo-slow",
            Directive::LateAck(_) => "demo-late-ack",
            Directive::Stream(_) => "demo-stream",
            Directive::Activity(_) => "demo-activity",
            Directive::Compact(_) => "demo-compact",
            Directive::Fail { .. } => "demo-fail",
            Directive::Hang => "demo-hang",
            Directive::BadTrailer => "demo-bad-trailer",
            Directive::Large(_) => "demo-large",
            Directive::Markdown => "demo-markdown",
            Directive::Recall => "demo-recall",
            Directive::Crash => "demo-crash",
            Directive::Ask { .. } => "demo-ask",
            Directive::Dialog | Directive::DialogAfter => "demo-dialog",
            Directive::Usage(_) => "demo-usage",
        }
    }
}

/// Reads the directive from a message (the text after the envelope's `] `).
pub fn parse(message: &str) -> Directive<'_> {
    if !message.starts_with('/') {
        return Directive::Default;
    }
    let is_sep = |c: char| c == ' ' || c == '\t' || c == '\n';
    let (word, rest) = match message.find(is_sep) {
        Some(i) => (&message[..i], &message[i + 1..]),
        None => (message, ""),
    };
    let arg = rest.split(is_sep).find(|w| !w.is_empty());
    match word {
        "/echo" => Directive::Echo(rest),
        "/slow" => {
            number(word, arg, 0, MAX_SLOW_MS, "milliseconds").map_or_else(|u| u, Directive::Slow)
        }
        "/late-ack" => {
            number(word, arg, 0, MAX_SLOW_MS, "milliseconds").map_or_else(|u| u, Directive::LateAck)
        }
        "/stream" => count(word, arg, 1, MAX_COUNT, "chunks").map_or_else(|u| u, Directive::Stream),
        "/activity" => {
            count(word, arg, 0, MAX_COUNT, "events").map_or_else(|u| u, Directive::Activity)
        }
        "/large" => count(word, arg, 1, MAX_LARGE_KIB, "KiB").map_or_else(|u| u, Directive::Large),
        "/compact" => {
            number(word, arg, 0, MAX_SLOW_MS, "milliseconds").map_or_else(|u| u, Directive::Compact)
        }
        "/fail" => fail(rest),
        "/hang" => Directive::Hang,
        "/bad-trailer" => Directive::BadTrailer,
        "/markdown" => Directive::Markdown,
        "/recall" => Directive::Recall,
        "/crash" => Directive::Crash,
        "/ask" => ask(rest),
        "/dialog" => Directive::Dialog,
        "/dialog-after" => Directive::DialogAfter,
        _ => Directive::Default,
    }
}

fn fail(rest: &str) -> Directive<'_> {
    let rest = rest.trim_start();
    let (kind, text) = rest.split_once([' ', '\t', '\n']).unwrap_or((rest, ""));
    let valid = (1..=40).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Directive::Fail { kind, text }
    } else {
        Directive::Usage(
            "`/fail` needs a failure kind ([a-z0-9_]{1,40}) and optionally its text, e.g. \
             `/fail overloaded The model is busy.`."
                .into(),
        )
    }
}

fn ask(rest: &str) -> Directive<'_> {
    let rest = rest.trim_start();
    let (tool, what) = rest.split_once([' ', '\t', '\n']).unwrap_or((rest, ""));
    let valid = (1..=64).contains(&tool.len())
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b));
    if valid {
        Directive::Ask { tool, what }
    } else {
        Directive::Usage(
            "`/ask` needs a tool name ([A-Za-z0-9_.:/-]{1,64}) and what it will do, e.g. \
             `/ask Bash touch /tmp/x`."
                .into(),
        )
    }
}

fn number(
    word: &str,
    arg: Option<&str>,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<u64, Directive<'static>> {
    match arg.and_then(|a| a.parse::<u64>().ok()) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Directive::Usage(format!(
            "`{word}` needs a number of {unit} in {min}..={max}, e.g. `{word} {}`; got {}.",
            min.max(3),
            arg.map_or("nothing".to_owned(), |a| format!("`{a}`")),
        ))),
    }
}

fn count(
    word: &str,
    arg: Option<&str>,
    min: u32,
    max: u32,
    unit: &str,
) -> Result<u32, Directive<'static>> {
    number(word, arg, min.into(), max.into(), unit).map(|n| n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages_and_unknown_words_get_the_default_reply() {
        for m in ["hello", " /echo x", "/echoes x", "/unknown 3", "/", "échо"] {
            assert_eq!(parse(m), Directive::Default, "{m:?}");
        }
    }

    #[test]
    fn echo_keeps_every_byte_after_one_separator() {
        assert_eq!(parse("/echo a;b "), Directive::Echo("a;b "));
        assert_eq!(parse("/echo  two"), Directive::Echo(" two"));
        assert_eq!(parse("/echo\nline\n"), Directive::Echo("line\n"));
        assert_eq!(parse("/echo\t\tx"), Directive::Echo("\tx"));
        assert_eq!(parse("/echo"), Directive::Echo(""));
    }

    #[test]
    fn numeric_directives_parse_their_argument() {
        assert_eq!(parse("/slow 1500"), Directive::Slow(1500));
        assert_eq!(parse("/slow\t0 and then text"), Directive::Slow(0));
        assert_eq!(parse("/late-ack 900"), Directive::LateAck(900));
        assert_eq!(parse("/stream 5"), Directive::Stream(5));
        assert_eq!(parse("/activity  0"), Directive::Activity(0));
        assert_eq!(parse("/large 64"), Directive::Large(64));
        assert_eq!(parse("/compact 250"), Directive::Compact(250));
        assert_eq!(parse("/compact").classifier_tag(), "demo-usage");
        assert_eq!(
            parse("/fail rate_limit Too many requests"),
            Directive::Fail {
                kind: "rate_limit",
                text: "Too many requests"
            }
        );
        assert_eq!(parse("/fail Bad-Kind x").classifier_tag(), "demo-usage");
        assert_eq!(parse("/hang"), Directive::Hang);
        assert_eq!(parse("/bad-trailer please"), Directive::BadTrailer);
        assert_eq!(parse("/markdown"), Directive::Markdown);
        assert_eq!(parse("/crash now"), Directive::Crash);
        assert_eq!(
            parse("/ask Bash touch /tmp/x; rm y"),
            Directive::Ask {
                tool: "Bash",
                what: "touch /tmp/x; rm y"
            }
        );
        assert_eq!(parse("/ask $(x) y").classifier_tag(), "demo-usage");
        assert_eq!(parse("/ask").classifier_tag(), "demo-usage");
    }

    #[test]
    fn bad_arguments_explain_the_usage() {
        for m in [
            "/slow",
            "/slow abc",
            "/slow 3600001",
            "/stream 0",
            "/stream -1",
            "/large 16385",
        ] {
            match parse(m) {
                Directive::Usage(text) => assert!(text.contains('`'), "{m:?}: {text}"),
                other => panic!("{m:?} parsed as {other:?}"),
            }
        }
        assert_eq!(parse("/slow x").classifier_tag(), "demo-usage");
    }
}
