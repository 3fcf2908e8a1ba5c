//! Helpers shared by the integration tests.

// Each test binary uses a different subset.
#![allow(dead_code, unused_imports)]

use std::path::Path;

/// True while `/proc/<pid>` exists.
pub(crate) fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

pub(crate) use sessiondb_local::testkit::eventually;
