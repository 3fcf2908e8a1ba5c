//! Small helpers shared by the drills.

use sessiondb_drills::probe::{self, Access, Role};

pub(crate) use sessiondb_local::testkit::eventually;

/// The role of the data node on `port`, with the error as text for assertions.
pub(crate) fn role(access: &Access, port: u16) -> Result<Role, String> {
    probe::role(access, port).map_err(|e| e.to_string())
}
