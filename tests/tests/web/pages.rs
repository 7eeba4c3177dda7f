//! Pins how the web app's files are served: pages with a strict CSP (no inline code, nothing
//! from other origins), `no-store` and anti-framing headers; embedded assets with their content
//! types, a year of caching only under the current `?v=` version, ETag revalidation, and the
//! plain 404 for unknown names. The chat page links only versioned, same-origin assets.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::user;
use paliadin_e2e::system::start_api;
use paliadin_e2e::web::{Auth, Web};
use paliadin_shared::db::users::Role;

#[tokio::test]
async fn pages_and_assets_carry_the_right_headers() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let web = Web::new(&api.base);
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let page = web.get("/paliadin", &Auth::Bearer(token)).await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    for d in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(d), "{d} missing from {csp}");
    }
    assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = page.text();
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "no inline code"
    );
    assert!(!html.contains("__V__"), "versions filled in");
    // The help names what Claude Code's input handling rewrites (docs/claude-code.md).
    for rewrite in [
        "a tab becomes four",
        "line endings",
        "(NFC)",
        "at the very end",
    ] {
        assert!(html.contains(rewrite), "the chat help lacks {rewrite:?}");
    }

    // Every linked asset is local and versioned, and served with its type.
    let links: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert!(links.len() >= 4, "{links:?}");
    for link in &links {
        let (path, v) = link.split_once("?v=").expect("versioned link");
        let r = web.get(link, &Auth::None).await;
        assert_eq!(r.status, 200, "{link}");
        let ct = r.header("content-type").unwrap();
        let want = match path.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        assert_eq!(ct, want, "{link}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        // Without (or with an old) version: revalidate, and the ETag gives a 304.
        let bare = web.get(path, &Auth::None).await;
        assert_eq!(bare.header("cache-control"), Some("no-cache"));
        assert_eq!(bare.body, r.body);
        let etag = bare.header("etag").unwrap().to_owned();
        assert!(etag.contains(v), "{etag}");
        let again = web
            .http()
            .get(format!("{}{path}", api.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{link}");
    }
    // The chat script is a module: chat.js imports its siblings, which must be served too.
    for name in [
        "view.js",
        "stream.js",
        "theme.js",
        "paliadin.css",
        "favicon.svg",
    ] {
        let r = web.get(&format!("/assets/{name}"), &Auth::None).await;
        assert_eq!(r.status, 200, "{name}");
    }
    let unrouted = web.get("/no/such/route", &Auth::None).await;
    for bad in ["/assets/nope.js", "/assets/..%2fCargo.toml", "/assets/"] {
        let r = web.get(bad, &Auth::None).await;
        assert_eq!((r.status, &r.body), (404, &unrouted.body), "{bad}");
    }
}
