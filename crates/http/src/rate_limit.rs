//! Token-bucket rate limits kept in process memory (GCRA, `governor`): deletion-token
//! redemptions per client address and refreshes per refresh-token family.
//!
//! Each API instance limits on its own, so N instances allow up to N times the
//! configured rate; the limits exist to make guessing and hammering expensive, not to
//! meter exactly. Idle keys are forgotten by [`RateLimits::forget_idle`], which the server
//! calls periodically so memory stays bounded.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::{HttpConfig, RateLimit};
use crate::error::ApiError;
use sessiondb_metrics::Metrics;

/// One keyed limiter.
struct Keyed<K: Hash + Eq + Clone> {
    /// Which limit, for metrics and problem details.
    name: &'static str,
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(name: &'static str, limit: RateLimit) -> Self {
        // The settings layer rejects zero; clamp anyway so a zero cannot panic here.
        let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
        Self {
            name,
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    fn check(&self, key: &K, metrics: &Metrics) -> Result<(), ApiError> {
        self.limiter.check_key(key).map_err(|not_until| {
            metrics.record_rate_limited(self.name);
            tracing::debug!(limit = self.name, "rate limited");
            ApiError::RateLimited {
                limit: self.name,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }
        })
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The API's rate limits.
pub(crate) struct RateLimits {
    redeem: Keyed<IpAddr>,
    refresh: Keyed<String>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("redeem_keys", &self.redeem.limiter.len())
            .field("refresh_keys", &self.refresh.limiter.len())
            .finish()
    }
}

impl RateLimits {
    /// Limits as configured.
    pub(crate) fn new(config: &HttpConfig) -> Self {
        Self {
            redeem: Keyed::new("redeem", config.redeem_rate),
            refresh: Keyed::new("refresh", config.refresh_rate),
        }
    }

    /// Takes one redemption attempt from `client`'s bucket.
    pub(crate) fn redeem(&self, client: IpAddr, metrics: &Metrics) -> Result<(), ApiError> {
        self.redeem.check(&client, metrics)
    }

    /// Takes one refresh from the family's bucket.
    pub(crate) fn refresh(&self, family_id: &str, metrics: &Metrics) -> Result<(), ApiError> {
        self.refresh.check(&family_id.to_owned(), metrics)
    }

    /// Drops the state of keys whose buckets are full again (nothing to remember).
    pub(crate) fn forget_idle(&self) {
        self.redeem.forget_idle();
        self.refresh.forget_idle();
    }
}

/// How often idle rate-limit keys are forgotten.
pub(crate) const FORGET_INTERVAL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_a_retry_delay() {
        let metrics = Metrics::new();
        let limits = RateLimits::new(&HttpConfig {
            redeem_rate: RateLimit {
                per_minute: 1,
                burst: 2,
            },
            ..HttpConfig::default()
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!(limits.redeem(ip, &metrics).is_ok());
        assert!(limits.redeem(ip, &metrics).is_ok());
        match limits.redeem(ip, &metrics) {
            Err(ApiError::RateLimited { retry_after, .. }) => {
                assert!(retry_after > Duration::from_secs(50), "{retry_after:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another client has its own bucket.
        assert!(limits.redeem([10, 0, 0, 2].into(), &metrics).is_ok());
        assert!(metrics
            .encode()
            .contains("sessiondb_rate_limited_total{limit=\"redeem\"} 1"));
    }
}
