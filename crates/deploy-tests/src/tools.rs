//! The external tools the tests run. `.ci/run` installs the Python tools into a
//! virtual environment and the npm schema packages into a directory, both under
//! [`DEFAULT_TOOLS_DIR`] (or `SESSIONDB_DEPLOY_TOOLS`); kubectl, node and the Redis
//! binaries come from `PATH`. Nothing here skips: a missing tool is an error that
//! says how to get it.

use std::env;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Where `.ci/run` installs the tools.
pub const DEFAULT_TOOLS_DIR: &str = "/opt/sessiondb-ci/deploy-tools";

/// The tools directory: `SESSIONDB_DEPLOY_TOOLS` or [`DEFAULT_TOOLS_DIR`].
pub fn tools_dir() -> PathBuf {
    env::var_os("SESSIONDB_DEPLOY_TOOLS")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_TOOLS_DIR), PathBuf::from)
}

/// An executable found on `PATH`.
pub fn on_path(name: &str) -> Result<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    for dir in env::split_paths(&path) {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    bail!("`{name}` is not on PATH; `.ci/run` installs it (see docs/deploy/kubernetes.md, Tests)")
}

/// `kubectl` (its built-in Kustomize renders the overlays).
pub fn kubectl() -> Result<PathBuf> {
    on_path("kubectl")
}

/// A command of the Python virtual environment (`kubernetes-validate`, `checkov`,
/// `hadolint`).
pub fn venv_tool(name: &str) -> Result<PathBuf> {
    let path = tools_dir().join("venv/bin").join(name);
    if is_executable(&path) {
        Ok(path)
    } else {
        bail!(
            "{} is missing; `.ci/run` installs the pinned Python tools there \
             (or set SESSIONDB_DEPLOY_TOOLS to a directory with venv/bin/{name})",
            path.display()
        )
    }
}

/// The `node_modules` directory holding the `@kubernetes-models/*` schema packages.
pub fn schema_modules() -> Result<PathBuf> {
    let dir = tools_dir().join("node/node_modules");
    for package in ["argo-cd", "prometheus-operator", "cert-manager"] {
        let path = dir.join("@kubernetes-models").join(package);
        if !path.is_dir() {
            bail!(
                "{} is missing; `.ci/run` installs the npm schema packages there",
                path.display()
            );
        }
    }
    Ok(dir)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
