//! Directories that hold secrets (configs with `requirepass`/`masterauth`/`auth-pass`,
//! password files, AOF and RDB files) are owner-only.
//!
//! Redis rewrites `redis.conf` and Sentinel `sentinel.conf` with mode 0644 on
//! `CONFIG REWRITE` and on every failover, so the files' own modes cannot be relied on;
//! the directory around them is what keeps other users out. An existing directory is
//! tightened to 0700, and one that belongs to another user is refused.

use std::fs::{self, DirBuilder, Permissions};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use crate::error::LocalError;

/// Creates `dir` (and missing parents) with mode 0700, or tightens an existing one to
/// 0700 after checking that the current user owns it.
pub fn ensure_private_dir(dir: &Path) -> Result<(), LocalError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| LocalError::io(format!("creating {}", dir.display()), e))?;
    check_private_dir(dir)
}

/// Checks that `dir` belongs to the current user and tightens it to 0700 if it is
/// open to others (used again after servers started, which may have changed nothing but
/// are checked anyway).
pub fn check_private_dir(dir: &Path) -> Result<(), LocalError> {
    let meta =
        fs::metadata(dir).map_err(|e| LocalError::io(format!("reading {}", dir.display()), e))?;
    let me = current_uid()?;
    if meta.uid() != me {
        return Err(LocalError::InvalidOptions(format!(
            "{} belongs to uid {}, not to the current user (uid {me}); it would hold secrets, \
             so use a directory of your own",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(|e| {
            LocalError::io(format!("restricting {} to mode 0700", dir.display()), e)
        })?;
    }
    Ok(())
}

/// The effective uid of this process (the owner of `/proc/self`).
fn current_uid() -> Result<u32, LocalError> {
    fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| LocalError::io("reading /proc/self", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn new_and_existing_directories_end_up_owner_only() {
        let temp = tempfile::tempdir().unwrap();
        let fresh = temp.path().join("a/b");
        ensure_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let open = temp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700, "an existing directory is tightened");
    }
}
