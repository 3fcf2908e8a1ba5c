//! The admin listener's routes (no authentication; keep the listener on a private
//! interface): `GET /healthz` (the process is up), `GET /readyz` (Redis answers within
//! [`READY_TIMEOUT`]), `GET /metrics` (Prometheus).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sessiondb_engine::Engine;

use crate::error::ApiError;
use crate::routes::{method_not_allowed, not_found};
use sessiondb_metrics::{Metrics, OPENMETRICS_CONTENT_TYPE};

/// How long `/readyz` waits for Redis before answering 503.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
struct AdminState {
    engine: Engine,
    metrics: Arc<Metrics>,
}

/// The admin routes, with their state; layers are added by the server.
pub(crate) fn router(engine: Engine, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(AdminState { engine, metrics })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(admin): State<AdminState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, admin.engine.ready()).await {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(error)) => ApiError::from(error).into_response(),
        Err(_) => ApiError::StoreTimeout.into_response(),
    }
}

async fn metrics_text(State(admin): State<AdminState>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
        )],
        admin.metrics.encode(),
    )
        .into_response()
}
