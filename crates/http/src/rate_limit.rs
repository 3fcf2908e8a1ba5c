//! Token-bucket rate limits kept in process memory (GCRA, `governor`): deletion-token
//! redemptions per client address (per /64 for IPv6, see [`client_key`]) and refreshes
//! per refresh-token family.
//!
//! Each API instance limits on its own, so N instances allow up to N times the
//! configured rate; the limits exist to make guessing and hammering expensive, not to
//! meter exactly. Memory stays bounded: the redemption limiter tracks at most
//! [`MAX_KEYS`] client addresses and the refresh limiter [`REFRESH_MAX_KEYS`] families,
//! and idle keys are forgotten by [`RateLimits::forget_idle`], which the server calls
//! every [`FORGET_INTERVAL`].

use std::hash::{BuildHasher as _, Hash, RandomState};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::StateStore;
use governor::{Quota, RateLimiter};

use crate::config::{HttpConfig, RateLimit};
use crate::error::ApiError;
use sessiondb_metrics::Metrics;

/// How often idle rate-limit keys are forgotten. Short, because anyone can mint keys on
/// the redeem route (one per address), and a full key table refuses new clients until
/// idle keys are gone.
pub(crate) const FORGET_INTERVAL: Duration = Duration::from_secs(10);

/// Most keys one limiter tracks. The redeem limiter is keyed by unauthenticated client
/// addresses, so without a bound a flood of addresses (or of IPv6 /64s) would grow the
/// table without limit. 100 000 keys cost a few MiB; more distinct clients than that
/// inside one bucket period is an attack, and new clients are then refused (fail
/// closed) rather than let through unlimited. Concurrent first requests of new clients
/// may overshoot the bound by at most their number.
pub(crate) const MAX_KEYS: usize = 100_000;

/// Most refresh-token families the refresh limiter tracks. A family stays tracked for
/// two emission intervals after its last refresh (2 s at the default 60 a minute), and a
/// full table is pruned at most every [`PRUNE_SPACING`], so the table must hold about
/// three seconds of distinct families: with [`MAX_KEYS`] an instance refused 7 % of
/// legitimate refreshes at 36,000 a second (docs/benchmarks.md). Only API-key holders
/// presenting well-formed refresh tokens add keys, and a key is a 64-bit hash: a full
/// table grew the process by 34 MiB (a release build filling it with a million families).
pub(crate) const REFRESH_MAX_KEYS: usize = 1_000_000;

/// Least time between two prunes triggered by a full key table: a prune walks every
/// key, and pruning on each request of a flood would turn the flood into CPU load.
const PRUNE_SPACING: Duration = Duration::from_secs(1);

/// The bucket a client address draws from. An IPv6 client is keyed by its /64 — a
/// host is usually given a whole /64 and may use any address in it, so keying by full
/// address would give it unlimited buckets. IPv4 (and IPv4-mapped IPv6) addresses are
/// keyed by the IPv4 address.
pub(crate) fn client_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The limiter's state store, a [`DashMap`] shared with [`Keyed`] so the key bound can
/// ask whether a key is already tracked.
struct SharedStore<K: Hash + Eq + Clone>(Arc<DashMapStateStore<K>>);

impl<K: Hash + Eq + Clone> StateStore for SharedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        StateStore::measure_and_replace(&*self.0, key, f)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for SharedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.0, drop_below);
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One keyed limiter with a bounded number of keys.
struct Keyed<K: Hash + Eq + Clone> {
    /// Which limit, for metrics and problem details.
    name: &'static str,
    limiter: RateLimiter<K, SharedStore<K>, DefaultClock>,
    /// The limiter's state, to tell a tracked key from a new one.
    keys: Arc<DashMapStateStore<K>>,
    /// Most keys tracked ([`MAX_KEYS`] outside tests).
    max_keys: usize,
    /// When a full table was last pruned, to space such prunes out.
    last_prune: Mutex<Option<Instant>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(name: &'static str, limit: RateLimit, max_keys: usize) -> Self {
        // The settings layer rejects zero; clamp anyway so a zero cannot panic here.
        let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
        let keys: Arc<DashMapStateStore<K>> = Arc::new(DashMap::default());
        Self {
            name,
            limiter: RateLimiter::new(
                Quota::per_minute(per_minute).allow_burst(burst),
                SharedStore(keys.clone()),
                DefaultClock::default(),
            ),
            keys,
            max_keys,
            last_prune: Mutex::new(None),
        }
    }

