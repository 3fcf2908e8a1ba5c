//! The caller's own session: create, read, replace or merge its data, revoke it, rotate
//! its token. Everything but create is addressed by the `X-Session-Token` header.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::ETAG;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sessiondb_engine::{NewSession, SessionData, Updated, UserId};
use utoipa::{IntoParams, ToSchema};

use super::{ids, Metadata};
use crate::auth::{Authorized, Read, Write};
use crate::error::ApiError;
use crate::extract::{etag, ApiJson, ApiJsonData, ApiQuery, IfMatch, SessionTokenHeader};
use crate::openapi::{params as p, responses as r, schemas};
use crate::state::AppState;
use crate::timestamp::Timestamp;

/// Body of `POST /v1/sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSessionRequest {
    /// Owner of the session: 1–256 bytes of UTF-8, no control characters.
    #[schema(value_type = schemas::UserId)]
    user_id: String,
    /// Initial data: a JSON object (serialized size limited, default 16 KiB).
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"role": "member"}))]
    // `ApiJsonData` moves an object `data` out of the body before this struct is read;
    // this field sees `data` only when it is not an object (and rejects it).
    data: SessionData,
    /// Client information.
    #[serde(default)]
    metadata: Metadata,
    /// Idle timeout for this session in seconds, inside the configured window (`minimum`
    /// and `maximum` here are this server's); default: the configured idle timeout.
    #[schema(example = 1800)]
    idle_ttl_seconds: Option<u64>,
}

/// A new session and its credentials (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedSessionResponse {
    /// Public session id (not a credential).
    #[schema(value_type = schemas::SessionId)]
    session_id: String,
    /// The owner.
    #[schema(value_type = schemas::UserId)]
    user_id: String,
    /// Bearer credential for the session; send it as `X-Session-Token`.
    #[schema(value_type = schemas::SessionToken)]
    session_token: String,
    /// Exchanges for a new session at `POST /v1/sessions/refresh`.
    #[schema(value_type = schemas::RefreshToken)]
    refresh_token: String,
    /// Creation time.
    created_at: Timestamp,
    /// Equal to `created_at`.
    last_seen_at: Timestamp,
    /// Idle expiry.
    expires_at: Timestamp,
    /// Absolute expiry.
    absolute_expires_at: Timestamp,
    /// When the refresh-token family ends.
    refresh_expires_at: Timestamp,
    /// Always 1 for a new session.
    version: u64,
    /// Sessions of the same user revoked to stay under the per-user cap.
    #[schema(value_type = Vec<schemas::SessionId>)]
    evicted_session_ids: Vec<String>,
}

/// Create a session.
///
/// Enforces the per-user cap atomically: with policy `evict_lru` the least recently used
/// session is revoked and named in `evicted_session_ids`; with `reject` the create fails
/// with `session_limit_reached`.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    request_body = CreateSessionRequest,
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 201, description = "Session created", body = CreatedSessionResponse,
            headers(("ETag" = String, description = "The version, `\"1\"`"))),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 409, response = r::SessionLimitReached),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn create_session(
    _: Authorized<Write>,
    State(app): State<AppState>,
    ApiJsonData { body, data }: ApiJsonData<CreateSessionRequest>,
) -> Result<Response, ApiError> {
    let user_id = UserId::parse(body.user_id)?;
    let created = app
        .engine
        .create(NewSession {
            user_id: user_id.clone(),
            data: data.unwrap_or(body.data),
            metadata: body.metadata.into(),
            idle_ttl: body.idle_ttl_seconds.map(Duration::from_secs),
        })
        .await?;
    let times = created.times;
    let response = CreatedSessionResponse {
        session_id: created.session_id.to_string(),
        user_id: user_id.to_string(),
        session_token: created.session_token.expose_secret().to_owned(),
        refresh_token: created.refresh_token.expose_secret().to_owned(),
        created_at: times.created_at.into(),
        last_seen_at: times.last_seen_at.into(),
        expires_at: times.expires_at.into(),
        absolute_expires_at: times.absolute_expires_at.into(),
        refresh_expires_at: created.refresh_expires_at.into(),
        version: times.version,
        evicted_session_ids: ids(created.evicted),
    };
    Ok((
        StatusCode::CREATED,
        [(ETAG, etag(times.version))],
        Json(response),
    )
        .into_response())
}

/// Query of `GET /v1/sessions/current`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    /// Extend the idle expiry (at most once per touch interval). `false` never writes.
    /// Default `true`.
    touch: Option<bool>,
}

/// A session as its holder reads it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    /// Public session id.
    #[schema(value_type = schemas::SessionId)]
    session_id: String,
    /// The owner.
    #[schema(value_type = schemas::UserId)]
    user_id: String,
    /// The application's data.
    #[schema(value_type = Object, example = json!({"role": "member"}))]
    data: Box<serde_json::value::RawValue>,
    /// Client information.
    metadata: Metadata,
    /// Creation time.
    created_at: Timestamp,
    /// Last use (updated at most once per touch interval).
    last_seen_at: Timestamp,
    /// Idle expiry.
    expires_at: Timestamp,
    /// Absolute expiry.
    absolute_expires_at: Timestamp,
    /// Data version (also the `ETag`).
    version: u64,
}

