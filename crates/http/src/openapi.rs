//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `GET /v1/openapi.json` and checked into `docs/openapi.json` (a test fails when the two
//! differ; `UPDATE_OPENAPI=1 cargo test -p sessiondb-http openapi` rewrites the file).

use std::sync::OnceLock;

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::{Content, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{Problem, PROBLEM_JSON};
use crate::routes::{self, deletion, refresh, sessions, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sessiondb",
        description = "Session database for microservices on Redis: sessions, per-user caps, \
            refresh-token rotation with reuse detection and deletion tokens. See docs/api.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        sessions::create_session,
        sessions::get_session,
        sessions::replace_session_data,
        sessions::merge_session_data,
        sessions::revoke_session,
        sessions::rotate_session_token,
        refresh::refresh_session,
        refresh::revoke_refresh_token,
        users::list_user_sessions,
        users::revoke_user_sessions,
        users::revoke_user_session,
        deletion::issue_deletion_token,
        deletion::redeem_deletion_token,
        routes::get_openapi,
    ),
    components(
        schemas(Problem),
        responses(
            responses::BadRequest,
            responses::Unauthorized,
            responses::Forbidden,
            responses::SessionNotFound,
            responses::VersionConflict,
            responses::SessionLimitReached,
            responses::RefreshRejected,
            responses::TokenNotFound,
            responses::TokenSpent,
            responses::PayloadTooLarge,
            responses::Unprocessable,
            responses::RateLimited,
            responses::Unavailable,
        )
    ),
    modifiers(&SecurityAndAdmin),
    tags(
        (name = "sessions", description = "The caller's session, addressed by `X-Session-Token`"),
        (name = "users", description = "Per-user administration (`sessions:admin`)"),
        (name = "deletion tokens", description = "Single-use revocation capabilities"),
        (name = "meta", description = "This document"),
        (name = "admin", description = "Probes and metrics on the admin listener (separate port, no authentication)"),
    )
)]
struct ApiDoc;

/// The OpenAPI document as pretty-printed JSON (what `docs/openapi.json` holds).
pub fn openapi_json() -> String {
    served_document().to_owned()
}

/// The document, generated once per process.
pub(crate) fn served_document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut json = ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        json.push('\n');
        json
    })
}

/// Adds the bearer scheme and the admin listener's routes (which live on another
/// listener, so they carry their own `servers`).
struct SecurityAndAdmin;

impl Modify for SecurityAndAdmin {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An API key as `Authorization: Bearer <key>`; the server stores only its SHA-256. \
             Each route needs one scope: sessions:read, sessions:write or sessions:admin."
                .to_owned(),
        );
        components.add_security_scheme("api_key", SecurityScheme::Http(bearer));

        let admin_server = ServerBuilder::new()
            .url("http://{admin_listen}")
            .description(Some("The admin listener"))
            .parameter(
                "admin_listen",
                ServerVariableBuilder::new().default_value("127.0.0.1:9090"),
            )
            .build();
        let admin = [
            (
                "/healthz",
                "Liveness: 200 while the process serves requests",
                "text/plain",
                None,
            ),
            (
                "/readyz",
                "Readiness: 200 when Redis answers within about 1 s",
                "application/json",
                Some("Redis is unreachable (`backend_unavailable`, `Retry-After: 1`)"),
            ),
            (
                "/metrics",
                "Prometheus metrics (OpenMetrics text format), all named `sessiondb_*`",
                "application/openmetrics-text",
                None,
            ),
        ];
        for (path, summary, content_type, unavailable) in admin {
            let mut operation = OperationBuilder::new()
                .tag("admin")
                .summary(Some(summary))
                .operation_id(Some(format!("admin_{}", path.trim_start_matches('/'))))
                .response(
                    "200",
                    ResponseBuilder::new().description("OK").content(
                        content_type,
                        Content::new(
                            None::<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
                        ),
                    ),
                );
            if let Some(description) = unavailable {
                operation = operation.response(
                    "503",
                    ResponseBuilder::new().description(description).content(
                        PROBLEM_JSON,
                        Content::new(Some(utoipa::openapi::Ref::from_schema_name("Problem"))),
                    ),
                );
            }
            let mut item = PathItem::new(HttpMethod::Get, operation.build());
            item.servers = Some(vec![admin_server.clone()]);
            openapi.paths.paths.insert(path.to_owned(), item);
        }
    }
}

/// Header parameters shared by the session routes. Documentation-only types.
#[allow(dead_code)]
pub(crate) mod params {
    use utoipa::IntoParams;

    /// The session token header.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Header)]
    pub(crate) struct SessionToken {
        /// The session token (`sdb_s1_…`). Sent as a header, never in the URL, so it
        /// stays out of access logs.
        #[param(rename = "X-Session-Token", max_length = 512)]
        token: String,
    }

    /// The optimistic-concurrency precondition.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Header)]
    pub(crate) struct IfMatch {
        /// Apply only if the session is at this version, e.g. `"3"` (a strong ETag as
        /// returned in `ETag`); otherwise 412 `version_conflict`. `*` or absent: no
        /// condition.
        #[param(rename = "If-Match", required = false)]
        if_match: String,
    }
}

/// Reusable error responses: every error body is a [`Problem`] as
/// `application/problem+json`. Documentation-only types (never constructed).
#[allow(dead_code)]
pub(crate) mod responses {
    use utoipa::ToResponse;

    use crate::error::Problem;

    /// Malformed request: body not JSON, wrong content type, bad header (e.g. missing
    /// `X-Session-Token`), bad query string (`invalid_request`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct BadRequest(Problem);

    /// Missing or unknown API key (`unauthorized`); see `WWW-Authenticate`.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"sessiondb\"`"))
    )]
    pub(crate) struct Unauthorized(Problem);

    /// The API key lacks the route's scope (`forbidden`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct Forbidden(Problem);

    /// No live session matches: unknown, expired or revoked (`session_not_found`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct SessionNotFound(Problem);

    /// `If-Match` names a version that is no longer current; nothing changed
    /// (`version_conflict`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct VersionConflict(Problem);

    /// The user is at the session cap and the policy is `reject`
    /// (`session_limit_reached`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct SessionLimitReached(Problem);

    /// The refresh token is unknown, expired or revoked (`invalid_grant`), or a
    /// superseded token was presented and the family is now revoked (`reuse_detected`);
    /// or the request is malformed (`invalid_request`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct RefreshRejected(Problem);

    /// The deletion token is unknown or expired (`token_not_found`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct TokenNotFound(Problem);

    /// The deletion token was already redeemed (`token_spent`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct TokenSpent(Problem);

    /// The body, or the session data, exceeds its size limit (`payload_too_large`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct PayloadTooLarge(Problem);

    /// A field fails validation; `field` names it (`invalid_request`).
    #[derive(ToResponse)]
    #[response(content_type = "application/problem+json")]
    pub(crate) struct Unprocessable(Problem);

    /// A rate limit was hit (`rate_limited`); see `Retry-After`.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds until the next attempt may succeed"))
    )]
    pub(crate) struct RateLimited(Problem);

    /// Redis is unreachable (`backend_unavailable`) or the request timed out
    /// (`request_timeout`); retryable.
    #[derive(ToResponse)]
    #[response(
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    pub(crate) struct Unavailable(Problem);
}
