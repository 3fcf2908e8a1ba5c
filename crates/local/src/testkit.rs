//! Helpers for tests that drive real processes: the one way to wait for a condition.

use std::time::{Duration, Instant};

/// How often [`eventually`] checks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok`, and panics with `what`
/// and the last observation once `timeout` has passed. `check` runs at least once.
/// Tests wait this way, never by sleeping a fixed time.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if started.elapsed() >= timeout => {
                panic!("timed out after {timeout:?} waiting for {what}; last observed: {last}")
            }
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}
