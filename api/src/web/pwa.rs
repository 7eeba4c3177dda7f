//! What makes the chat page an installable app that can be notified: the service worker
//! (`GET /sw.js`, registered with scope `/paliadin`; at the root so no `Service-Worker-Allowed`
//! header is needed) and the web app manifest (`GET /manifest.webmanifest`, icon
//! `favicon.svg`). Both are public like the assets (they hold no data) and revalidated on every
//! use (`no-cache` + `ETag`): a service worker must never be pinned by a cache.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

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
    let mut resp = super::assets::revalidated(headers, &etag, body, content_type, "no-cache");
    // The worker runs under this policy: it loads nothing and fetches nothing.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; object-src 'none'; base-uri 'none'"),
    );
    resp
}
