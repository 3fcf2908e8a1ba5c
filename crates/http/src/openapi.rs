//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `GET /v1/openapi.json` and checked into `docs/openapi.json` (a test fails when the two
//! differ; `UPDATE_OPENAPI=1 cargo test -p sessiondb-http openapi` rewrites the file).
//!
//! The document says exactly what the server enforces: id and token formats as patterns,
//! the idle-timeout window of the running configuration, which deletion-token bodies are
//! valid. What JSON Schema cannot say (byte lengths of UTF-8 strings, the serialized size
//! of `data`) is stated in the descriptions. The admin listener's routes are not part of
//! this API; `docs/api.md` documents them.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use sessiondb_engine::{EngineConfig, SessionPolicy};
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use crate::error::Problem;
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
        schemas(
            Problem,
            schemas::SessionId,
            schemas::SessionToken,
            schemas::RefreshToken,
            schemas::DeletionToken,
            schemas::UserId,
            schemas::IpAddress,
            schemas::IfMatch,
        ),
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
    modifiers(&Security, &Links),
    tags(
        (name = "sessions", description = "The caller's session, addressed by `X-Session-Token`"),
        (name = "users", description = "Per-user administration (`sessions:admin`)"),
        (name = "deletion tokens", description = "Single-use revocation capabilities"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The OpenAPI document for the default configuration, pretty-printed (what
/// `docs/openapi.json` holds).
pub fn openapi_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| document(&EngineConfig::default().session))
        .clone()
}

/// The document for a server whose sessions follow `policy` (the idle-timeout window is
/// part of the contract), pretty-printed with a final newline.
pub(crate) fn document(policy: &SessionPolicy) -> String {
    let mut doc = ApiDoc::openapi();
    idle_window(&mut doc, policy);
    let mut json = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// Sets `idle_ttl_seconds`'s bounds to the configured window (whole seconds inside it).
fn idle_window(doc: &mut utoipa::openapi::OpenApi, policy: &SessionPolicy) {
    let min = policy.min_idle_ttl.as_millis().div_ceil(1000);
    let max = policy.max_idle_ttl.as_secs();
    let property = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("CreateSessionRequest"))
        .and_then(|schema| match schema {
            RefOr::T(Schema::Object(object)) => object.properties.get_mut("idle_ttl_seconds"),
            _ => None,
        });
    if let Some(RefOr::T(Schema::Object(Object {
        minimum, maximum, ..
    }))) = property
    {
        *minimum = Some(u64::try_from(min).unwrap_or(u64::MAX).into());
        *maximum = Some(max.into());
    }
}

/// Adds the bearer scheme.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An API key as `Authorization: Bearer <key>`; the server stores only its SHA-256. \
             Each route needs one scope: sessions:read, sessions:write or sessions:admin."
                .to_owned(),
        );
        components.add_security_scheme("api_key", SecurityScheme::Http(bearer));
    }
}

/// OpenAPI links: which response values feed which operations (the session token of a
/// created, refreshed or rotated session; the refresh and deletion tokens; the user and
/// session ids), so clients and stateful test tools can chain calls on real sessions.
///
/// Written as JSON: utoipa 5.5 serializes its `Link` type with snake_case field names
/// (`operation_id`), which OpenAPI does not know.
struct Links;

impl Links {
    /// A link to `operation`.
    fn to(operation: &str, parameters: Value, request_body: Option<Value>) -> Value {
        let mut link = json!({ "operationId": operation });
        if parameters.as_object().is_some_and(|p| !p.is_empty()) {
            link["parameters"] = parameters;
        }
        if let Some(body) = request_body {
            link["requestBody"] = body;
        }
        link
    }

    /// The operations a session token opens, fed from `token` of a response.
    fn session(links: &mut Map<String, Value>, token: &str) {
        for (name, operation) in [
            ("GetSession", "get_session"),
            ("ReplaceSessionData", "replace_session_data"),
            ("MergeSessionData", "merge_session_data"),
            ("RevokeSession", "revoke_session"),
            ("RotateSessionToken", "rotate_session_token"),
        ] {
            let parameters = json!({ "header.X-Session-Token": token });
            links.insert(name.to_owned(), Self::to(operation, parameters, None));
        }
    }

