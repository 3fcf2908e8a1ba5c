//! Polling a condition until it holds or a deadline passes.
//!
//! This is the only place in the crate that sleeps: a short interval between
//! attempts, bounded by the deadline. Nothing ever sleeps "long enough" for
//! something to happen.

use std::thread;
use std::time::{Duration, Instant};

use crate::LocalError;

/// Pause between two attempts.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Why a check did not succeed yet.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Not yet; try again. Carries the observed state for the timeout error.
    Wait(String),
    /// Will never succeed; stop polling with this error.
    Abort(LocalError),
}

impl Pending {
    /// Not ready yet, with a description of what was observed.
    pub(crate) fn wait(observed: impl Into<String>) -> Self {
        Self::Wait(observed.into())
    }
}

/// Errors inside a check are treated as "not yet" (the instance may still be
/// starting, loading, failing over, ...), so checks can use `?` freely.
impl From<LocalError> for Pending {
    fn from(err: LocalError) -> Self {
        Self::Wait(err.to_string())
    }
}

/// Calls `check` until it returns `Ok`, it returns [`Pending::Abort`], or
/// `timeout` has elapsed (then [`LocalError::Timeout`] with the last
/// observation). `check` runs at least once.
pub(crate) fn poll_until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, Pending>,
) -> Result<T, LocalError> {
    let started = Instant::now();
    let deadline = started + timeout;
    loop {
        let last = match check() {
            Ok(value) => return Ok(value),
            Err(Pending::Abort(err)) => return Err(err),
            Err(Pending::Wait(observed)) => observed,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(LocalError::Timeout {
                what: what.to_owned(),
                waited: now.duration_since(started),
                last,
            });
        }
        thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_success() {
        let mut calls = 0;
        let value = poll_until("three calls", Duration::from_secs(5), || {
            calls += 1;
            if calls < 3 {
                Err(Pending::wait(format!("call {calls}")))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(value.unwrap(), 3);
    }

    #[test]
    fn times_out_with_the_last_observation() {
        let err = poll_until("never", Duration::from_millis(120), || -> Result<(), _> {
            Err(Pending::wait("still no"))
        })
        .unwrap_err();
        assert!(
            matches!(err, LocalError::Timeout { ref last, .. } if last == "still no"),
            "{err}"
        );
    }

    #[test]
    fn abort_stops_immediately() {
        let err = poll_until("abort", Duration::from_secs(30), || -> Result<(), _> {
            Err(Pending::Abort(LocalError::InvalidOptions("boom".into())))
        })
        .unwrap_err();
        assert!(matches!(err, LocalError::InvalidOptions(_)));
    }
}
