//! Markdown → safe HTML for finished replies: pulldown-cmark renders (tables, strikethrough,
//! task lists), ammonia sanitises (no script, no event handlers, only http/https/mailto links,
//! `rel="noopener noreferrer nofollow"`). Raw HTML in the Markdown is passed to ammonia, which
//! keeps only its allow-list. The one attribute beyond ammonia's defaults, `class` on `<code>`,
//! keeps only highlight classes (`language-*`): a reply cannot borrow the app's own classes to
//! draw overlays or fake controls. Every image has an `alt`: Markdown's `![text](src)` gives
//! `alt="text"`, and an image without one (raw HTML) gets `alt=""` (WCAG 1.1.1: screen readers
//! then skip it instead of reading its address).

use pulldown_cmark::{Options, Parser, html};

/// Renders a reply's Markdown to sanitised HTML.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    let cleaned = ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("code", ["class"])
        .attribute_filter(|element, attribute, value| {
            if (element, attribute) != ("code", "class") {
                return Some(value.into());
            }
            let kept: Vec<&str> = value
                .split_whitespace()
                .filter(|c| highlight_class(c))
                .collect();
            (!kept.is_empty()).then(|| kept.join(" ").into())
        })
        .clean(&raw)
        .to_string();
    with_alt(&cleaned)
}

/// `alt=""` on every `<img>` of sanitised HTML that has none. The input is ammonia's output:
/// tags well formed, attribute values in double quotes (a `>` may occur inside one).
fn with_alt(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 16);
    let mut rest = html;
    while let Some(at) = rest.find("<img") {
        let (before, tag_on) = rest.split_at(at);
        out.push_str(before);
        // The end of the tag: the first `>` outside a quoted value.
        let mut quoted = false;
        let end = tag_on
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map_or(tag_on.len(), |(i, _)| i);
        let tag = &tag_on[..end];
        out.push_str(tag);
        if !has_attribute(tag, "alt") {
            out.push_str(" alt=\"\"");
        }
        rest = &tag_on[end..];
    }
    out.push_str(rest);
    out
}

/// Whether a start tag (without its `>`) has attribute `name` outside its quoted values.
fn has_attribute(tag: &str, name: &str) -> bool {
    let mut quoted = false;
    let bytes = tag.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted
            && b.is_ascii_whitespace()
            && tag[i + 1..].starts_with(name)
            && matches!(
                bytes.get(i + 1 + name.len()),
                Some(b'=') | Some(b' ') | None
            )
        {
            return true;
        }
    }
    false
}

/// `language-<name>`, the class pulldown-cmark puts on fenced code (`name`: 1–32 of
/// `[A-Za-z0-9_+#.-]`).
fn highlight_class(class: &str) -> bool {
    class.strip_prefix("language-").is_some_and(|name| {
        (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+#.-".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_and_neutralises_script() {
        let md = "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn x() {}\n```\n\n\
                  [ok](https://example.org) [bad](javascript:alert(1))\n\n\
                  <script>alert(1)</script><img src=x onerror=alert(1)><a href=\"javascript:alert(2)\" onclick=\"x()\">y</a>";
        let html = markdown_to_safe_html(md);
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<table>"));
        assert!(html.contains("<code class=\"language-rust\">"));
        assert!(html.contains("href=\"https://example.org\""));
        let lower = html.to_lowercase();
        for bad in ["<script", "javascript:", "onerror", "onclick"] {
            assert!(!lower.contains(bad), "{bad} survived in {html}");
        }
    }

    #[test]
    fn every_image_has_an_alternative_text() {
        let html = markdown_to_safe_html(
            "![a chart of turns](https://x.org/c.png)\n\n<img src=\"https://x.org/y.png\">\
             <img src=\"https://x.org/z.png?q=a>b\" title=\"alt is here\"> \
             <img alt=\"kept\" src=\"https://x.org/k.png\">",
        );
        assert!(html.contains("alt=\"a chart of turns\""), "{html}");
        assert!(
            html.contains("<img src=\"https://x.org/y.png\" alt=\"\">"),
            "{html}"
        );
        assert!(
            html.contains(
                "<img src=\"https://x.org/z.png?q=a&gt;b\" title=\"alt is here\" alt=\"\">"
            ),
            "{html}"
        );
        assert!(html.contains("alt=\"kept\""), "{html}");
        assert_eq!(
            html.matches("<img").count(),
            html.matches(" alt=").count(),
            "{html}"
        );
    }

    #[test]
    fn code_keeps_only_highlight_classes() {
        let html = markdown_to_safe_html(
            "<code class=\"toast chat-overlay language-js\">a</code> \
             <code class=\"composer sticky\">b</code>\n\n```c++\nint x;\n```\n",
        );
        assert!(
            html.contains("<code class=\"language-js\">a</code>"),
            "{html}"
        );
        assert!(html.contains("<code>b</code>"), "{html}");
        assert!(html.contains("<code class=\"language-c++\">"), "{html}");
        for bad in ["toast", "overlay", "composer", "sticky"] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
    }
}
