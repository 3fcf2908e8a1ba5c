//! What every handler shares: the engine, metrics, key ring and rate limits.

use std::ops::Deref;
use std::sync::Arc;

use axum::body::Bytes;
use ipnet::IpNet;

use sessiondb_engine::Engine;

use crate::auth::KeyRing;
use crate::rate_limit::RateLimits;
use sessiondb_metrics::Metrics;

/// Handler state; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Shared>);

/// The shared parts behind [`AppState`].
#[derive(Debug)]
pub(crate) struct Shared {
    /// Every session operation.
    pub(crate) engine: Engine,
    /// Counters the handlers update directly (redemptions, rate limits).
    pub(crate) metrics: Arc<Metrics>,
    /// Accepted API keys.
    pub(crate) keys: KeyRing,
    /// Redemption and refresh limits.
    pub(crate) limits: RateLimits,
    /// Proxies whose `X-Forwarded-For` entries are believed (see `client_addr.rs`).
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// The OpenAPI document for this server's configuration.
    pub(crate) openapi: Bytes,
}

impl AppState {
    pub(crate) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
