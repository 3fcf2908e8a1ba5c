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

/// One page of a user's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    /// In order of when their device logins end; exact (never an expired or revoked
    /// session). A page may hold fewer than `limit` sessions while more follow.
    sessions: Vec<SessionSummaryView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Query of `GET /v1/users/{user_id}/sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Sessions per page (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Where to continue: the `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,9}$")]
    cursor: Option<String>,
}

/// Default page size of a listing.
const DEFAULT_PAGE: u32 = 100;

/// List a user's live sessions (metadata and timestamps, never tokens or data).
///
/// With `redis.read_from = replica_preferred` the list is read from a replica and may
/// lag the master by the replication delay.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/sessions",
    tag = "users",
    params(("user_id" = schemas::UserId, Path, description = "The user id (percent-encoded)"), ListQuery),
    security(("api_key" = ["sessions:admin"])),
    responses(
        (status = 200, description = "A page of the user's live sessions", body = SessionList),
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
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<SessionList>, ApiError> {
    let user_id = UserId::parse(user_id)?;
    let offset = match query.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .parse::<u32>()
            .ok()
            .filter(|_| c.len() <= 9 && c.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| ApiError::invalid("cursor", "cursor: not a cursor this API issued"))?,
    };
    let page = app
        .engine
        .list_page(
            &user_id,
            u64::from(offset),
            query.limit.unwrap_or(DEFAULT_PAGE),
        )
        .await?;
    Ok(Json(SessionList {
        sessions: page.sessions.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|n| n.to_string()),
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