    fn refresh(links: &mut Map<String, Value>, token: &str) {
        let body = json!({ "refresh_token": token });
        links.insert(
            "RefreshSession".to_owned(),
            Self::to("refresh_session", json!({}), Some(body)),
        );
    }
}

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut created = Map::new();
        Links::session(&mut created, "$response.body#/session_token");
        Links::refresh(&mut created, "$response.body#/refresh_token");
        let user = json!({ "path.user_id": "$response.body#/user_id" });
        created.insert(
            "ListUserSessions".to_owned(),
            Links::to("list_user_sessions", user.clone(), None),
        );
        created.insert(
            "RevokeUserSession".to_owned(),
            Links::to(
                "revoke_user_session",
                json!({
                    "path.user_id": "$response.body#/user_id",
                    "path.session_id": "$response.body#/session_id",
                }),
                None,
            ),
        );
        created.insert(
            "IssueDeletionToken".to_owned(),
            Links::to(
                "issue_deletion_token",
                user,
                Some(json!({ "scope": "session", "session_id": "$response.body#/session_id" })),
            ),
        );
        let mut refreshed = Map::new();
        Links::session(&mut refreshed, "$response.body#/session_token");
        Links::refresh(&mut refreshed, "$response.body#/refresh_token");
        let mut rotated = Map::new();
        Links::session(&mut rotated, "$response.body#/session_token");
        let mut issued = Map::new();
        issued.insert(
            "RedeemDeletionToken".to_owned(),
            Links::to(
                "redeem_deletion_token",
                json!({}),
                Some(json!({ "deletion_token": "$response.body#/deletion_token" })),
            ),
        );
        for (path, status, links) in [
            ("/v1/sessions", "201", created),
            ("/v1/sessions/refresh", "200", refreshed),
            ("/v1/sessions/current/rotate", "200", rotated),
            ("/v1/users/{user_id}/deletion-tokens", "201", issued),
        ] {
            let response = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .and_then(|op| op.responses.responses.get_mut(status));
            if let Some(RefOr::T(response)) = response {
                let extensions = response.extensions.get_or_insert_with(Default::default);
                extensions.insert("links".to_owned(), Value::Object(links));
            }
        }
    }
}

/// Schemas of the values whose format the server checks: ids, tokens, user ids, IP
/// addresses, `If-Match`. Documentation-only types, referenced with `value_type`.
pub(crate) mod schemas {
    use std::borrow::Cow;

    use sessiondb_engine::{DeletionToken as Deletion, RefreshToken as Refresh};
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    /// A routing tag: three lowercase hex digits below [`TAG_BUCKETS`] (1024).
    const TAG: &str = "[0-3][0-9a-f]{2}";
    /// A public id: the tag and 22 base64url characters (16 random bytes).
    const ID_LEN: usize = 25;
    /// A token: `sdb_<kind>1_`, the id it opens, 43 base64url characters (32 bytes).
    const TOKEN_LEN: usize = 7 + ID_LEN + 43;
    /// Characters of the random parts.
    const B64: &str = "[A-Za-z0-9_-]";
    /// A string without control characters (Unicode category Cc), as the server checks.
    pub(crate) const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
    const EXAMPLE_ID: &str = "1a3Yq8cXkq0T9bJw2mYHc4pXQ";
    const EXAMPLE_SECRET: &str = "Hq3lZ0b7m9XkVwR2yT5uP8sN1cF4gJ6dA0eB2iC7oKx";

    fn string(description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    }

    fn token(prefix: &str, what: &str) -> RefOr<Schema> {
        string(&format!(
            "{what}: `{prefix}`, the {ID_LEN}-character id it opens, then 43 base64url \
             characters ({TOKEN_LEN} characters in all)."
        ))
        .pattern(Some(format!("^{prefix}{TAG}{B64}{{65}}$")))
        .min_length(Some(TOKEN_LEN))
        .max_length(Some(TOKEN_LEN))
        .examples([format!("{prefix}{EXAMPLE_ID}{EXAMPLE_SECRET}")])
        .into()
    }

