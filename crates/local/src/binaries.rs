//! Locating the Redis binaries on `PATH`.

use std::env;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::LocalError;

/// How to install Redis; shown verbatim to users by the CLI.
const INSTALL_HINT: &str = "install Redis 7 or newer \
    (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`) \
    and make sure its binaries are on PATH";

/// Finds `redis-server` on `PATH`.
///
/// When it is missing the error explains how to install it
/// (`apt-get install redis-server` / `brew install redis`).
pub fn redis_server_binary() -> Result<PathBuf, LocalError> {
    find_required("redis-server")
}

/// Finds `redis-cli` on `PATH` (installed alongside `redis-server`).
pub fn redis_cli_binary() -> Result<PathBuf, LocalError> {
    find_required("redis-cli")
}

/// How to install `setpriv`; shown verbatim to users by the CLI.
const SETPRIV_HINT: &str = "install util-linux \
    (Debian/Ubuntu: `sudo apt-get install util-linux`), which provides `setpriv`";

/// A launcher prefix (for [`RedisOptions::launcher`](crate::RedisOptions::launcher)
/// and [`SentinelOptions::launcher`](crate::SentinelOptions::launcher)) that
/// makes the kernel SIGKILL the launched process when the thread that
/// spawned it exits: `setpriv --pdeathsig KILL --`.
///
/// This is how a supervisor guarantees that no Redis process outlives it,
/// even when the supervisor itself is killed with SIGKILL (and drop guards
/// cannot run). The parent-death signal is tied to the spawning *thread*:
/// spawn (and restart) the processes from a thread that lives as long as
/// they should. Linux only; `setpriv` comes with util-linux.
pub fn parent_death_launcher() -> Result<Vec<OsString>, LocalError> {
    let setpriv = find_on_path(OsStr::new("setpriv")).ok_or(LocalError::BinaryNotFound {
        binary: "setpriv",
        hint: SETPRIV_HINT,
    })?;
    Ok(vec![
        setpriv.into_os_string(),
        "--pdeathsig".into(),
        "KILL".into(),
        "--".into(),
    ])
}

/// How to launch a Sentinel: the binary plus any arguments that must follow
/// the configuration file.
#[derive(Debug, Clone)]
pub(crate) struct SentinelLauncher {
    /// `redis-sentinel`, or `redis-server` as a fallback.
    pub(crate) binary: PathBuf,
    /// `["--sentinel"]` when falling back to `redis-server`.
    pub(crate) args_after_conf: Vec<String>,
}

/// Finds `redis-sentinel`, falling back to `redis-server --sentinel` (the
/// same executable) when only the server is installed.
pub(crate) fn sentinel_launcher() -> Result<SentinelLauncher, LocalError> {
    if let Some(binary) = find_on_path(OsStr::new("redis-sentinel")) {
        return Ok(SentinelLauncher {
            binary,
            args_after_conf: Vec::new(),
        });
    }
    Ok(SentinelLauncher {
        binary: redis_server_binary()?,
        args_after_conf: vec!["--sentinel".to_owned()],
    })
}

/// Finds a monitoring program of `sessiondb local up --monitoring` on
/// `PATH`: `prometheus-redis-exporter`, `prometheus` or
/// `prometheus-alertmanager` (the Debian package names). The error says
/// which package to install.
pub fn monitoring_binary(binary: &'static str) -> Result<PathBuf, LocalError> {
    let hint = match binary {
        "prometheus-redis-exporter" => {
            "install it (Debian/Ubuntu: `sudo apt-get install prometheus-redis-exporter`)"
        }
        "prometheus" => "install it (Debian/Ubuntu: `sudo apt-get install prometheus`)",
        "prometheus-alertmanager" => {
            "install it (Debian/Ubuntu: `sudo apt-get install prometheus-alertmanager`)"
        }
        _ => "install it and make sure it is on PATH",
    };
    find_on_path(OsStr::new(binary)).ok_or(LocalError::BinaryNotFound { binary, hint })
}

fn find_required(binary: &'static str) -> Result<PathBuf, LocalError> {
    find_on_path(OsStr::new(binary)).ok_or(LocalError::BinaryNotFound {
        binary,
        hint: INSTALL_HINT,
    })
}

/// The first executable file called `name` in the directories of `PATH`.
fn find_on_path(name: &OsStr) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_error_tells_how_to_install() {
        let err = find_required("definitely-not-a-redis-binary").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("apt-get install redis-server"),
            "{message}"
        );
        assert!(message.contains("brew install redis"), "{message}");
    }
}
