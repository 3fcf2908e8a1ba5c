//! The recorded list of metric names redis_exporter exports
//! (`deploy/monitoring/prometheus/redis-exporter-metrics.txt`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::paths;
use crate::Error;

/// What the list says: the exporter version it was recorded from, and the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMetrics {
    /// The exporter's `version` label (`redis_exporter_build_info`), e.g. `1.45.0-2+b4`.
    pub version: String,
    /// Every recorded sample name.
    pub names: BTreeSet<String>,
}

const VERSION_PREFIX: &str = "# version: ";

impl RecordedMetrics {
    /// Reads the committed list.
    pub fn load() -> Result<Self, Error> {
        let path = paths::exporter_metrics_file();
        Self::parse(&path, &paths::read(&path)?)
    }

    /// Parses the list: comment lines (`#`), one `# version: <v>` line, then one name
    /// per line.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let error = |message: String| Error::Format {
            path: path.to_path_buf(),
            message,
        };
        let mut version = None;
        let mut names = BTreeSet::new();
        let mut previous: Option<&str> = None;
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix(VERSION_PREFIX) {
                version = Some(v.trim().to_owned());
            } else if line.starts_with('#') || line.is_empty() {
                continue;
            } else {
                let valid = line.starts_with("redis_")
                    && line.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(error(format!(
                        "{line:?} is not a redis_exporter metric name"
                    )));
                }
                if previous.is_some_and(|p| p >= line) {
                    return Err(error(format!(
                        "names must be sorted and unique; see {line:?}"
                    )));
                }
                previous = Some(line);
                names.insert(line.to_owned());
            }
        }
        let version = version.ok_or_else(|| error(format!("no `{VERSION_PREFIX}` line")))?;
        Ok(Self { version, names })
    }

    /// The file's text for `version` and `names` (what `parse` reads back).
    pub fn render(version: &str, names: &BTreeSet<String>) -> String {
        let mut out = String::from(
            "# Metric names redis_exporter exports for a Redis 7.0 master (with a replica,\n\
             # an expiring key and an error reply), its replica, a Sentinel and an unreachable\n\
             # target, scraped with -include-config-metrics. Recorded from the installed\n\
             # Debian package prometheus-redis-exporter by the test\n\
             # the_installed_redis_exporter_exports_every_recorded_metric\n\
             # (crates/monitoring-tests), which checks every name below is still exported;\n\
             # rewrite with UPDATE_EXPORTER_METRICS=1 cargo test -p sessiondb-monitoring-tests.\n\
             # Alert rules and dashboards may only use names listed here or in docs/metrics.md.\n",
        );
        out.push_str(VERSION_PREFIX);
        out.push_str(version);
        out.push('\n');
        for name in names {
            out.push_str(name);
            out.push('\n');
        }
        out
    }

    /// The upstream part of the version (`1.45.0` of `1.45.0-2+b4`).
    pub fn upstream_version(version: &str) -> &str {
        version.split('-').next().unwrap_or(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_and_parse_round_trip() {
        let names: BTreeSet<String> = ["redis_up", "redis_db_keys"].map(String::from).into();
        let text = RecordedMetrics::render("1.45.0-2+b4", &names);
        let parsed = RecordedMetrics::parse(Path::new("x"), &text).expect("round trip");
        assert_eq!(parsed.names, names);
        assert_eq!(RecordedMetrics::upstream_version(&parsed.version), "1.45.0");
    }

    #[test]
    fn unsorted_or_foreign_names_are_refused() {
        let path = Path::new("x");
        let unsorted = "# version: 1\nredis_up\nredis_db_keys\n";
        assert!(RecordedMetrics::parse(path, unsorted).is_err());
        let foreign = "# version: 1\nsessiondb_x\n";
        assert!(RecordedMetrics::parse(path, foreign).is_err());
        assert!(RecordedMetrics::parse(path, "redis_up\n").is_err());
    }
}
