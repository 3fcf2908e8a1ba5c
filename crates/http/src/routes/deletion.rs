//! Deletion tokens: single-use capabilities to revoke one session or all of a user's
//! sessions without holding them (the link in a "Was this you?" e-mail). Issuing needs
//! `sessions:admin`; redeeming needs only the token and is rate limited per client
//! address.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sessiondb_engine::{DeletionScope, DeletionTarget, DeletionToken, SessionId, UserId};
use utoipa::openapi::schema::{
    AdditionalProperties, Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::{ascii, ids};
use crate::auth::{Admin, Authorized};
use crate::error::ApiError;
use crate::extract::{record_token, token_log_prefix, ApiJson, ApiPath, ClientAddr};
use crate::openapi::{responses as r, schemas};
use crate::state::AppState;
use crate::timestamp::Timestamp;

/// What a deletion token revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Scope {
    /// One session (`session_id` required).
    Session,
    /// Every session and refresh family of the user.
    User,
}

impl From<DeletionScope> for Scope {
    fn from(s: DeletionScope) -> Self {
        match s {
            DeletionScope::Session => Scope::Session,
            DeletionScope::User => Scope::User,
        }
    }
}

/// Body of `POST /v1/users/{user_id}/deletion-tokens`: `{"scope": "session",
/// "session_id": …}` or `{"scope": "user"}`. Its schema (a `oneOf` on `scope`) is written
/// by hand: the pairing of `scope` and `session_id` is checked by the handler.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueRequest {
    /// `session` or `user`.
    scope: Scope,
    /// The session to revoke; required with scope `session`, absent (or null) with `user`.
    session_id: Option<String>,
}

impl PartialSchema for IssueRequest {
    fn schema() -> RefOr<Schema> {
        let variant = |name: &str| format!("#/components/schemas/{name}");
        OneOfBuilder::new()
            .item(Ref::from_schema_name("SessionDeletionRequest"))
            .item(Ref::from_schema_name("UserDeletionRequest"))
            .discriminator(Some(Discriminator::with_mapping(
                "scope",
                [
                    ("session", variant("SessionDeletionRequest")),
                    ("user", variant("UserDeletionRequest")),
                ],
            )))
            .description(Some(
                "Body of `POST /v1/users/{user_id}/deletion-tokens`: one session of the user \
                 (`scope` `session` with its `session_id`) or all of them (`scope` `user`, \
                 no `session_id`).",
            ))
            .into()
    }
}

impl ToSchema for IssueRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        let scope = |value: &str, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([value]))
                .description(Some(description))
        };
        let session = ObjectBuilder::new()
            .description(Some(
                "A deletion token that revokes one session of the user.",
            ))
            .property("scope", scope("session", "`session`"))
            .required("scope")
            .property(
                "session_id",
                Ref::from_schema_name(schemas::SessionId::name()),
            )
            .required("session_id")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let user = ObjectBuilder::new()
            .description(Some(
                "A deletion token that revokes every session and refresh family of the user.",
            ))
            .property("scope", scope("user", "`user`"))
            .required("scope")
            .property(
                "session_id",
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("Absent, or null.")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        schemas.push(("SessionDeletionRequest".to_owned(), session.into()));
        schemas.push(("UserDeletionRequest".to_owned(), user.into()));
        schemas.push((
            schemas::SessionId::name().into_owned(),
            schemas::SessionId::schema(),
        ));
    }
}

/// A new deletion token (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssuedView {
    /// The capability; put it in the link, redeem it at `POST /v1/deletion-tokens/redeem`.
    #[schema(value_type = schemas::DeletionToken)]
    deletion_token: String,
    /// When it stops working.
    expires_at: Timestamp,
}

