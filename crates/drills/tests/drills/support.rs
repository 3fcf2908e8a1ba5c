//! Small helpers shared by the drills.

use std::time::{Duration, Instant};

use sessiondb_drills::probe::{self, Role};
use sessiondb_drills::POLL_INTERVAL;

/// Polls `check` (blocking) until it returns `Ok`, panicking with the last
/// observation once `deadline` has passed.
pub(crate) fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if started.elapsed() >= deadline => {
                panic!("timed out after {deadline:?} waiting for {what}; last observed: {last}")
            }
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// The role of the data node on `port`, as text for assertions.
pub(crate) fn role(port: u16) -> Result<Role, String> {
    probe::role(port).map_err(|e| e.to_string())
}
