//! The store's clock for session reads, without asking Redis on every read.
//!
//! Scripts read Redis's `TIME` themselves (ADR 0002). A session read runs no script; it
//! needs the store's clock only to compare with the record's idle expiry. Instead of
//! sending `TIME` next to every `GET`, a [`ReadClock`] samples `TIME` once a second and
//! extrapolates with the monotonic clock of this process.
//!
//! The estimate never runs behind Redis: `TIME` answers with Redis's clock at some moment
//! between sending the command (`t0`) and receiving the answer, so Redis's clock at a
//! later local instant `t` is at most `TIME + (t - t0)`, and the estimate is exactly that
//! bound. It is ahead of Redis by at most the sample's round trip, which is accepted only
//! up to [`MAX_ROUND_TRIP`]: a read may treat a session as idle-expired that much early,
//! never late. A sample older than [`MAX_AGE`] (Redis unreachable, a stalled runtime) is
//! not used; reads then send `TIME` with their `GET` again. Only for one master
//! (standalone, Sentinel): on Cluster each record's node answers with its own clock, so
//! reads there keep asking that node.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fred::clients::Pool;
use fred::interfaces::ClientLike;
use fred::types::Value;
use tokio::task::AbortHandle;

/// How often `TIME` is sampled.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// The oldest sample a read uses.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(3);
/// The slowest `TIME` round trip accepted as a sample: the most a read can be early.
pub(crate) const MAX_ROUND_TRIP: Duration = Duration::from_millis(20);

/// Estimates of Redis's clock, sampled by a background task started at the first read.
#[derive(Debug)]
pub(crate) struct ReadClock {
    pool: Pool,
    state: Arc<Samples>,
    sampler: OnceLock<AbortHandle>,
}

/// The last accepted sample, as two atomics (a torn read pairs an offset with the
/// instant of the sample before or after it, which only shifts the age check by one
/// interval).
#[derive(Debug)]
struct Samples {
    /// The zero of this process's monotonic clock.
    epoch: Instant,
    /// Redis's clock minus the monotonic clock at the sample's `t0`, in microseconds.
    offset_us: AtomicI64,
    /// When the sample was taken (monotonic microseconds since `epoch`); 0 = none yet.
    taken_us: AtomicU64,
}

impl ReadClock {
    pub(crate) fn new(pool: Pool) -> Self {
        Self {
            pool,
            state: Arc::new(Samples {
                epoch: Instant::now(),
                offset_us: AtomicI64::new(0),
                taken_us: AtomicU64::new(0),
            }),
            sampler: OnceLock::new(),
        }
    }

    /// Redis's clock in Unix milliseconds, never behind it; `None` until a fresh sample
    /// exists (the first call starts the sampler).
    pub(crate) fn now_ms(&self) -> Option<u64> {
        if self.sampler.get().is_none() {
            self.start();
            return None;
        }
        let now_us = self.state.mono_us(Instant::now());
        let taken = self.state.taken_us.load(Ordering::Acquire);
        if taken == 0 || now_us.saturating_sub(taken) > micros(MAX_AGE) {
            return None;
        }
        let offset = self.state.offset_us.load(Ordering::Acquire);
        let redis_us = i64::try_from(now_us).ok()?.checked_add(offset)?;
        // Round up: Redis's millisecond is the floor of its microseconds.
        u64::try_from(redis_us).ok().map(|us| us.div_ceil(1000))
    }

    fn start(&self) {
        let pool = self.pool.clone();
        let state = Arc::clone(&self.state);
        self.sampler.get_or_init(|| {
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    state.sample(&pool).await;
                }
            })
            .abort_handle()
        });
    }
}

impl Drop for ReadClock {
    fn drop(&mut self) {
        if let Some(sampler) = self.sampler.get() {
            sampler.abort();
        }
    }
}

impl Samples {
    fn mono_us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    async fn sample(&self, pool: &Pool) {
        let sent = Instant::now();
        let answer: Result<Value, _> = pool
            .next()
            .custom(fred::cmd!("TIME"), Vec::<Value>::new())
            .await;
        let received = Instant::now();
        let Ok(Value::Array(time)) = answer else {
            return;
        };
        let part = |i: usize| time.get(i).and_then(Value::as_u64);
        let (Some(secs), Some(micros_part)) = (part(0), part(1)) else {
            return;
        };
        if received.duration_since(sent) > MAX_ROUND_TRIP {
            return;
        }
        if let Some(offset) = offset_us(secs * 1_000_000 + micros_part, self.mono_us(sent)) {
            self.offset_us.store(offset, Ordering::Release);
            // Never 0, which means "no sample".
            self.taken_us
                .store(self.mono_us(sent).max(1), Ordering::Release);
        }
    }
}

/// Redis's clock minus the local monotonic clock, both in microseconds.
fn offset_us(redis_us: u64, mono_us: u64) -> Option<i64> {
    i64::try_from(redis_us)
        .ok()?
        .checked_sub(i64::try_from(mono_us).ok()?)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

    use super::*;
    use crate::config::ConnectionConfig;
    use crate::store::{connect_pool, server_config};
    use sessiondb_local::testkit::eventually_async;
    use sessiondb_local::{RedisOptions, RedisServer};

    #[test]
    fn the_offset_maps_the_monotonic_clock_onto_redis_time() {
        let offset = offset_us(1_700_000_000_123_456, 5_000_000).unwrap();
        assert_eq!(5_000_000 + offset, 1_700_000_000_123_456);
        assert_eq!(offset_us(u64::MAX, 0), None);
    }

    async fn redis_ms(pool: &Pool) -> u64 {
        let (secs, micros): (u64, u64) = pool
            .next()
            .custom(fred::cmd!("TIME"), Vec::<Value>::new())
            .await
            .unwrap();
        secs * 1000 + micros / 1000
    }

    /// Against a real Redis: the estimate is never behind `TIME` asked before it, and
    /// ahead of `TIME` asked after it by less than the accepted round trip.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_estimate_is_never_behind_redis_and_close_to_it() {
        let redis = RedisServer::start(RedisOptions::default()).unwrap();
        let conn = ConnectionConfig::standalone("127.0.0.1", redis.port());
        let pool = connect_pool(&conn, server_config(&conn), 2).await.unwrap();
        let clock = ReadClock::new(pool.clone());
        assert_eq!(clock.now_ms(), None, "no estimate before the first sample");
        eventually_async("a first sample", Duration::from_secs(10), || async {
            clock.now_ms().ok_or("no sample yet")
        })
        .await;
        let slack = u64::try_from(MAX_ROUND_TRIP.as_millis()).unwrap() + 1;
        // Long enough to span several samples.
        let until = Instant::now() + 3 * SAMPLE_INTERVAL;
        let mut checked = 0;
        while Instant::now() < until {
            let before = redis_ms(&pool).await;
            let estimate = clock.now_ms().unwrap();
            let after = redis_ms(&pool).await;
            assert!(
                estimate >= before,
                "estimate {estimate} behind Redis {before}"
            );
            assert!(
                estimate <= after + slack,
                "estimate {estimate} ahead of Redis {after} by more than {slack} ms"
            );
            checked += 1;
        }
        assert!(checked > 10);
    }
}
