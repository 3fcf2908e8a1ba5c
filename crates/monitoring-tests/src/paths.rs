//! Where the monitoring assets live in the repository.

use std::fs;
use std::path::{Path, PathBuf};

use crate::Error;

/// The monitoring areas; each has `prometheus/rules/<area>.rules.yml` and
/// `prometheus/tests/<area>.test.yml`.
pub const AREAS: [&str; 3] = ["redis", "sentinel", "sessiondb"];

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `deploy/monitoring/`.
pub fn monitoring_dir() -> PathBuf {
    repo_root().join("deploy").join("monitoring")
}

/// `deploy/monitoring/prometheus/`.
pub fn prometheus_dir() -> PathBuf {
    monitoring_dir().join("prometheus")
}

/// The rules file of `area`.
pub fn rules_file(area: &str) -> PathBuf {
    prometheus_dir()
        .join("rules")
        .join(format!("{area}.rules.yml"))
}

/// The `promtool test rules` file of `area`.
pub fn rule_test_file(area: &str) -> PathBuf {
    prometheus_dir()
        .join("tests")
        .join(format!("{area}.test.yml"))
}

/// The recorded list of metric names redis_exporter exports.
pub fn exporter_metrics_file() -> PathBuf {
    prometheus_dir().join("redis-exporter-metrics.txt")
}

/// `deploy/monitoring/alertmanager/`.
pub fn alertmanager_dir() -> PathBuf {
    monitoring_dir().join("alertmanager")
}

/// `deploy/monitoring/grafana/`.
pub fn grafana_dir() -> PathBuf {
    monitoring_dir().join("grafana")
}

/// `docs/metrics.md`.
pub fn metrics_doc() -> PathBuf {
    repo_root().join("docs").join("metrics.md")
}

/// `docs/runbooks.md`.
pub fn runbooks_doc() -> PathBuf {
    repo_root().join("docs").join("runbooks.md")
}

/// Reads a whole text file.
pub fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The files in `dir` whose names end with `suffix`, sorted.
pub fn files_ending_with(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, Error> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(suffix))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
