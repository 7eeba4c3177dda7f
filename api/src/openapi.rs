//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' `#[utoipa::path]`
//! attributes and the types' `ToSchema` derives, served at `GET /api/openapi.json`.
//!
//! Like every other route, the document "does not exist" for anonymous callers (404); any
//! signed-in user may read it. `tests/tests/admin/openapi.rs` keeps it in sync with the router:
//! every JSON route in `api/src` must appear here with its method.

use crate::auth::AuthUser;
use crate::{admin, routes};
use axum::Json;
use paliadin_shared::db::stats;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The ⚑ error body every non-2xx JSON response carries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code, e.g. `not_found`, `invalid_limit`, `too_many_queued`.
    pub error: String,
    /// Human-readable text (never internals).
    pub message: String,
}

/// `{"ok": true}` and similar small acknowledgements.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ok {
    pub ok: bool,
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `paliadin-api user add`."))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The browser session set by `POST /login`.",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Paliadin API",
        description = "Chat with an agent through durable, queued turns streamed over SSE. \
            Callers who are anonymous, disabled or of another role get 404 on every route \
            that is not theirs, never 403.",
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::enqueue::post_turn,
        routes::turns::history,
        routes::conversations::list,
        routes::conversations::forget,
        routes::turns::cancel,
        routes::permission::decide,
        routes::turns::reset,
        routes::stream::stream,
        routes::terminal::terminal,
        routes::uploads::upload,
        routes::uploads::fetch,
        routes::push::key,
        routes::push::subscribe,
        routes::push::unsubscribe,
        admin::stats::stats,
        admin::turns::list,
        admin::turns::detail,
        openapi_json,
    ),
    components(schemas(
        ErrorBody,
        Ok,
        stats::Stats,
        routes::permission::DecisionBody,
        routes::permission::DecisionRecorded,
        routes::conversations::ConversationPage,
        routes::conversations::Conversation,
        routes::conversations::ConversationState,
        routes::conversations::AgentWindow,
        routes::turns::TurnWindow,
        routes::push::PushKey,
        routes::uploads::UploadResponse,
        routes::push::SubscriptionSaved,
        crate::push::subscription::SubscriptionBody,
        crate::push::subscription::SubscriptionKeys,
    )),
    modifiers(&Security),
    tags(
        (name = "owner", description = "The chat: enqueue turns, stream them, history"),
        (name = "admin", description = "Queue-backed stats and turns of all users"),
        (name = "ops", description = "Probes and this document"),
    )
)]
pub struct ApiDoc;

/// The document, built once per call (cheap; it is a few kilobytes).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "ops",
    responses(
        (status = 200, description = "This document", content_type = "application/json"),
        (status = 404, description = "Anonymous caller", body = ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn openapi_json(AuthUser(_): AuthUser) -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