/// Issue a deletion token for one session of the user or for all of them.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/deletion-tokens",
    tag = "deletion tokens",
    params(("user_id" = schemas::UserId, Path, description = "The user id (percent-encoded)")),
    request_body = IssueRequest,
    security(("api_key" = ["sessions:admin"])),
    responses(
        (status = 201, description = "Issued", body = IssuedView),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 403, response = r::Forbidden),
        (status = 404, response = r::SessionNotFound),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn issue_deletion_token(
    _: Authorized<Admin>,
    State(app): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(body): ApiJson<IssueRequest>,
) -> Result<(StatusCode, Json<IssuedView>), ApiError> {
    let user_id = UserId::parse(user_id)?;
    let target = match (body.scope, body.session_id) {
        (Scope::Session, Some(id)) => DeletionTarget::Session {
            user_id,
            session_id: SessionId::parse(ascii("session_id", "id", &id)?)?,
        },
        (Scope::Session, None) => {
            return Err(ApiError::invalid(
                "session_id",
                "session_id is required when scope is session",
            ))
        }
        (Scope::User, None) => DeletionTarget::User { user_id },
        (Scope::User, Some(_)) => {
            return Err(ApiError::invalid(
                "session_id",
                "session_id must be absent when scope is user",
            ))
        }
    };
    let issued = app.engine.issue_deletion_token(&target).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedView {
            deletion_token: issued.token.expose_secret().to_owned(),
            expires_at: issued.expires_at.into(),
        }),
    ))
}

/// Body of `POST /v1/deletion-tokens/redeem`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedeemRequest {
    /// The deletion token (`sdb_d1_…`).
    #[schema(value_type = schemas::DeletionToken)]
    deletion_token: String,
}

/// What a redemption revoked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RedemptionView {
    /// The token's scope.
    scope: Scope,
    /// The user whose sessions were targeted.
    #[schema(value_type = schemas::UserId)]
    user_id: String,
    /// Live sessions revoked (empty when the target was already gone).
    #[schema(value_type = Vec<schemas::SessionId>)]
    revoked_session_ids: Vec<String>,
    /// Refresh families revoked.
    revoked_families: u64,
}

/// One redemption attempt taken from the client address's bucket, before the body is
/// even read, so guessing tokens is expensive whatever is sent.
#[derive(Debug)]
pub(crate) struct RedeemPermit;

impl FromRequestParts<AppState> for RedeemPermit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(client) = ClientAddr::from_request_parts(parts, app).await?;
        app.limits.redeem(client, &app.metrics)?;
        Ok(Self)
    }
}

/// Redeem a deletion token: consume it and revoke its target.
///
/// Needs no API key: the token is the capability. A second redemption answers 410
/// `token_spent`; an unknown or expired token 404 `token_not_found`. Rate limited per
/// client address.
#[utoipa::path(
    post,
    path = "/v1/deletion-tokens/redeem",
    tag = "deletion tokens",
    request_body = RedeemRequest,
    security(()),
    responses(
        (status = 200, description = "Redeemed", body = RedemptionView),
        (status = 400, response = r::BadRequest),
        (status = 404, response = r::TokenNotFound),
        (status = 410, response = r::TokenSpent),
        (status = 413, response = r::PayloadTooLarge),
        (status = 422, response = r::Unprocessable),
        (status = 429, response = r::RateLimited),
        (status = 503, response = r::Unavailable),
    )
)]
pub(crate) async fn redeem_deletion_token(
    _: RedeemPermit,
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RedeemRequest>,
) -> Result<Json<RedemptionView>, ApiError> {
    record_token(&tracing::Span::current(), || {
        token_log_prefix(&body.deletion_token)
    });
    let token = DeletionToken::parse(ascii("deletion_token", "token", &body.deletion_token)?)?;
    let redemption = app.engine.redeem_deletion_token(&token).await?;
    app.metrics.record_redemption();
    Ok(Json(RedemptionView {
        scope: redemption.scope.into(),
        user_id: redemption.user_id.to_string(),
        revoked_session_ids: ids(redemption.revoked_sessions),
        revoked_families: redemption.revoked_families,
    }))
}
