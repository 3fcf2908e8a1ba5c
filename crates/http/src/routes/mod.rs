//! The public API's routes (`/v1/…`), one file per resource, and the values they share.
//!
//! - `sessions.rs`: the caller's own session, addressed by `X-Session-Token`
//!   (`/v1/sessions`, `/v1/sessions/current`, `…/rotate`).
//! - `refresh.rs`: refresh-token rotation (`/v1/sessions/refresh`) and sign-out by refresh
//!   token (`/v1/refresh-tokens/revoke`).
//! - `users.rs`: per-user administration (`/v1/users/{user_id}/sessions…`).
//! - `deletion.rs`: deletion tokens (`/v1/users/{user_id}/deletion-tokens`,
//!   `/v1/deletion-tokens/redeem`).

pub(crate) mod deletion;
pub(crate) mod refresh;
pub(crate) mod sessions;
pub(crate) mod users;

use std::net::IpAddr;

use axum::extract::State;
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use sessiondb_engine::{InvalidInput, SessionId, SessionMetadata, SessionSummary, SessionTimes};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::openapi::schemas;
use crate::state::AppState;
use crate::timestamp::Timestamp;

/// Every route template of the API, as the router matches them.
const TEMPLATES: [&str; 10] = [
    "/v1/sessions",
    "/v1/sessions/current",
    "/v1/sessions/current/rotate",
    "/v1/sessions/refresh",
    "/v1/refresh-tokens/revoke",
    "/v1/users/{user_id}/sessions",
    "/v1/users/{user_id}/sessions/{session_id}",
    "/v1/users/{user_id}/deletion-tokens",
    "/v1/deletion-tokens/redeem",
    "/v1/openapi.json",
];

/// The `'static` copy of a matched route template (metric labels hold no allocation);
/// `unmatched` for anything else.
pub(crate) fn template(matched: &str) -> &'static str {
    TEMPLATES
        .iter()
        .find(|t| **t == matched)
        .copied()
        .unwrap_or(crate::context::UNMATCHED)
}

/// Every API route, with its state; layers are added by the server.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/sessions", post(sessions::create_session))
        .route(
            "/v1/sessions/current",
            get(sessions::get_session)
                .put(sessions::replace_session_data)
                .patch(sessions::merge_session_data)
                .delete(sessions::revoke_session),
        )
        .route(
            "/v1/sessions/current/rotate",
            post(sessions::rotate_session_token),
        )
        .route("/v1/sessions/refresh", post(refresh::refresh_session))
        .route(
            "/v1/refresh-tokens/revoke",
            post(refresh::revoke_refresh_token),
        )
        .route(
            "/v1/users/{user_id}/sessions",
            get(users::list_user_sessions).delete(users::revoke_user_sessions),
        )
        .route(
            "/v1/users/{user_id}/sessions/{session_id}",
            delete(users::revoke_user_session),
        )
        .route(
            "/v1/users/{user_id}/deletion-tokens",
            post(deletion::issue_deletion_token),
        )
        .route(
            "/v1/deletion-tokens/redeem",
            post(deletion::redeem_deletion_token),
        )
        .route("/v1/openapi.json", get(get_openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub(crate) async fn get_openapi(State(app): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        app.openapi.clone(),
    )
        .into_response()
}

/// Unknown path: 404 problem.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// Known path, unsupported method: 405 problem (axum adds `Allow`).
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Client information recorded with a session; every field optional and bounded.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metadata {
    /// The end user's IP address as the calling service saw it (IPv4 or IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schemas::IpAddress>)]
    pub(crate) ip: Option<IpAddr>,
    /// The end user's User-Agent: at most 512 bytes of UTF-8 (`maxLength` counts
    /// characters, so it is the bound for ASCII text only), no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 512,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Mozilla/5.0 (X11; Linux x86_64)"
    )]
    pub(crate) user_agent: Option<String>,
    /// A free-form device label: at most 128 bytes of UTF-8 (`maxLength` counts
    /// characters, so it is the bound for ASCII text only), no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Work laptop"
    )]
    pub(crate) device: Option<String>,
}

impl From<Metadata> for SessionMetadata {
    fn from(m: Metadata) -> Self {
        SessionMetadata {
            ip: m.ip,
            user_agent: m.user_agent,
            device: m.device,
        }
    }
}

impl From<SessionMetadata> for Metadata {
    fn from(m: SessionMetadata) -> Self {
        Metadata {
            ip: m.ip,
            user_agent: m.user_agent,
            device: m.device,
        }
    }
}

/// A session as listed for its user: metadata and timestamps, never tokens or data.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionSummaryView {
    /// Public session id (not a credential).
    #[schema(value_type = schemas::SessionId)]
    pub(crate) session_id: String,
    /// Client information.
    pub(crate) metadata: Metadata,
    /// When the session was created.
    pub(crate) created_at: Timestamp,
    /// When the session was last used (updated at most once per touch interval).
    pub(crate) last_seen_at: Timestamp,
    /// Idle expiry: the session ends here unless used again.
    pub(crate) expires_at: Timestamp,
    /// Absolute expiry: nothing extends the session past this.
    pub(crate) absolute_expires_at: Timestamp,
    /// Data version; incremented by every update.
    pub(crate) version: u64,
}

impl From<SessionSummary> for SessionSummaryView {
    fn from(s: SessionSummary) -> Self {
        let SessionTimes {
            created_at,
            last_seen_at,
            expires_at,
            absolute_expires_at,
            version,
        } = s.times;
        Self {
            session_id: s.id.to_string(),
            metadata: s.metadata.into(),
            created_at: created_at.into(),
            last_seen_at: last_seen_at.into(),
            expires_at: expires_at.into(),
            absolute_expires_at: absolute_expires_at.into(),
            version,
        }
    }
}

/// Ids and tokens are ASCII by format. A value with other characters is refused here
/// with the engine's own message (`<field> is not a valid id`), before the engine's
/// parsers, which slice their input at fixed byte offsets.
pub(crate) fn ascii<'a>(
    field: &'static str,
    what: &'static str,
    value: &'a str,
) -> Result<&'a str, ApiError> {
    if value.is_ascii() {
        Ok(value)
    } else {
        Err(InvalidInput::new(field, format!("is not a valid {what}")).into())
    }
}

/// Session ids as strings.
pub(crate) fn ids(ids: Vec<SessionId>) -> Vec<String> {
    ids.into_iter().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_route_has_its_metric_label() {
        let doc: serde_json::Value =
            serde_json::from_str(&crate::openapi::openapi_json()).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), TEMPLATES.len());
        for path in paths.keys() {
            assert_eq!(template(path), path, "no label for {path}");
        }
        assert_eq!(template("/v1/nope"), crate::context::UNMATCHED);
    }
}
