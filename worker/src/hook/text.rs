//! Text rules the hooks share: the envelope at the start of a prompt, the trailer line at the
//! end of a reply, and whitespace as Python's `str.split()`/`strip()` and `re`'s `\s` see it.

/// Python's `str.isspace()` (also `re`'s `\s`): Unicode White_Space plus the four C0
/// separators U+001C..U+001F, which Rust's `char::is_whitespace` does not count.
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `text.strip()`.
pub fn strip(text: &str) -> &str {
    text.trim_matches(py_space)
}

/// `" ".join(text.split())`: runs of whitespace become one space, none at either end.
pub fn collapse(text: &str) -> String {
    text.split(py_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first `n` characters of `text` (Python's `text[:n]`).
pub fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// A turn id as Paliadin writes it: a lowercase hyphenated UUID (`8-4-4-4-12` hex digits).
pub fn is_turn_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// The turn id of a prompt that starts (after whitespace, optionally after `/paliadin `) with
/// the envelope `[PALIADIN:<turn_id>] `; the Python hooks' regular expression
/// `\s*(?:/paliadin\s+)?\[PALIADIN:(<uuid>)\] `, matched at the start.
pub fn envelope_turn(prompt: &str) -> Option<&str> {
    let s = prompt.trim_start_matches(py_space);
    let s = match s.strip_prefix("/paliadin") {
        Some(rest) if rest.starts_with(py_space) => rest.trim_start_matches(py_space),
        _ => s,
    };
    let rest = s.strip_prefix("[PALIADIN:")?;
    let id = rest.get(..36)?;
    (is_turn_id(id) && rest[36..].starts_with("] ")).then_some(id)
}

/// The trailer Paliadin appends to a reply the model wrote only in the chat.
pub const FALLBACK_TRAILER: &str = "<!-- paliadin {\"used_tools\":[],\"rows_seen\":0,\"chip_count\":0,\"classifier_tag\":\"fallback\"} -->";

/// Whether the last non-blank line of `text` looks like a reply trailer,
/// `<!-- paliadin {…} -->` (the worker's parser judges the JSON; this only finds the line).
pub fn has_trailer(text: &str) -> bool {
    let text = text.trim_end_matches(py_space);
    let last = strip(text.rsplit('\n').next().unwrap_or_default());
    last.starts_with("<!-- paliadin {") && last.ends_with("} -->")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123abcd-0000-4000-8000-00000000beef";

    #[test]
    fn finds_the_envelope_as_the_python_expression_did() {
        assert_eq!(envelope_turn(&format!("[PALIADIN:{ID}] hi")), Some(ID));
        assert_eq!(
            envelope_turn(&format!(" \n\u{1f}[PALIADIN:{ID}] x")),
            Some(ID)
        );
        assert_eq!(
            envelope_turn(&format!("/paliadin \t[PALIADIN:{ID}] x")),
            Some(ID)
        );
        assert_eq!(envelope_turn(&format!("/paliadin[PALIADIN:{ID}] x")), None);
        assert_eq!(envelope_turn(&format!("[PALIADIN:{ID}]x")), None);
        assert_eq!(envelope_turn(&format!("x [PALIADIN:{ID}] x")), None);
        let upper = ID.to_uppercase();
        assert_eq!(envelope_turn(&format!("[PALIADIN:{upper}] x")), None);
        assert_eq!(envelope_turn("[PALIADIN:é"), None);
    }

    #[test]
    fn trailer_lines_and_whitespace() {
        assert!(has_trailer("Hi\n  <!-- paliadin {\"a\":1} -->  \n\n"));
        assert!(has_trailer(FALLBACK_TRAILER));
        assert!(!has_trailer("Hi\n<!-- paliadin {} -->\nmore"));
        assert!(!has_trailer(""));
        assert_eq!(collapse("  ls   -la\n\t/tmp \u{a0}"), "ls -la /tmp");
        assert_eq!(first_chars("héllo", 2), "hé");
        assert_eq!(first_chars("hé", 5), "hé");
    }
}
