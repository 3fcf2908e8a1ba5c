//! Per-user administration: list a user's live sessions, revoke all of them (optionally
//! but one), revoke one by id. Requires `sessions:admin`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sessiondb_engine::{SessionId, UserId};
use utoipa::{IntoParams, ToSchema};

use super::{ascii, ids, SessionSummaryView};
use crate::auth::{Admin, Authorized};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::openapi::{responses as r, schemas};
use crate::state::AppState;

/// A user's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    /// Oldest idle expiry first; exact (never an expired or revoked session).
    sessions: Vec<SessionSummaryView>,
}

/// List a user's live sessions (metadata and timestamps, never tokens or data).
///
/// With `redis.read_from = replica_preferred` the list is read from a replica and may
/// lag the master by the replication delay.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/sessions",
    tag = "users",
    params(("user_id" = schemas::UserId, Path, description = "The user id (percent-encoded)")),
    security(("api_key" = ["sessions:admin"])),
    responses(
        (status = 200, description = "The user's live sessions", body = SessionList),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn list_user_sessions(
    _: Authorized<Admin>,
    State(app): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<SessionList>, ApiError> {
    let user_id = UserId::parse(user_id)?;
    let sessions = app.engine.list(&user_id).await?;
    Ok(Json(SessionList {
        sessions: sessions.into_iter().map(Into::into).collect(),
    }))
}

/// Query of `DELETE /v1/users/{user_id}/sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RevokeAllQuery {
    /// A session of the user to keep (with its refresh family), e.g. the one making the
    /// "sign out everywhere else" request.
    #[param(value_type = Option<schemas::SessionId>)]
    except: Option<String>,
}

/// What a revoke-all revoked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevokedView {
    /// Live sessions revoked.
    #[schema(value_type = Vec<schemas::SessionId>)]
    revoked_session_ids: Vec<String>,
    /// Refresh-token families revoked.
    revoked_families: u64,
}

/// Revoke all of a user's sessions and refresh families, optionally except one.
#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}/sessions",
    tag = "users",
    params(
        ("user_id" = schemas::UserId, Path, description = "The user id (percent-encoded)"),
        RevokeAllQuery,
    ),
    security(("api_key" = ["sessions:admin"])),
    responses(
        (status = 200, description = "Revoked", body = RevokedView),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn revoke_user_sessions(
    _: Authorized<Admin>,
    State(app): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RevokeAllQuery>,
) -> Result<Json<RevokedView>, ApiError> {
    let user_id = UserId::parse(user_id)?;
    let keep = query
        .except
        .as_deref()
        .map(|id| {
            SessionId::parse(ascii("except", "id", id)?)
                .map_err(|_| ApiError::invalid("except", "except is not a valid session id"))
        })
        .transpose()?;
    let revoked = app.engine.revoke_all(&user_id, keep.as_ref()).await?;
    Ok(Json(RevokedView {
        revoked_session_ids: ids(revoked.sessions),
        revoked_families: revoked.families,
    }))
}

/// Revoke one of a user's sessions (and its refresh family) by id.
#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}/sessions/{session_id}",
    tag = "users",
    params(
        ("user_id" = schemas::UserId, Path, description = "The user id (percent-encoded)"),
        ("session_id" = schemas::SessionId, Path, description = "The session id"),
    ),
    security(("api_key" = ["sessions:admin"])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn revoke_user_session(
    _: Authorized<Admin>,
    State(app): State<AppState>,
    ApiPath((user_id, session_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user_id = UserId::parse(user_id)?;
    let session_id = SessionId::parse(ascii("session_id", "id", &session_id)?)?;
    app.engine.revoke_by_id(&user_id, &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
