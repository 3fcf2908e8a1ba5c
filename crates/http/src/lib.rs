//! sessiondb HTTP API: JSON over HTTP/1.1 under `/v1`, bearer API keys with scopes,
//! RFC 9457 problem+json errors, an OpenAPI 3.1 document, and an admin listener with
//! health, readiness and Prometheus metrics. The reference for clients is `docs/api.md`.
//!
//! ```no_run
//! # async fn demo(connection: sessiondb_engine::ConnectionConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use sessiondb_engine::EngineConfig;
//! use sessiondb_http::{config::HttpConfig, App, AppConfig};
//!
//! let app = App::build(AppConfig {
//!     connection,
//!     engine: EngineConfig::default(),
//!     http: HttpConfig::default(),
//!     cleanup_every: None,
//! })
//! .await?;
//! println!("API on port {}", app.port());
//! app.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `app.rs`: [`App`] — the service in one value (metrics, engine, listeners, cleanup
//!   loop), built from an [`AppConfig`]; how `serve`, the tests and the drills start it.
//! - [`config`] (`config.rs`): [`HttpConfig`](config::HttpConfig) — listeners, API keys,
//!   limits, rate limits, CORS, TLS.
//! - [`server`] (`server.rs`): [`Server`] — binds both listeners, stacks the layers,
//!   drives connections (hyper, optional rustls) and shuts down gracefully.
//! - `routes/`: the API handlers, one file per resource — `sessions.rs` (the caller's
//!   session by `X-Session-Token`), `refresh.rs`, `users.rs` (per-user administration),
//!   `deletion.rs` (deletion tokens); `mod.rs` builds the router and holds shared views.
//! - `admin.rs`: `/healthz`, `/readyz`, `/metrics` on the admin listener.
//! - `auth.rs`: API key hashing/generation, the key ring, the `Authorized<Scope>`
//!   extractor (401 vs 403).
//! - `extract.rs`: extractors whose rejections are problems (JSON body, query, path,
//!   `X-Session-Token`, `If-Match`, client address). `client_addr.rs`: the client
//!   address behind trusted proxies (`X-Forwarded-For`).
//! - `error.rs`: `ApiError` (→ problem+json) and [`HttpError`].
//! - `context.rs`: the per-request envelope — request id, trace span, access log, HTTP
//!   metrics, security headers.
//! - `limits.rs`: body size and request timeout. `rate_limit.rs`: redemption and refresh
//!   rate limits (IPv6 clients keyed by /64, a bounded number of keys).
//! - [`Metrics`] comes from `sessiondb-metrics` (one registry for the API, the engine's
//!   observer and the jobs).
//! - `openapi.rs`: the OpenAPI document ([`openapi_json`]).
//! - `strict.rs`: reads request bodies exactly as strictly as the OpenAPI document
//!   describes them (an array is never an object).
//! - `state.rs`: handler state. `timestamp.rs`: the RFC 3339 wire format.
//!
//! # Request pipeline
//! Outermost first: envelope → panic catcher → CORS (only when configured) → body limit
//! and timeout → routing → handler extractors (API key first, then headers, then body).

#![deny(missing_docs)]

pub mod config;
pub mod server;

mod admin;
mod app;
mod auth;
mod client_addr;
mod context;
mod error;
mod extract;
mod limits;
mod openapi;
mod rate_limit;
mod routes;
mod state;
mod strict;
mod timestamp;

pub use app::{App, AppConfig};
pub use auth::{generate_api_key, hash_api_key};
pub use error::HttpError;
pub use openapi::openapi_json;
pub use server::Server;
pub use sessiondb_metrics::Metrics;
