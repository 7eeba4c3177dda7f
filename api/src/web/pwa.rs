//! What makes the chat page an installable app that can be notified: the service worker
//! (`GET /sw.js`, registered with scope `/paliadin`; at the root so no `Service-Worker-Allowed`
//! header is needed) and the web app manifest (`GET /manifest.webmanifest`, icon
//! `favicon.svg`). Both are public like the assets (they hold no data) and revalidated on every
//! use (`no-cache` + `ETag`): a service worker must never be pinned by a cache.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const SW: &[u8] = include_bytes!("../../assets/sw.js");
const MANIFEST: &[u8] = include_bytes!("../../assets/manifest.webmanifest");

/// `GET /sw.js`.
pub async fn service_worker(headers: HeaderMap) -> Response {
    file(&headers, SW, "text/javascript; charset=utf-8", "sw")
}

/// `GET /manifest.webmanifest`.
pub async fn manifest(headers: HeaderMap) -> Response {
    file(&headers, MANIFEST, "application/manifest+json", "manifest")
}

fn file(
    headers: &HeaderMap,
    body: &'static [u8],
    content_type: &'static str,
    name: &str,
) -> Response {
    let etag = format!("\"{}-{name}\"", super::assets::version());
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The worker runs under this policy: it loads nothing and fetches nothing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; object-src 'none'; base-uri 'none'"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    super::security_headers(h);
    resp
}
