//! Refresh-token rotation: exchange the family's current refresh token for a new session
//! and the next refresh token. Rate limited per refresh family.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sessiondb_engine::RefreshToken;
use utoipa::ToSchema;

use super::ascii;
use crate::auth::{Authorized, Write};
use crate::error::ApiError;
use crate::extract::{record_token, token_log_prefix, ApiJson};
use crate::openapi::{responses as r, schemas};
use crate::state::AppState;
use crate::timestamp::Timestamp;

/// Body of `POST /v1/sessions/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The family's current refresh token (`sdb_r1_…`).
    #[schema(value_type = schemas::RefreshToken)]
    refresh_token: String,
}

/// The replacement session and the family's next refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RefreshedView {
    /// The session id (a device login keeps its id across refreshes).
    #[schema(value_type = schemas::SessionId)]
    session_id: String,
    /// The login's next session token; the previous one stopped working.
    #[schema(value_type = schemas::SessionToken)]
    session_token: String,
    /// The family's next refresh token; the presented one is now superseded.
    #[schema(value_type = schemas::RefreshToken)]
    refresh_token: String,
    /// Idle expiry of the new session.
    expires_at: Timestamp,
    /// Absolute expiry of the new session (never past the family's end).
    absolute_expires_at: Timestamp,
    /// When the refresh family ends.
    refresh_expires_at: Timestamp,
    /// True when this repeats the answer to an earlier refresh with the same token
    /// inside the grace window (a retry or a concurrent tab): same tokens, no fork.
    replayed: bool,
}

/// Refresh: rotate the refresh token and replace the session.
///
/// Presenting a superseded refresh token (outside the grace window) is treated as theft:
/// the whole family and its session are revoked and every later attempt answers
/// `reuse_detected`.
#[utoipa::path(
    post,
    path = "/v1/sessions/refresh",
    tag = "sessions",
    request_body = RefreshRequest,
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 200, description = "Rotated", body = RefreshedView),
        (status = 400, response = r::RefreshRejected),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 429, response = r::RateLimited),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn refresh_session(
    _: Authorized<Write>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<RefreshedView>, ApiError> {
    record_token(&tracing::Span::current(), || {
        token_log_prefix(&body.refresh_token)
    });
    let token = RefreshToken::parse(ascii("refresh_token", "token", &body.refresh_token)?)?;
    app.limits.refresh(token.id().as_str(), &app.metrics)?;
    let r = app.engine.refresh(&token).await?;
    Ok(Json(RefreshedView {
        session_id: r.session_id.to_string(),
        session_token: r.session_token.expose_secret().to_owned(),
        refresh_token: r.refresh_token.expose_secret().to_owned(),
        expires_at: r.expires_at.into(),
        absolute_expires_at: r.absolute_expires_at.into(),
        refresh_expires_at: r.refresh_expires_at.into(),
        replayed: r.replayed,
    }))
}

/// Body of `POST /v1/refresh-tokens/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeRefreshRequest {
    /// A refresh token of the login (`sdb_r1_…`): its current one, or one it has since
    /// rotated away from.
    #[schema(value_type = schemas::RefreshToken)]
    refresh_token: String,
}

/// Sign out with a refresh token alone: ends the device login it belongs to (the
/// session and its refresh family).
///
/// For clients that hold only the refresh token. Any refresh token that belonged to the
/// login reaches it while the login lives; a token that never did revokes nothing.
#[utoipa::path(
    post,
    path = "/v1/refresh-tokens/revoke",
    tag = "refresh",
    request_body = RevokeRefreshRequest,
    security(("api_key" = ["sessions:write"])),
    responses(
        (status = 204, description = "The login is revoked"),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn revoke_refresh_token(
    _: Authorized<Write>,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RevokeRefreshRequest>,
) -> Result<StatusCode, ApiError> {
    record_token(&tracing::Span::current(), || {
        token_log_prefix(&body.refresh_token)
    });
    let token = RefreshToken::parse(ascii("refresh_token", "token", &body.refresh_token)?)?;
    app.engine.revoke_by_refresh_token(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}