    fn check(&self, key: &K, metrics: &Metrics) -> Result<(), ApiError> {
        if !self.admit(key) {
            metrics.record_rate_limited(self.name);
            tracing::debug!(limit = self.name, "rate limited: key table full");
            return Err(ApiError::RateLimited {
                limit: self.name,
                retry_after: FORGET_INTERVAL,
            });
        }
        self.limiter.check_key(key).map_err(|not_until| {
            metrics.record_rate_limited(self.name);
            tracing::debug!(limit = self.name, "rate limited");
            ApiError::RateLimited {
                limit: self.name,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }
        })
    }

    /// Whether `key` may draw from a bucket: it is tracked already, or there is room
    /// for it — if need be after dropping idle keys.
    fn admit(&self, key: &K) -> bool {
        if self.keys.len() < self.max_keys || self.keys.contains_key(key) {
            return true;
        }
        self.prune_full_table();
        self.keys.len() < self.max_keys
    }

    /// Drops idle keys, unless another request is doing it or it was done less than
    /// [`PRUNE_SPACING`] ago.
    fn prune_full_table(&self) {
        let Ok(mut last) = self.last_prune.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < PRUNE_SPACING) {
            return;
        }
        *last = Some(now);
        self.limiter.retain_recent();
        let tracked = self.keys.len();
        if tracked >= self.max_keys {
            tracing::warn!(
                limit = self.name,
                tracked,
                "rate limit tracks its maximum number of clients: refusing new ones"
            );
        }
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The API's rate limits.
pub(crate) struct RateLimits {
    redeem: Keyed<IpAddr>,
    /// Keyed by a hash of the family id under this process's random key: a collision
    /// (two families sharing a bucket) cannot be aimed at, and is rare at these sizes.
    refresh: Keyed<u64>,
    family_hasher: RandomState,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("redeem_keys", &self.redeem.keys.len())
            .field("refresh_keys", &self.refresh.keys.len())
            .finish()
    }
}

impl RateLimits {
    /// Limits as configured.
    pub(crate) fn new(config: &HttpConfig) -> Self {
        Self::with_max_keys(config, MAX_KEYS, REFRESH_MAX_KEYS)
    }

    fn with_max_keys(config: &HttpConfig, redeem_keys: usize, refresh_keys: usize) -> Self {
        Self {
            redeem: Keyed::new("redeem", config.redeem_rate, redeem_keys),
            refresh: Keyed::new("refresh", config.refresh_rate, refresh_keys),
            family_hasher: RandomState::new(),
        }
    }

    /// Takes one redemption attempt from the bucket of `client`'s [`client_key`].
    pub(crate) fn redeem(&self, client: IpAddr, metrics: &Metrics) -> Result<(), ApiError> {
        self.redeem.check(&client_key(client), metrics)
    }

    /// Takes one refresh from the family's bucket.
    pub(crate) fn refresh(&self, family_id: &str, metrics: &Metrics) -> Result<(), ApiError> {
        self.refresh
            .check(&self.family_hasher.hash_one(family_id), metrics)
    }

