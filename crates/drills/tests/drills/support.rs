//! Small helpers shared by the drills.

use sessiondb_drills::probe::{self, Role};

pub(crate) use sessiondb_local::testkit::eventually;

/// The role of the data node on `port`, as text for assertions.
pub(crate) fn role(port: u16) -> Result<Role, String> {
    probe::role(port).map_err(|e| e.to_string())
}
