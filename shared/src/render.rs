//! Markdown → safe HTML for finished replies: pulldown-cmark renders (tables, strikethrough,
//! task lists), ammonia sanitises (no script, no event handlers, only http/https/mailto links,
//! `rel="noopener noreferrer nofollow"`). Raw HTML in the Markdown is passed to ammonia, which
//! keeps only its allow-list.

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
        .clean(&raw)
        .to_string()
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
}