/// Read the session.
#[utoipa::path(
    get,
    path = "/v1/sessions/current",
    tag = "sessions",
    params(
        p::SessionToken,
        ReadQuery,
    ),
    security(("api_key" = ["sessions:read"])),
    responses(
        (status = 200, description = "The session", body = SessionView,
            headers(("ETag" = String, description = "The data version, e.g. `\"3\"`"))),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn get_session(
    _: Authorized<Read>,
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Response, ApiError> {
    // The data goes out as the stored JSON text, never parsed here.
    let session = app
        .engine
        .get_raw(&token, query.touch.unwrap_or(true))
        .await?;
    let t = session.times;
    let view = SessionView {
        session_id: session.id.to_string(),
        user_id: session.user_id.to_string(),
        data: session.data,
        metadata: session.metadata.into(),
        created_at: t.created_at.into(),
        last_seen_at: t.last_seen_at.into(),
        expires_at: t.expires_at.into(),
        absolute_expires_at: t.absolute_expires_at.into(),
        version: t.version,
    };
    Ok(([(ETAG, etag(t.version))], Json(view)).into_response())
}

/// Body of `PUT /v1/sessions/current`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplaceDataRequest {
    /// The new data, replacing the old entirely.
    #[schema(value_type = Object, example = json!({"role": "admin"}))]
    data: SessionData,
}

/// The session after a data update.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UpdatedView {
    /// Public session id.
    #[schema(value_type = schemas::SessionId)]
    session_id: String,
    /// The new data version (also the `ETag`).
    version: u64,
    /// Last use: the update itself.
    last_seen_at: Timestamp,
    /// Idle expiry after the update.
    expires_at: Timestamp,
    /// Absolute expiry (unchanged).
    absolute_expires_at: Timestamp,
}

fn updated(session_id: String, u: &Updated) -> Response {
    let view = UpdatedView {
        session_id,
        version: u.version,
        last_seen_at: u.last_seen_at.into(),
        expires_at: u.expires_at.into(),
        absolute_expires_at: u.absolute_expires_at.into(),
    };
    ([(ETAG, etag(u.version))], Json(view)).into_response()
}

/// Replace the session's data.
///
/// With `If-Match: "<version>"` the update applies only to that version; otherwise it
/// fails with 412 `version_conflict` and changes nothing.
#[utoipa::path(
    put,
    path = "/v1/sessions/current",
    tag = "sessions",
    params(
        p::SessionToken,
        p::IfMatch,
    ),
    request_body = ReplaceDataRequest,
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 200, description = "Data replaced", body = UpdatedView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 412, response = r::VersionConflict),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn replace_session_data(
    _: Authorized<Write>,
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<ReplaceDataRequest>,
) -> Result<Response, ApiError> {
    let u = app
        .engine
        .replace_data(&token, &body.data, expected)
        .await?;
    Ok(updated(token.id().to_string(), &u))
}

/// Merge a JSON merge patch (RFC 7396) into the session's data.
///
/// The body is the patch itself (`application/merge-patch+json` or `application/json`):
/// members set to `null` are removed, objects merge recursively. Honours `If-Match` like
/// `PUT`; without it concurrent merges are retried so none is lost.
#[utoipa::path(
    patch,
    path = "/v1/sessions/current",
    tag = "sessions",
    params(
        p::SessionToken,
        p::IfMatch,
    ),
    request_body(
        content = Object,
        content_type = "application/merge-patch+json",
        description = "A JSON merge patch for `data`",
        example = json!({"theme": "dark", "cart": null})
    ),
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 200, description = "Patch applied", body = UpdatedView,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 412, response = r::VersionConflict),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn merge_session_data(
    _: Authorized<Write>,
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
    IfMatch(expected): IfMatch,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Response, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::Invalid {
            field: None,
            detail: "the merge patch must be a JSON object".to_owned(),
        });
    }
    let u = app.engine.merge_data(&token, &patch, expected).await?;
    Ok(updated(token.id().to_string(), &u))
}

/// Revoke the session and its refresh-token family.
#[utoipa::path(
    delete,
    path = "/v1/sessions/current",
    tag = "sessions",
    params(p::SessionToken),
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn revoke_session(
    _: Authorized<Write>,
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
) -> Result<StatusCode, ApiError> {
    app.engine.revoke(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The session's new token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RotatedView {
    /// The new session token; the old one stopped working.
    #[schema(value_type = schemas::SessionToken)]
    session_token: String,
    /// The new refresh token; every earlier refresh token of this login is retired
    /// (presenting one is treated as reuse).
    #[schema(value_type = schemas::RefreshToken)]
    refresh_token: String,
    /// Idle expiry.
    expires_at: Timestamp,
    /// Absolute expiry.
    absolute_expires_at: Timestamp,
    /// When the refresh family ends (unchanged by a rotation).
    refresh_expires_at: Timestamp,
}

/// Rotate both tokens (session-fixation defence, e.g. after a privilege change).
///
/// The session keeps its id, data and expiry; the presented session token stops working
/// at once, and the login gets a new refresh token: no credential issued before the
/// rotation reaches the state after it.
#[utoipa::path(
    post,
    path = "/v1/sessions/current/rotate",
    tag = "sessions",
    params(p::SessionToken),
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 200, description = "New token issued", body = RotatedView),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn rotate_session_token(
    _: Authorized<Write>,
    State(app): State<AppState>,
    SessionTokenHeader(token): SessionTokenHeader,
) -> Result<Json<RotatedView>, ApiError> {
    let rotated = app.engine.rotate(&token).await?;
    Ok(Json(RotatedView {
        session_token: rotated.session_token.expose_secret().to_owned(),
        refresh_token: rotated.refresh_token.expose_secret().to_owned(),
        expires_at: rotated.expires_at.into(),
        absolute_expires_at: rotated.absolute_expires_at.into(),
        refresh_expires_at: rotated.refresh_expires_at.into(),
    }))
}