    macro_rules! doc_schema {
        ($(#[$doc:meta])* $name:ident, $schema:expr) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub(crate) struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    $schema
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        };
    }

    doc_schema!(
        /// A public session id.
        SessionId,
        string(
            "A public session id (not a credential): 3 hex digits (the routing tag, \
             000-3ff), then 22 base64url characters.",
        )
        .pattern(Some(format!("^{TAG}{B64}{{22}}$")))
        .min_length(Some(ID_LEN))
        .max_length(Some(ID_LEN))
        .examples([EXAMPLE_ID])
        .into()
    );
    doc_schema!(
        /// A session token.
        SessionToken,
        token(sessiondb_engine::SessionToken::PREFIX, "A session token")
    );
    doc_schema!(
        /// A refresh token.
        RefreshToken,
        token(Refresh::PREFIX, "A refresh token")
    );
    doc_schema!(
        /// A deletion token.
        DeletionToken,
        token(Deletion::PREFIX, "A deletion token")
    );
    doc_schema!(
        /// A user id.
        UserId,
        string(
            "The user id: 1-256 bytes of UTF-8 without control characters. The limit is in \
             bytes of UTF-8, which JSON Schema cannot express: `maxLength` (256 characters) \
             is the bound for ASCII ids; an id of non-ASCII characters reaches 256 bytes \
             with fewer characters (e.g. 128 two-byte or 64 four-byte characters).",
        )
        .min_length(Some(1))
        .max_length(Some(256))
        .pattern(Some(NO_CONTROL))
        .examples(["user-42"])
        .into()
    );
    doc_schema!(
        /// An IP address.
        IpAddress,
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Ipv4))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Ipv6))),
            )
            .description(Some(
                "An IPv4 address in dotted-quad form (no leading zeros) or an IPv6 address \
                 (no zone index).",
            ))
            .examples(["203.0.113.7"])
            .into()
    );
    doc_schema!(
        /// The `If-Match` precondition.
        IfMatch,
        string(
            "`*`, or one strong ETag: a decimal version in double quotes, e.g. `\"3\"`, at \
             most 20 digits and at most 18446744073709551615.",
        )
        .pattern(Some(format!(
            "^(\\*|\"({})\")$",
            decimal_at_most(u64::MAX)
        )))
        .examples(["\"3\""])
        .into()
    );

    /// A regular expression for decimal numerals (leading zeros allowed) of at most as
    /// many digits as `max` and a value of at most `max`.
    pub(crate) fn decimal_at_most(max: u64) -> String {
        let digits: Vec<u32> = max
            .to_string()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        let n = digits.len();
        let mut alternatives = Vec::new();
        if n > 1 {
            alternatives.push(format!("[0-9]{{1,{}}}", n - 1));
        }
        let mut prefix = String::new();
        for (i, &d) in digits.iter().enumerate() {
            let rest = n - i - 1;
            if d > 0 {
                let tail = if rest > 0 {
                    format!("[0-9]{{{rest}}}")
                } else {
                    String::new()
                };
                alternatives.push(format!("{prefix}[0-{}]{tail}", d - 1));
            }
            prefix.push_str(&d.to_string());
        }
        alternatives.push(prefix);
        alternatives.join("|")
    }

    #[cfg(test)]
    mod tests {
        use sessiondb_engine::TAG_BUCKETS;

        use super::*;

        #[test]
        fn decimal_bounds() {
            assert_eq!(decimal_at_most(305), "[0-9]{1,2}|[0-2][0-9]{2}|30[0-4]|305");
            assert_eq!(decimal_at_most(7), "[0-6]|7");
            assert_eq!(decimal_at_most(10), "[0-9]{1,1}|[0-0][0-9]{1}|10");
        }

        #[test]
        fn the_tag_pattern_matches_the_engine() {
            assert_eq!(TAG_BUCKETS, 1024, "TAG_BUCKETS changed: update TAG");
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
        #[param(rename = "X-Session-Token", value_type = super::schemas::SessionToken)]
        token: String,
    }

    /// The optimistic-concurrency precondition.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Header)]
    pub(crate) struct IfMatch {
        /// Apply only if the session is at this version, e.g. `"3"` (a strong ETag as
        /// returned in `ETag`); otherwise 412 `version_conflict`. `*` or absent: no
        /// condition.
        #[param(rename = "If-Match", required = false, value_type = super::schemas::IfMatch)]
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
