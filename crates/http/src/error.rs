//! Errors: [`ApiError`], every failure a request can meet, rendered as an RFC 9457
//! `application/problem+json` body; and [`HttpError`], what starting the server can fail
//! with.
//!
//! Every problem carries a stable `code` (the engine's codes plus the HTTP layer's own),
//! `type` = `urn:sessiondb:problem:<code>`, and the request id. 5xx bodies stay generic;
//! their cause is logged once, in the request's trace span.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sessiondb_engine::Error as EngineError;
use utoipa::ToSchema;

use crate::config::Scope;
use crate::context::current_request_id;

/// What starting or running the server failed with.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address from the configuration.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The listener's certificate or key could not be loaded.
    #[error("cannot load the TLS {what} from {path}: {reason}")]
    Tls {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file from the configuration.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The engine could not connect to the session store (or refused its data).
    #[error("cannot connect to the session store")]
    Engine(#[source] sessiondb_engine::Error),
    /// A configuration value the HTTP layer cannot use.
    #[error("invalid HTTP configuration: {field} {reason}")]
    InvalidConfig {
        /// The offending configuration field.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
}

/// The content type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: the body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:sessiondb:problem:version_conflict",
    "title": "Version conflict",
    "status": 412,
    "detail": "the session is at version 4",
    "code": "version_conflict",
    "request_id": "3f2a9c0d5b8e4f1a9c3d2e1f0a9b8c7d"
}))]
pub(crate) struct Problem {
    /// `urn:sessiondb:problem:<code>`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// A short, fixed summary of the problem type.
    pub(crate) title: &'static str,
    /// The HTTP status code.
    pub(crate) status: u16,
    /// What went wrong with this request (generic for 5xx).
    pub(crate) detail: String,
    /// The stable error code clients match on.
    #[schema(example = "version_conflict")]
    pub(crate) code: &'static str,
    /// The request field, query parameter or header at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// The request id (`X-Request-Id`), to find the request in the logs.
    pub(crate) request_id: String,
}

/// Everything a request can fail with.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// An engine operation failed.
    Engine(EngineError),
    /// No API key, or one that matches no configured key.
    Unauthorized {
        /// Whether a credential was presented (then `error="invalid_token"`).
        presented: bool,
    },
    /// A valid key that lacks the route's scope.
    Forbidden {
        /// The scope the route needs.
        scope: Scope,
    },
    /// A rate limit was hit.
    RateLimited {
        /// Which limit (`redeem`, `refresh`).
        limit: &'static str,
        /// When the next attempt may succeed.
        retry_after: Duration,
    },
    /// Malformed request: unparsable JSON, wrong content type, bad header or query
    /// (400 `invalid_request`).
    BadRequest {
        /// The part of the request at fault.
        field: Option<String>,
        /// What is wrong, for the client developer.
        detail: String,
    },
    /// Well-formed but invalid input: a field fails validation (422 `invalid_request`).
    Invalid {
        /// The field at fault.
        field: Option<String>,
        /// What is wrong, naming the field.
        detail: String,
    },
    /// The body is larger than the configured limit.
    PayloadTooLarge {
        /// What is too large.
        detail: String,
    },
    /// No route matches the path.
    NotFound,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// The request took longer than the configured request timeout.
    Timeout,
    /// Redis did not answer a readiness probe in time (`backend_unavailable`).
    StoreTimeout,
    /// A bug: a panic or an impossible state. The cause is logged, never sent.
    Internal(String),
}

