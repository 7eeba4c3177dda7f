//! Files and images an owner hands the agent (docs/web.md, "Files and images"):
//! `POST /api/paliadin/uploads?name=<file name>` with the file's bytes as the body stores a
//! pending upload and answers its id; `POST /api/paliadin/turn` binds ids to the turn it
//! enqueues (`upload_ids`); `GET /api/paliadin/uploads/{id}` serves the bytes back to their
//! owner (thumbnails, downloads), 404 to anyone else.
//!
//! Nothing the client says about the file is trusted but its name, which is checked and made
//! safe ([`UploadName`]): the content type is read from the bytes ([`sniff`]). Served back,
//! only raster images are inline; everything else (SVG and HTML above all) is an attachment of
//! type `application/octet-stream`, with `nosniff` and a sandboxing CSP.

use crate::auth::Owner;
use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paliadin_shared::db::uploads::{self, Inserted, UploadMeta};
use paliadin_shared::domain::upload::{UploadName, is_inline_image};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (at most 255 bytes; no `/`, `\` or control characters). Other unsafe
    /// characters become `_`.
    pub name: Option<String>,
}

/// A stored upload.
#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct UploadResponse {
    /// Name it in `upload_ids` of `POST /api/paliadin/turn`.
    pub upload_id: Uuid,
    /// The name as stored (made safe).
    pub name: String,
    /// Read from the bytes: `image/png`, `image/jpeg`, `image/gif`, `image/webp`,
    /// `application/pdf`, `text/plain; charset=utf-8`, `application/octet-stream`, ….
    pub content_type: String,
    pub size: i64,
}

impl UploadResponse {
    pub fn of(m: UploadMeta) -> UploadResponse {
        UploadResponse {
            upload_id: m.id,
            name: m.name,
            content_type: m.content_type,
            size: i64::from(m.size),
        }
    }
}

/// The uploads of `user`'s `turns`, by turn, in order (the history).
pub async fn of_turns(
    pool: &sqlx::PgPool,
    user: Uuid,
    turns: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<UploadResponse>>, AppError> {
    let mut by_turn: std::collections::HashMap<Uuid, Vec<UploadResponse>> = Default::default();
    for (turn, meta) in uploads::meta_of_turns(pool, user, turns).await? {
        by_turn
            .entry(turn)
            .or_default()
            .push(UploadResponse::of(meta));
    }
    Ok(by_turn)
}

/// The content type of `data`, from its bytes only: a known file signature, else UTF-8 text
/// without NUL bytes, else `application/octet-stream`.
pub fn sniff(data: &[u8]) -> String {
    if let Some(kind) = infer::get(data) {
        return kind.mime_type().to_owned();
    }
    match std::str::from_utf8(data) {
        Ok(text) if !text.contains('\0') => "text/plain; charset=utf-8".into(),
        _ => "application/octet-stream".into(),
    }
}

/// The `upload_ids` of a turn request: UUIDs, no repeats, at most `max`.
pub fn parse_ids(raw: Option<&[String]>, max: usize) -> Result<Vec<Uuid>, AppError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > max {
        return Err(AppError::BadRequest(
            "too_many_uploads",
            format!("a message may carry at most {max} uploads (PALIADIN_UPLOAD_MAX_PER_TURN)"),
        ));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for s in raw {
        let id = Uuid::parse_str(s).map_err(|_| {
            AppError::BadRequest("invalid_upload_ids", "upload_ids must be upload ids".into())
        })?;
        if ids.contains(&id) {
            return Err(AppError::BadRequest(
                "invalid_upload_ids",
                "upload_ids names an upload twice".into(),
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

#[utoipa::path(post, path = "/api/paliadin/uploads", tag = "owner", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "Stored, pending until a turn names it in `upload_ids`", body = UploadResponse),
        (status = 400, description = "No or a bad name (`invalid_name`), or an empty file (`empty_file`)", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
        (status = 413, description = "Larger than `PALIADIN_UPLOAD_MAX_BYTES`", body = crate::openapi::ErrorBody),
        (status = 429, description = "`PALIADIN_UPLOAD_MAX_PENDING` uploads wait for a turn already (`too_many_uploads`)", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn upload(
    State(st): State<AppState>,
    Owner(user): Owner,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let raw = q.name.unwrap_or_default();
    let name =
        UploadName::parse(&raw).map_err(|e| AppError::BadRequest("invalid_name", e.to_string()))?;
    let max = st.config.upload_max_bytes as usize;
    let too_large = || {
        AppError::TooLarge(format!(
            "a file may have at most {max} bytes (PALIADIN_UPLOAD_MAX_BYTES)"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let data = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())?;
    if data.is_empty() {
        return Err(AppError::BadRequest(
            "empty_file",
            "the file is empty".into(),
        ));
    }
    let content_type = sniff(&data);
    let max_pending = st.config.upload_max_pending as i64;
    match uploads::insert(
        &st.pool,
        user.id,
        name.as_str(),
        &content_type,
        &data,
        max_pending,
    )
    .await?
    {
        Inserted::Stored(meta) => {
            tracing::info!(user = %user.id, upload = %meta.id, bytes = meta.size, content_type = %meta.content_type, "upload stored");
            Ok((StatusCode::CREATED, Json(UploadResponse::of(meta))).into_response())
        }
        Inserted::TooManyPending => Err(AppError::TooManyUploads(format!(
            "{max_pending} uploads already wait for a message (PALIADIN_UPLOAD_MAX_PENDING): \
             send them with a message first"
        ))),
    }
}

#[utoipa::path(get, path = "/api/paliadin/uploads/{id}", tag = "owner",
    params(("id" = Uuid, Path, description = "The upload id")),
    responses(
        (status = 200, description = "The bytes: a raster image inline with its type, anything else as an `application/octet-stream` attachment"),
        (status = 404, description = "Unknown, or not the caller's", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn fetch(
    State(st): State<AppState>,
    Owner(user): Owner,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = Uuid::parse_str(&raw).map_err(|_| AppError::NotFound)?;
    let file = uploads::owned(&st.pool, user.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let inline = is_inline_image(&file.content_type);
    let content_type = if inline {
        file.content_type.as_str()
    } else {
        "application/octet-stream"
    };
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        percent_encode(&file.name)
    );
    let mut resp = Response::new(Body::from(file.data));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // An upload never changes: its owner's browser may keep it (nothing shared caches it).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    Ok(resp)
}

/// RFC 5987 `filename*` value: every byte but unreserved ASCII percent-encoded.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png), "image/png");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(sniff(b"hello\n"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"<svg onload=alert(1)>"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\0\x01\x02"), "application/octet-stream");
    }

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(percent_encode("a b\".png"), "a%20b%22.png");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
