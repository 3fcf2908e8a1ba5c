//! Request limits applied to every API route: body size (413 before the body is read
//! when `Content-Length` already says too much; streamed bodies are cut off at the same
//! limit by the extractors) and the request timeout (503, the work is abandoned).
//! Header sizes are bounded by the connection settings in `server.rs` and by the
//! `Authorization` / `X-Session-Token` checks of the extractors.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest accepted body.
    pub(crate) max_body_bytes: usize,
    /// Longest a request may take.
    pub(crate) request_timeout: Duration,
}

/// The middleware: see the module docs.
pub(crate) async fn enforce(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return ApiError::PayloadTooLarge {
            detail: format!(
                "the request body exceeds the limit of {} bytes",
                limits.max_body_bytes
            ),
        }
        .into_response();
    }
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}