    /// Drops the state of keys whose buckets are full again (nothing to remember).
    pub(crate) fn forget_idle(&self) {
        self.redeem.forget_idle();
        self.refresh.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn limits(per_minute: u32, burst: u32, max_keys: usize) -> RateLimits {
        RateLimits::with_max_keys(
            &HttpConfig {
                redeem_rate: RateLimit { per_minute, burst },
                ..HttpConfig::default()
            },
            max_keys,
            max_keys,
        )
    }

    #[test]
    fn burst_then_refusal_with_a_retry_delay() {
        let metrics = Metrics::new();
        let limits = limits(1, 2, MAX_KEYS);
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

    #[test]
    fn ipv6_is_keyed_by_its_64_and_ipv4_by_the_address() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_ne!(
            client_key(ip("198.51.100.7")),
            client_key(ip("198.51.100.8"))
        );
        assert_eq!(client_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_a_bucket() {
        let metrics = Metrics::new();
        let limits = limits(1, 1, MAX_KEYS);
        assert!(limits.redeem(ip("2001:db8::1"), &metrics).is_ok());
        assert!(limits.redeem(ip("2001:db8::2:3:4"), &metrics).is_err());
        assert!(limits.redeem(ip("2001:db8:0:1::1"), &metrics).is_ok());
    }

    #[test]
    fn a_full_key_table_refuses_new_keys_but_serves_tracked_ones() {
        let metrics = Metrics::new();
        // Buckets refill slowly: no key goes idle during the test.
        let limits = limits(1, 5, 2);
        assert!(limits.redeem(ip("192.0.2.1"), &metrics).is_ok());
        assert!(limits.redeem(ip("2001:db8::1"), &metrics).is_ok());
        match limits.redeem(ip("192.0.2.3"), &metrics) {
            Err(ApiError::RateLimited { limit, retry_after }) => {
                assert_eq!(limit, "redeem");
                assert_eq!(retry_after, FORGET_INTERVAL);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Tracked clients keep their buckets, another address of a tracked /64 too.
        assert!(limits.redeem(ip("192.0.2.1"), &metrics).is_ok());
        assert!(limits.redeem(ip("2001:db8::ffff:1"), &metrics).is_ok());
        assert_eq!(limits.redeem.keys.len(), 2);
        assert!(metrics
            .encode()
            .contains("sessiondb_rate_limited_total{limit=\"redeem\"} 1"));
    }

    #[test]
    fn refreshes_are_limited_per_family_and_many_families_fit() {
        let metrics = Metrics::new();
        let limits = RateLimits::new(&HttpConfig {
            refresh_rate: RateLimit {
                per_minute: 1,
                burst: 2,
            },
            ..HttpConfig::default()
        });
        assert!(limits.refresh("family-a", &metrics).is_ok());
        assert!(limits.refresh("family-a", &metrics).is_ok());
        assert!(limits.refresh("family-a", &metrics).is_err());
        // Three times what the redemption limiter tracks, all within one bucket period:
        // none is refused for want of room.
        for i in 0..3 * MAX_KEYS {
            let family = format!("family-{i}");
            assert!(limits.refresh(&family, &metrics).is_ok(), "{family}");
        }
        assert_eq!(limits.refresh.keys.len(), 3 * MAX_KEYS + 1);
        assert!(
            limits.refresh("family-a", &metrics).is_err(),
            "still limited"
        );
    }

    #[test]
    fn a_full_key_table_makes_room_by_dropping_idle_keys() {
        let metrics = Metrics::new();
        // A bucket refills in 0.6 ms: keys go idle almost at once.
        let limits = limits(100_000, 1, 2);
        assert!(limits.redeem(ip("192.0.2.1"), &metrics).is_ok());
        assert!(limits.redeem(ip("192.0.2.2"), &metrics).is_ok());
        let deadline = Instant::now() + Duration::from_secs(10);
        while limits.redeem(ip("192.0.2.3"), &metrics).is_err() {
            assert!(Instant::now() < deadline, "idle keys were never dropped");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(limits.redeem.keys.len(), 1, "only the new key is tracked");
    }

    #[test]
    fn forgetting_idle_keys_empties_the_table() {
        let metrics = Metrics::new();
        let limits = limits(100_000, 1, MAX_KEYS);
        for i in 0..50u8 {
            assert!(limits.redeem([10, 0, 0, i].into(), &metrics).is_ok());
        }
        assert_eq!(limits.redeem.keys.len(), 50);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            limits.forget_idle();
            if limits.redeem.keys.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "idle keys were never forgotten");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
