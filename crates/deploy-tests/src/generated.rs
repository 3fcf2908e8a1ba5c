//! Files under `deploy/kubernetes` generated from the monitoring assets under
//! `deploy/monitoring`, because Kustomize can neither glob file names nor turn a
//! file's content into an object's field:
//!
//! - `components/monitoring/generated/kustomization.yaml`: ConfigMap generators
//!   listing the rule files, the Grafana dashboards and the Alertmanager config,
//!   read in place;
//! - `components/prometheus-operator/prometheusrules.yaml`: one `PrometheusRule`
//!   per rule file, its `spec` being the rule file itself.
//!
//! The test `generated_files_match_deploy_monitoring` fails when they are stale;
//! `SESSIONDB_REGENERATE=1 cargo test -p sessiondb-deploy-tests generated` rewrites
//! them.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::objects::parse_yaml;

/// Where the rule files are, relative to the repository root.
pub const RULES_DIR: &str = "deploy/monitoring/prometheus/rules";
/// Where the Grafana dashboards are (searched recursively for `*.json`).
pub const DASHBOARDS_DIR: &str = "deploy/monitoring/grafana";
/// Where the Alertmanager config is.
pub const ALERTMANAGER_DIR: &str = "deploy/monitoring/alertmanager";

/// The generated monitoring component, relative to the repository root.
pub const MONITORING_KUSTOMIZATION: &str =
    "deploy/kubernetes/components/monitoring/generated/kustomization.yaml";
/// The generated PrometheusRule objects, relative to the repository root.
pub const PROMETHEUS_RULES: &str =
    "deploy/kubernetes/components/prometheus-operator/prometheusrules.yaml";

const HEADER: &str = "# Generated from the files under deploy/monitoring by the test\n\
# generated_files_match_deploy_monitoring (crates/deploy-tests); do not edit. Rewrite with\n\
#   SESSIONDB_REGENERATE=1 cargo test -p sessiondb-deploy-tests generated\n";

/// A file with the contents it should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative to the repository root.
    pub path: PathBuf,
    /// What it should contain.
    pub contents: String,
}

/// The source files found under `deploy/monitoring`, relative to the repository root
/// and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// Prometheus rule files (`*.yml`, `*.yaml`).
    pub rules: Vec<String>,
    /// Grafana dashboards (`*.json`).
    pub dashboards: Vec<String>,
    /// The Alertmanager config (`alertmanager.yml` or `.yaml`), when there is one.
    pub alertmanager: Option<String>,
}

impl Sources {
    /// Scans the repository at `root`.
    pub fn scan(root: &Path) -> Result<Self> {
        let mut rules = files_with(root, RULES_DIR, &["yml", "yaml"], false)?;
        rules.sort();
        let mut dashboards = files_with(root, DASHBOARDS_DIR, &["json"], true)?;
        dashboards.sort();
        let alertmanager = ["alertmanager.yml", "alertmanager.yaml"]
            .iter()
            .map(|name| format!("{ALERTMANAGER_DIR}/{name}"))
            .find(|path| root.join(path).is_file());
        Ok(Self {
            rules,
            dashboards,
            alertmanager,
        })
    }
}

/// What the generated files should contain for the sources under `root`.
pub fn expected(root: &Path) -> Result<Vec<GeneratedFile>> {
    let sources = Sources::scan(root)?;
    Ok(vec![
        GeneratedFile {
            path: MONITORING_KUSTOMIZATION.into(),
            contents: monitoring_kustomization(&sources),
        },
        GeneratedFile {
            path: PROMETHEUS_RULES.into(),
            contents: prometheus_rules(root, &sources)?,
        },
    ])
}

fn monitoring_kustomization(sources: &Sources) -> String {
    // The component lives four levels below deploy/.
    let relative = |path: &str| format!("../../../../{}", path.trim_start_matches("deploy/"));
    let mut out = String::from(HEADER);
    out.push_str(
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator:\n",
    );
    let mut generator = |name: &str, files: &[String]| {
        let _ = writeln!(out, "  - name: {name}");
        if files.is_empty() {
            out.push_str("    files: []\n");
        } else {
            out.push_str("    files:\n");
            for file in files {
                let _ = writeln!(out, "      - {}", relative(file));
            }
        }
    };
    generator("prometheus-rules", &sources.rules);
    generator("grafana-dashboards", &sources.dashboards);
    generator("alertmanager-config", sources.alertmanager.as_slice());
    out
}

fn prometheus_rules(root: &Path, sources: &Sources) -> Result<String> {
    let mut out = String::from(HEADER);
    for file in &sources.rules {
        let text =
            fs::read_to_string(root.join(file)).with_context(|| format!("reading {file}"))?;
        check_rule_file(file, &text)?;
        let stem = Path::new(file)
            .file_stem()
            .and_then(|s| s.to_str())
            .with_context(|| format!("{file}: no file name"))?;
        let _ = write!(
            out,
            "---\n# Source: {file}\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n\
             metadata:\n  name: sessiondb-{stem}\n  labels:\n    app.kubernetes.io/name: sessiondb\n\
             spec:\n"
        );
        for line in text.lines().filter(|l| l.trim_end() != "---") {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    Ok(out)
}

/// A rule file must be one YAML mapping with `groups` as its only key, so that
/// indenting it under `spec:` gives the PrometheusRule's spec.
fn check_rule_file(file: &str, text: &str) -> Result<()> {
    if text
        .lines()
        .any(|l| l.starts_with('%') || l.starts_with("..."))
    {
        bail!("{file}: YAML directives or document end markers are not supported");
    }
    if text.lines().filter(|l| l.trim_end() == "---").count() > 1 {
        bail!("{file}: more than one YAML document");
    }
    match parse_yaml(text).with_context(|| file.to_owned())? {
        Value::Object(map) if map.keys().all(|k| k == "groups") && map.contains_key("groups") => {
            Ok(())
        }
        _ => bail!("{file}: a rule file must be a mapping with only `groups`"),
    }
}

fn files_with(root: &Path, dir: &str, extensions: &[&str], recursive: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let path = root.join(dir);
    if !path.is_dir() {
        return Ok(out);
    }
    for entry in fs::read_dir(&path).with_context(|| format!("reading {}", path.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = format!("{dir}/{name}");
        if entry.file_type()?.is_dir() {
            if recursive {
                out.extend(files_with(root, &relative, extensions, true)?);
            }
        } else if Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(relative);
        }
    }
    Ok(out)
}
