//! Static files of the web app, embedded in the binary from `api/assets/`.
//!
//! Pages link them as `/assets/<name>?v=<version>`, where the version is a hash of all assets
//! computed at compile time: a request carrying the current version may be cached for a year
//! (`immutable`); any other request must revalidate (`no-cache` + `ETag`).

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        asset!($name, $name, $ct)
    };
    // Served as `name`, read from `path` under `api/assets/` (the vendored files).
    ($name:literal, $path:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../../assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("paliadin.css", "text/css; charset=utf-8"),
    asset!("theme.js", JS),
    asset!("chat.js", JS),
    asset!("stream.js", JS),
    asset!("view.js", JS),
    asset!("notify.js", JS),
    asset!("conversations.js", JS),
    asset!("usage.js", JS),
    asset!("worklog.js", JS),
    asset!("uploads.js", JS),
    asset!("uploads.css", "text/css; charset=utf-8"),
    asset!("terminal.js", JS),
    asset!("terminal.css", "text/css; charset=utf-8"),
    // xterm.js, pinned and fetched from the npm registry by deploy/fetch-xterm.sh.
    asset!("xterm.mjs", "vendor/xterm/xterm.mjs", JS),
    asset!(
        "xterm.css",
        "vendor/xterm/xterm.css",
        "text/css; charset=utf-8"
    ),
    asset!("sw.js", JS),
    asset!("manifest.webmanifest", "application/manifest+json"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// FNV-1a over every asset, so any change to any file gives every URL a new version.
const fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

const VERSION_HASH: u64 = {
    let mut h = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < ASSETS.len() {
        h = fnv(h, ASSETS[i].name.as_bytes());
        h = fnv(h, ASSETS[i].body);
        i += 1;
    }
    h
};

/// The current asset version, as used in `?v=`.
pub fn version() -> String {
    format!("{VERSION_HASH:016x}")
}

/// Fills the `__V__` placeholders of a page template with the asset version.
pub fn versioned(template: &str) -> String {
    template.replace("__V__", &version())
}

#[derive(Debug, Deserialize)]
pub struct AssetQuery {
    v: Option<String>,
}

/// `GET /assets/{name}`: public (the files hold no data), unknown names are the plain 404.
pub async fn asset(
    Path(name): Path<String>,
    Query(q): Query<AssetQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return crate::error::not_found();
    };
    let etag = format!("\"{}-{}\"", version(), a.name);
    let fresh = q.v.as_deref() == Some(version().as_str());
    let cache = if fresh {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    revalidated(&headers, &etag, a.body, a.content_type, cache)
}

/// A static file's response: `304` when the request's `If-None-Match` names `etag`, else the
/// body; with its type, cache policy, `ETag` and the security headers. The pages' other static
/// files (`web/pwa.rs`) answer the same way.
pub(super) fn revalidated(
    headers: &HeaderMap,
    etag: &str,
    body: &'static [u8],
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    super::security_headers(h);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_type_and_a_body() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            assert!(a.content_type.contains('/'));
            if a.name.ends_with(".js") {
                assert_eq!(a.content_type, JS, "{}", a.name);
            }
        }
        assert_eq!(version().len(), 16);
    }
}
