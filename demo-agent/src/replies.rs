//! The texts the demo agent answers with. Pure functions, so tests can pin them.

use sha2::{Digest, Sha256};

/// The `/echo` body: the exact bytes, LF, `sha256: <lowercase hex of those bytes>`.
pub fn echo(payload: &str) -> String {
    format!(
        "{payload}\nsha256: {}",
        hex::encode(Sha256::digest(payload))
    )
}

/// The default reply: a greeting that quotes the message as a Markdown block quote.
pub fn greeting(message: &str) -> String {
    let quoted: Vec<String> = message
        .trim_end()
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                ">".into()
            } else {
                format!("> {l}")
            }
        })
        .collect();
    format!(
        "**Hello from the Paliadin demo agent.** You said:\n\n{}\n\n\
         I am the built-in stand-in for a real agent: I quote, echo and describe, and I never \
         run anything. Try `/echo <text>`, `/stream 5` or `/markdown`.",
        quoted.join("\n")
    )
}

/// Splits `text` into `n` (or fewer) pieces at character boundaries; the pieces concatenate
/// back to `text`.
pub fn chunks(text: &str, n: usize) -> Vec<&str> {
    let size = text.len().div_ceil(n.max(1)).max(1);
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = size.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

/// The `i`-th (1-based) of `n` `/stream` chunks; they concatenate to the reply body.
pub fn stream_chunk(i: u32, n: u32) -> String {
    let sep = if i == 1 { "" } else { "\n" };
    format!("{sep}Chunk {i} of {n}.")
}

/// The `/large` body: `kib` KiB exactly, in 64-byte numbered lines.
pub fn large(kib: u32) -> String {
    let lines = kib as usize * 1024 / 64;
    let mut body = String::with_capacity(lines * 64);
    for i in 1..=lines {
        body.push_str(&format!("line {i:08} {}\n", "x".repeat(49)));
    }
    body
}

/// The `/markdown` body: ordinary Markdown plus hostile HTML a sanitiser must neutralise.
pub const MARKDOWN: &str = r#"# Markdown sample

Some **bold**, some *emphasis*, `inline code` and a [safe link](https://example.com/docs).

```rust
fn main() {
    println!("<b>not html</b> & friends");
}
```

| directive | what it does |
|---|---|
| `/echo` | echoes the bytes it got |
| `/stream` | streams the reply in chunks |

Hostile bits a sanitiser must neutralise:

<script>alert(1)</script>

[click me](javascript:alert(1))

<img src="x" onerror="alert(1)">"#;

/// The `/bad-trailer` reply file: a body, then a trailer line whose JSON breaks the grammar.
pub const BAD_TRAILER_REPLY: &str = "This reply has a malformed trailer on purpose.\n\
<!-- paliadin {\"used_tools\":\"not-a-list\",\"rows_seen\":-1} -->\n";

/// The `/recall` reply: the conversation's earlier messages, each on a line of its own (a
/// message's own line breaks shown as `⏎`).
pub fn recall(earlier: &[String]) -> String {
    if earlier.is_empty() {
        return "I remember no earlier message in this conversation.".into();
    }
    let mut out = format!(
        "I remember {} earlier message{} in this conversation:\n",
        earlier.len(),
        if earlier.len() == 1 { "" } else { "s" }
    );
    for m in earlier {
        out.push_str("- ");
        out.push_str(&m.replace('\n', "⏎"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use paliadin_shared::domain::trailer::parse_reply;

    #[test]
    fn echo_appends_the_sha256_of_the_exact_bytes() {
        assert_eq!(
            echo(""),
            "\nsha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            echo("abc"),
            "abc\nsha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chunks_concatenate_back_and_respect_char_boundaries() {
        let text = "😀é abc مرحبا";
        for n in 1..8 {
            let parts = chunks(text, n);
            assert_eq!(parts.concat(), text);
            assert!(parts.len() <= n.max(1) + 1, "{n}: {parts:?}");
        }
        assert!(chunks("", 3).is_empty());
    }

    #[test]
    fn greeting_quotes_every_line() {
        let g = greeting("a\n\nb\n");
        assert!(g.contains("> a\n>\n> b\n\n"), "{g}");
        assert_eq!(g, g.trim_end());
    }

    #[test]
    fn large_is_exactly_the_requested_size() {
        assert_eq!(large(1).len(), 1024);
        assert_eq!(large(3).len(), 3 * 1024);
    }

    #[test]
    fn bad_trailer_is_rejected_with_text_kept() {
        let err = parse_reply(BAD_TRAILER_REPLY).unwrap_err();
        assert!(err.text.starts_with("This reply has a malformed trailer"));
    }
}
