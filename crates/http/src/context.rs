//! The per-request envelope, outermost on both listeners: request id, trace span,
//! access log, HTTP metrics and security headers.
//!
//! The request id is accepted from `X-Request-Id` when it looks like one (1–128 of
//! `[A-Za-z0-9._:-]`) and generated otherwise; it is echoed in the response header,
//! recorded in the span and, through a task-local, put into every problem body.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{
    HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use sessiondb_metrics::{InFlight, Metrics};

/// The request id header, accepted and echoed.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest accepted client-supplied request id.
const MAX_REQUEST_ID: usize = 128;

/// The route label of requests that matched no route (keeps metric cardinality bounded).
pub(crate) const UNMATCHED: &str = "unmatched";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id, or an empty string outside a request.
pub(crate) fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Which listener the envelope wraps. Only the public API is counted in the HTTP metrics
/// and logged at `info`: scrapes and probes would drown the signal.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// Where request counts and latencies go; `None` on the admin listener.
    metrics: Option<Arc<Metrics>>,
}

impl Envelope {
    /// The public API listener's envelope.
    pub(crate) fn api(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics: Some(metrics),
        }
    }

    /// The admin listener's envelope: not counted, logged at `debug`.
    pub(crate) fn admin() -> Self {
        Self { metrics: None }
    }
}

/// The method's name for labels and logs: the standard ones, or `OTHER`.
fn method_name(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .iter()
    .zip([
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ])
    .find_map(|(m, name)| (m == method).then_some(name))
    .unwrap_or("OTHER")
}

/// The middleware: see the module docs.
pub(crate) async fn envelope(State(env): State<Envelope>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_request_id(v))
        .map_or_else(new_request_id, str::to_owned);
    // Both labels come from fixed sets, so recording the request allocates nothing.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |m| crate::routes::template(m.as_str()));
    let method = method_name(req.method());
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %method,
        route = %route,
        status = tracing::field::Empty,
        api_key = tracing::field::Empty,
        token = tracing::field::Empty,
    );
    let _in_flight = env.metrics.as_ref().map(|m| InFlight::enter(m));

    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.run(req))
        .instrument(span.clone())
        .await;

    let status = response.status();
    let elapsed = started.elapsed();
    span.record("status", status.as_u16());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| match &env.metrics {
        Some(metrics) => {
            metrics.record_request(route, method, status.as_u16(), elapsed);
            // One line per request only at debug level: at production rates an
            // info line each would be gigabytes a day; the metrics carry the counts.
            tracing::debug!(latency_ms, "request completed");
        }
        None => tracing::debug!(latency_ms, "request completed"),
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID, value);
    }
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Sent on every response of both listeners: nothing here is cacheable, sniffable,
/// frameable or meant to leak a referrer.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (CACHE_CONTROL, "no-store"),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (X_FRAME_OPTIONS, "DENY"),
    (REFERRER_POLICY, "no-referrer"),
    (CONTENT_SECURITY_POLICY, "default-src 'none'"),
];

fn is_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// 32 hex characters, unique within the process and, with a random per-process start,
/// across processes: a request id needs uniqueness, not secrecy, so it costs a counter
/// increment instead of a read of the OS random source per request.
fn new_request_id() -> String {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // If the OS source fails, ids are still unique within the process.
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // splitmix64 spreads consecutive counters over all bits; the second half keeps the
    // raw sum, so two ids of one process never collide.
    let mixed = splitmix64(start.wrapping_add(n));
    format!("{mixed:016x}{:016x}", start.wrapping_add(n))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_validated() {
        assert!(is_request_id("abc-123_x.y:z"));
        assert!(!is_request_id(""));
        assert!(!is_request_id("has space"));
        assert!(!is_request_id(&"a".repeat(129)));
        assert_eq!(new_request_id().len(), 32);
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| is_request_id(id) && id.len() == 32));
    }
}
