//! Helpers for tests that drive real processes: the one way to wait for a condition,
//! blocking ([`eventually`]) or in async tests ([`eventually_async`], feature
//! `async-testkit`).

use std::time::Duration;

use crate::poll::{poll_until, Pending};

/// How often [`eventually`] and `eventually_async` check: the crate's own interval.
pub const POLL_INTERVAL: Duration = crate::poll::POLL_INTERVAL;

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok`, and panics with `what`
/// and the last observation once `timeout` has passed. `check` runs at least once.
/// Tests wait this way, never by sleeping a fixed time (the crate's own waits use the
/// same loop).
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    poll_until(what, timeout, || check().map_err(Pending::wait)).unwrap_or_else(|e| panic!("{e}"))
}

/// [`eventually`] for async tests: awaits `check` every [`POLL_INTERVAL`] until it
/// returns `Ok`, and panics with `what` and the last observation (the last `Err`, e.g. a
/// `String` or an `anyhow::Error`) once `timeout` has passed. `check` runs at least
/// once. Sleeps on the tokio timer, so other tasks of the test keep running meanwhile.
#[cfg(feature = "async-testkit")]
pub async fn eventually_async<T, E, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = std::time::Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if started.elapsed() >= timeout => {
                panic!("timed out after {timeout:?} waiting for {what}; last observed: {last:#}")
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}
