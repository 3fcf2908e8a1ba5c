//! Helpers shared by the integration tests.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

/// True while `/proc/<pid>` exists.
pub(crate) fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `check` every 100 ms until it returns `Some`, panicking with
/// `what` and the last observation after `timeout`.
pub(crate) fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
