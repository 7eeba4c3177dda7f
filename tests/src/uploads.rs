//! Files for the upload suites (`pipeline::uploads`, `agent_demo::uploads`, `ssh::uploads`,
//! `agent_claude::uploads`, `web::uploads`): a real PNG, and `POST /api/paliadin/uploads` as a
//! page sends it.

use crate::http::Client;
use serde_json::Value;

/// The smallest valid PNG (1×1, transparent).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// Percent-encodes every byte but unreserved ASCII (a query value).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `POST /api/paliadin/uploads?name=<name>` with `data` (claimed type `claimed`): the status and
/// the JSON answer.
pub async fn upload(c: &Client, name: Option<&str>, claimed: &str, data: &[u8]) -> (u16, Value) {
    let path = match name {
        Some(n) => format!("/api/paliadin/uploads?name={}", urlencode(n)),
        None => "/api/paliadin/uploads".into(),
    };
    c.post_raw(&path, claimed, data.to_vec()).await
}

/// Uploads `data` as `name` and returns its id, asserting 201.
pub async fn uploaded(c: &Client, name: &str, data: &[u8]) -> String {
    let (s, v) = upload(c, Some(name), "application/octet-stream", data).await;
    assert_eq!(s, 201, "{v}");
    v["upload_id"].as_str().expect("upload_id").to_owned()
}
