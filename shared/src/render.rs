//! Markdown → safe HTML for finished replies: pulldown-cmark renders (tables, strikethrough,
//! task lists), ammonia sanitises (no script, no event handlers, only http/https/mailto links,
//! `rel="noopener noreferrer nofollow"`). Raw HTML in the Markdown is passed to ammonia, which
//! keeps only its allow-list. The one attribute beyond ammonia's defaults, `class` on `<code>`,
//! keeps only highlight classes (`language-*`): a reply cannot borrow the app's own classes to
//! draw overlays or fake controls.

use pulldown_cmark::{Options, Parser, html};

/// Renders a reply's Markdown to sanitised HTML.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    ammonia::Builder::default()
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
        .to_string()
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