impl ApiError {
    /// A 400 `invalid_request` about `field`.
    pub(crate) fn bad_request(field: impl Into<Option<String>>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// A 422 `invalid_request` about `field`.
    pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// The stable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::Engine(e) => e.code(),
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::BadRequest { .. } | ApiError::Invalid { .. } => "invalid_request",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Timeout => "request_timeout",
            ApiError::StoreTimeout => "backend_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Engine(e) => engine_status(e),
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout | ApiError::StoreTimeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem body (without side effects).
    pub(crate) fn problem(&self) -> Problem {
        let code = self.code();
        let status = self.status();
        let (detail, field) = match self {
            ApiError::Engine(e) => engine_detail(e),
            ApiError::Unauthorized { presented: false } => (
                "an API key is required: send `Authorization: Bearer <key>`".to_owned(),
                None,
            ),
            ApiError::Unauthorized { presented: true } => {
                ("the API key is not valid".to_owned(), None)
            }
            ApiError::Forbidden { scope } => (
                format!("the API key lacks the scope {}", scope.as_str()),
                None,
            ),
            ApiError::RateLimited { limit, retry_after } => (
                format!(
                    "too many {limit} requests; retry after {} s",
                    retry_secs(*retry_after)
                ),
                None,
            ),
            ApiError::BadRequest { field, detail } | ApiError::Invalid { field, detail } => {
                (detail.clone(), field.clone())
            }
            ApiError::PayloadTooLarge { detail } => (detail.clone(), None),
            ApiError::NotFound => ("no route matches this path".to_owned(), None),
            ApiError::MethodNotAllowed => (
                "the route does not support this method; see the Allow header".to_owned(),
                None,
            ),
            ApiError::Timeout => (
                "the request did not complete in time; retry shortly".to_owned(),
                None,
            ),
            ApiError::StoreTimeout => (
                "the session store did not answer in time; retry shortly".to_owned(),
                None,
            ),
            ApiError::Internal(_) => ("an internal error occurred".to_owned(), None),
        };
        Problem {
            kind: format!("urn:sessiondb:problem:{code}"),
            title: title(code),
            status: status.as_u16(),
            detail,
            code,
            field,
            request_id: current_request_id(),
        }
    }

    /// Logs the cause of a server-side failure once, in the current (request) span.
    fn log(&self) {
        match self {
            ApiError::Engine(
                e @ (EngineError::Backend(_)
                | EngineError::Refused(_)
                | EngineError::NotReplicated { .. }),
            ) => {
                tracing::warn!(code = e.code(), error = %chain(e), "session store request failed");
            }
            ApiError::Engine(
                e @ (EngineError::Protocol { .. } | EngineError::SchemaMismatch { .. }),
            ) => {
                tracing::error!(code = e.code(), error = %chain(e), "engine protocol error");
            }
            ApiError::Timeout => tracing::warn!("request timed out"),
            ApiError::StoreTimeout => tracing::warn!("session store did not answer in time"),
            ApiError::Internal(cause) => tracing::error!(error = %cause, "internal error"),
            other => tracing::debug!(code = other.code(), "request rejected"),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        ApiError::Engine(error)
    }
}

impl From<sessiondb_engine::InvalidInput> for ApiError {
    fn from(error: sessiondb_engine::InvalidInput) -> Self {
        ApiError::Engine(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Unauthorized { presented } => {
                let value = if *presented {
                    "Bearer realm=\"sessiondb\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"sessiondb\""
                };
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            ApiError::Forbidden { scope } => {
                let value = format!(
                    "Bearer realm=\"sessiondb\", error=\"insufficient_scope\", scope=\"{}\"",
                    scope.as_str()
                );
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(WWW_AUTHENTICATE, value);
                }
            }
            ApiError::RateLimited { retry_after, .. } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_secs(*retry_after)));
            }
            ApiError::Engine(EngineError::Backend(_) | EngineError::NotReplicated { .. })
            | ApiError::Timeout
            | ApiError::StoreTimeout => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

fn engine_status(error: &EngineError) -> StatusCode {
    match error {
        EngineError::SessionNotFound | EngineError::TokenNotFound => StatusCode::NOT_FOUND,
        EngineError::VersionConflict { .. } => StatusCode::PRECONDITION_FAILED,
        EngineError::SessionLimitReached => StatusCode::CONFLICT,
        EngineError::InvalidGrant | EngineError::ReuseDetected => StatusCode::BAD_REQUEST,
        EngineError::TokenSpent => StatusCode::GONE,
        EngineError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        EngineError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
        EngineError::NotReplicated { .. } | EngineError::Backend(_) | EngineError::Refused(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        EngineError::Protocol { .. } | EngineError::SchemaMismatch { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn engine_detail(error: &EngineError) -> (String, Option<String>) {
    match error {
        EngineError::SessionNotFound => (
            "no live session matches (unknown, expired or revoked)".to_owned(),
            None,
        ),
        EngineError::InvalidInput(invalid) => (invalid.to_string(), Some(invalid.field.to_owned())),
        EngineError::PayloadTooLarge { field, .. } => {
            (error.to_string(), Some((*field).to_owned()))
        }
        EngineError::Backend(_) | EngineError::Refused(_) => (
            "the session store is unavailable; retry shortly".to_owned(),
            None,
        ),
        EngineError::NotReplicated { .. } => (
            "the write was not confirmed by enough replicas in time; retrying is safe".to_owned(),
            None,
        ),
        EngineError::Protocol { .. } | EngineError::SchemaMismatch { .. } => {
            ("an internal error occurred".to_owned(), None)
        }
        other => (other.to_string(), None),
    }
}

fn title(code: &str) -> &'static str {
    match code {
        "session_not_found" => "Session not found",
        "version_conflict" => "Version conflict",
        "session_limit_reached" => "Session limit reached",
        "invalid_grant" => "Invalid grant",
        "reuse_detected" => "Refresh token reuse detected",
        "token_not_found" => "Token not found",
        "token_spent" => "Token already used",
        "payload_too_large" => "Payload too large",
        "invalid_request" => "Invalid request",
        "unauthorized" => "Unauthorized",
        "forbidden" => "Forbidden",
        "rate_limited" => "Too many requests",
        "not_found" => "Not found",
        "method_not_allowed" => "Method not allowed",
        "backend_unavailable" => "Backend unavailable",
        "not_replicated" => "Write not replicated",
        "request_timeout" => "Request timeout",
        _ => "Internal error",
    }
}

/// Whole seconds to wait, at least 1.
fn retry_secs(d: Duration) -> u64 {
    (d.as_millis().div_ceil(1000) as u64).max(1)
}

/// An error and its sources, `outer: inner: …`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_has_its_status_and_a_title() {
        let cases = [
            (EngineError::SessionNotFound, 404),
            (EngineError::VersionConflict { current: 3 }, 412),
            (EngineError::SessionLimitReached, 409),
            (EngineError::InvalidGrant, 400),
            (EngineError::ReuseDetected, 400),
            (EngineError::TokenNotFound, 404),
            (EngineError::TokenSpent, 410),
        ];
        for (error, status) in cases {
            let error = ApiError::from(error);
            assert_eq!(error.status().as_u16(), status, "{}", error.code());
            assert_ne!(title(error.code()), "Internal error", "{}", error.code());
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_secs(Duration::ZERO), 1);
    }

    #[test]
    fn server_errors_have_generic_details() {
        let problem = ApiError::Internal("secret cause".to_owned()).problem();
        assert!(!problem.detail.contains("secret"));
        assert_eq!(problem.status, 500);
    }
}
