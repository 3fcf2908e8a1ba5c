//! The monitoring processes of a stack (`sessiondb local up --monitoring`):
//! one `prometheus-redis-exporter` per node (data nodes and Sentinels),
//! Prometheus with the shipped alert rules, and Alertmanager, each on its
//! own loopback port fixed at the first `up`.
//!
//! The configurations are derived from the shipped files in
//! `deploy/monitoring/` (embedded in the binary):
//!
//! - `prometheus.yml`: same global settings, rule files and job names
//!   (`redis`, `redis-sentinel`, `sessiondb`); the targets are the stack's
//!   exporters, one per node, each labelled with its node's address as
//!   `instance` (the per-node layout the shipped file's comment describes),
//!   and the admin listener `sessiondb serve --local` gets from `local.env`;
//! - `alertmanager.yml`: same routes, grouping and inhibitions; every
//!   receiver is kept by name but sends nothing, so alerts are only seen in
//!   Alertmanager's UI and API (`/api/v2/alerts`);
//! - the rule files, unchanged.
//!
//! Files live in `<stack>/monitoring/`:
//!
//! ```text
//! monitoring/
//!   prometheus/      prometheus.yml, rules/, data/, prometheus.log
//!   alertmanager/    alertmanager.yml, templates/, data/, alertmanager.log
//!   exporter-<node>/ exporter.log
//! ```

use sessiondb_acl::Role;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use super::secrets::StackPasswords;
use super::state::{write_atomically, StackDir};
use super::topology::{NodeKind, NodeSpec, Topology};
use super::StackError;
use crate::process::LOOPBACK;

/// The shipped Prometheus configuration (job names, rule files, globals).
const SHIPPED_PROMETHEUS: &str =
    include_str!("../../../../deploy/monitoring/prometheus/prometheus.yml");

/// The shipped rule files, by file name.
const SHIPPED_RULES: [(&str, &str); 3] = [
    (
        "redis.rules.yml",
        include_str!("../../../../deploy/monitoring/prometheus/rules/redis.rules.yml"),
    ),
    (
        "sentinel.rules.yml",
        include_str!("../../../../deploy/monitoring/prometheus/rules/sentinel.rules.yml"),
    ),
    (
        "sessiondb.rules.yml",
        include_str!("../../../../deploy/monitoring/prometheus/rules/sessiondb.rules.yml"),
    ),
];

/// The shipped Alertmanager configuration.
const SHIPPED_ALERTMANAGER: &str =
    include_str!("../../../../deploy/monitoring/alertmanager/alertmanager.yml");

/// The shipped notification template, by file name.
const SHIPPED_TEMPLATE: (&str, &str) = (
    "sessiondb.tmpl",
    include_str!("../../../../deploy/monitoring/alertmanager/templates/sessiondb.tmpl"),
);

/// Job of the Redis data nodes' exporters (as in the shipped `prometheus.yml`).
pub const JOB_REDIS: &str = "redis";
/// Job of the Sentinels' exporters.
pub const JOB_SENTINEL: &str = "redis-sentinel";
/// Job of sessiondb's admin listener.
pub const JOB_SESSIONDB: &str = "sessiondb";

/// The Debian executables.
pub const EXPORTER_BINARY: &str = "prometheus-redis-exporter";
/// Prometheus.
pub const PROMETHEUS_BINARY: &str = "prometheus";
/// Alertmanager (Debian names it `prometheus-alertmanager`).
pub const ALERTMANAGER_BINARY: &str = "prometheus-alertmanager";

/// How to lay out the monitoring of a new stack.
#[derive(Debug, Clone, Default)]
pub struct MonitoringOptions {
    /// Scrape and rule evaluation interval in seconds; `None` keeps the
    /// shipped configuration's. Shorter intervals are for tests.
    pub interval_secs: Option<u64>,
    /// A directory whose rule files (same names as the shipped ones) are
    /// loaded instead of the shipped rules. Tests use copies with shorter
    /// `for:` durations; the shipped files keep the production values.
    pub rules_dir: Option<PathBuf>,
}

/// One exporter: the node it watches and its own port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExporterSpec {
    /// The node's name (`redis-0`, `sentinel-1`, ...).
    pub node: String,
    /// The exporter's loopback port.
    pub port: u16,
}

/// The monitoring part of a stack, as stored in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitoringSpec {
    /// One exporter per node, in topology order.
    pub exporters: Vec<ExporterSpec>,
    /// Prometheus's port.
    pub prometheus_port: u16,
    /// Alertmanager's port.
    pub alertmanager_port: u16,
    /// The port of sessiondb's admin listener (`/metrics`) that Prometheus
    /// scrapes; `local.env` sets `server.admin_listen` to it.
    pub sessiondb_admin_port: u16,
    /// See [`MonitoringOptions::interval_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<u64>,
    /// See [`MonitoringOptions::rules_dir`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_dir: Option<PathBuf>,
}

/// What a monitoring process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// A `prometheus-redis-exporter`.
    Exporter,
    /// Prometheus.
    Prometheus,
    /// Alertmanager.
    Alertmanager,
}

/// One monitoring process: its name (also its directory), kind and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// `exporter-redis-0`, `prometheus`, `alertmanager`.
    pub name: String,
    /// What runs there.
    pub kind: ServiceKind,
    /// Its loopback port.
    pub port: u16,
    /// For an exporter: the node it watches.
    pub node: Option<String>,
}

impl ServiceSpec {
    /// The executable.
    pub fn binary(&self) -> &'static str {
        match self.kind {
            ServiceKind::Exporter => EXPORTER_BINARY,
            ServiceKind::Prometheus => PROMETHEUS_BINARY,
            ServiceKind::Alertmanager => ALERTMANAGER_BINARY,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{LOOPBACK}:{}", self.port)
    }

    /// The path that answers 200 once the process is ready.
    pub fn ready_path(&self) -> &'static str {
        match self.kind {
            ServiceKind::Exporter => "/metrics",
            ServiceKind::Prometheus | ServiceKind::Alertmanager => "/-/ready",
        }
    }
}

impl MonitoringSpec {
    /// Fixes the ports of the monitoring of `nodes`: taken in order from
    /// `ports` (exporters in node order, then Prometheus, Alertmanager and
    /// the sessiondb admin port).
    pub(crate) fn plan(
        nodes: &[NodeSpec],
        ports: &mut impl Iterator<Item = u16>,
        opts: &MonitoringOptions,
    ) -> Result<Self, StackError> {
        let mut next = || {
            ports.next().ok_or_else(|| {
                StackError::Invalid("not enough ports for the monitoring processes".to_owned())
            })
        };
        let exporters = nodes
            .iter()
            .map(|n| {
                Ok(ExporterSpec {
                    node: n.name.clone(),
                    port: next()?,
                })
            })
            .collect::<Result<_, StackError>>()?;
        if opts.interval_secs == Some(0) {
            return Err(StackError::Invalid(
                "the monitoring interval must be at least 1 second".to_owned(),
            ));
        }
        if let Some(dir) = &opts.rules_dir {
            check_rules_dir(dir)?;
        }
        Ok(Self {
            exporters,
            prometheus_port: next()?,
            alertmanager_port: next()?,
            sessiondb_admin_port: next()?,
            interval_secs: opts.interval_secs,
            rules_dir: opts.rules_dir.clone(),
        })
    }

    /// How many ports [`plan`](Self::plan) takes for `nodes` nodes.
    pub(crate) fn port_count(nodes: usize) -> usize {
        nodes + 3
    }

    /// The processes in start order: exporters, Alertmanager, Prometheus
    /// (which sends to Alertmanager and scrapes the exporters).
    pub fn services(&self) -> Vec<ServiceSpec> {
        let exporters = self.exporters.iter().map(|e| ServiceSpec {
            name: format!("exporter-{}", e.node),
            kind: ServiceKind::Exporter,
            port: e.port,
            node: Some(e.node.clone()),
        });
        let servers = [
            (
                "alertmanager",
                ServiceKind::Alertmanager,
                self.alertmanager_port,
            ),
            ("prometheus", ServiceKind::Prometheus, self.prometheus_port),
        ]
        .into_iter()
        .map(|(name, kind, port)| ServiceSpec {
            name: name.to_owned(),
            kind,
            port,
            node: None,
        });
        exporters.chain(servers).collect()
    }

    /// `http://127.0.0.1:<port>` of Prometheus.
    pub fn prometheus_url(&self) -> String {
        format!("http://{LOOPBACK}:{}", self.prometheus_port)
    }

    /// `http://127.0.0.1:<port>` of Alertmanager.
    pub fn alertmanager_url(&self) -> String {
        format!("http://{LOOPBACK}:{}", self.alertmanager_port)
    }

    /// `127.0.0.1:<port>`: where `sessiondb serve --local` puts its admin
    /// listener so that Prometheus scrapes it.
    pub fn sessiondb_admin_addr(&self) -> String {
        format!("{LOOPBACK}:{}", self.sessiondb_admin_port)
    }
}

/// `<stack>/monitoring/`.
pub(crate) fn monitoring_dir(dir: &StackDir) -> PathBuf {
    dir.root().join("monitoring")
}

/// The directory of one monitoring process.
pub(crate) fn service_dir(dir: &StackDir, service: &ServiceSpec) -> PathBuf {
    monitoring_dir(dir).join(&service.name)
}

/// The log file of one monitoring process.
pub fn service_log(dir: &StackDir, service: &ServiceSpec) -> PathBuf {
    let file = match service.kind {
        ServiceKind::Exporter => "exporter.log",
        ServiceKind::Prometheus => "prometheus.log",
        ServiceKind::Alertmanager => "alertmanager.log",
    };
    service_dir(dir, service).join(file)
}

/// The credentials an exporter logs in to `node` with: `(user, password)`,
/// `None` for no authentication.
///
/// Data nodes: the `monitor` role's user and password (the stack loads the six
/// roles' `users.acl`). Sentinels: their `requirepass`, the `sentinel` role's
/// password, as the default user.
pub(crate) fn exporter_credentials<'a>(
    node: &NodeSpec,
    passwords: &'a StackPasswords,
) -> Option<(Option<&'static str>, &'a SecretString)> {
    match node.kind {
        NodeKind::Redis => Some((Some(Role::Monitor.user()), &passwords.monitor)),
        NodeKind::Sentinel => Some((None, &passwords.sentinel)),
    }
}

/// The command-line arguments of a process (never a secret: the exporter
/// gets its password through the environment).
pub(crate) fn service_args(
    dir: &StackDir,
    topology: &Topology,
    service: &ServiceSpec,
) -> Result<Vec<String>, StackError> {
    let listen = format!("{LOOPBACK}:{}", service.port);
    let own = service_dir(dir, service);
    let path = |p: PathBuf| path_str(&p).map(str::to_owned);
    Ok(match service.kind {
        ServiceKind::Exporter => {
            let node = service
                .node
                .as_deref()
                .and_then(|n| topology.node(n))
                .ok_or_else(|| {
                    StackError::Invalid(format!("{} watches no node of the stack", service.name))
                })?;
            let mut args = Vec::new();
            match dir.tls_files(topology)? {
                None => args.push(format!("-redis.addr=redis://{}", node.addr())),
                Some(tls) => {
                    args.push(format!("-redis.addr=rediss://{}", node.addr()));
                    args.push(format!("-tls-ca-cert-file={}", path(tls.ca_cert)?));
                    args.push(format!("-tls-client-cert-file={}", path(tls.client_cert)?));
                    args.push(format!("-tls-client-key-file={}", path(tls.client_key)?));
                }
            }
            args.extend([
                "-include-config-metrics".to_owned(),
                "-web.listen-address".to_owned(),
                listen,
            ]);
            args
        }
        ServiceKind::Prometheus => vec![
            format!("--config.file={}", path(own.join("prometheus.yml"))?),
            format!("--storage.tsdb.path={}", path(own.join("data"))?),
            format!("--web.listen-address={listen}"),
            format!("--web.external-url={}", service.url()),
        ],
        ServiceKind::Alertmanager => vec![
            format!("--config.file={}", path(own.join("alertmanager.yml"))?),
            format!("--storage.path={}", path(own.join("data"))?),
            format!("--web.listen-address={listen}"),
            format!("--web.external-url={}", service.url()),
            // A single Alertmanager: no gossip port.
            "--cluster.listen-address=".to_owned(),
        ],
    })
}

/// A rules directory given instead of the shipped rules must hold a file
/// for every shipped one (Prometheus silently loads nothing for a rule
/// file that does not exist).
fn check_rules_dir(dir: &Path) -> Result<(), StackError> {
    let missing: Vec<&str> = SHIPPED_RULES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !dir.join(name).is_file())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StackError::Invalid(format!(
            "the monitoring rules directory {} lacks {}",
            dir.display(),
            missing.join(", ")
        )))
    }
}

fn path_str(path: &Path) -> Result<&str, StackError> {
    path.to_str()
        .ok_or_else(|| StackError::Invalid(format!("{} is not valid UTF-8", path.display())))
}

fn yaml_error(what: &str, err: &serde_yaml_ng::Error) -> StackError {
    StackError::Invalid(format!("{what}: {err}"))
}

/// Writes the configuration files of Prometheus and Alertmanager (and the
/// shipped rules and template) into their directories.
pub(crate) fn write_configs(
    dir: &StackDir,
    topology: &Topology,
    spec: &MonitoringSpec,
) -> Result<(), StackError> {
    for service in spec.services() {
        let own = service_dir(dir, &service);
        crate::private_dir::ensure_private_dir(&own)?;
        match service.kind {
            ServiceKind::Exporter => {}
            ServiceKind::Prometheus => {
                let rules = own.join("rules");
                crate::private_dir::ensure_private_dir(&rules)?;
                for (name, text) in SHIPPED_RULES {
                    write_atomically(&rules.join(name), text.as_bytes(), 0o644)?;
                }
                if let Some(dir) = &spec.rules_dir {
                    check_rules_dir(dir)?;
                }
                let rules_dir = spec.rules_dir.clone().unwrap_or(rules);
                let config = prometheus_config(topology, spec, &rules_dir)?;
                write_atomically(&own.join("prometheus.yml"), config.as_bytes(), 0o644)?;
            }
            ServiceKind::Alertmanager => {
                let templates = own.join("templates");
                crate::private_dir::ensure_private_dir(&templates)?;
                let (name, text) = SHIPPED_TEMPLATE;
                write_atomically(&templates.join(name), text.as_bytes(), 0o644)?;
                let config = alertmanager_config(&templates)?;
                write_atomically(&own.join("alertmanager.yml"), config.as_bytes(), 0o644)?;
            }
        }
    }
    Ok(())
}

/// The local variant of the shipped `prometheus.yml`: same globals (or
/// `interval_secs`), rule files from `rules_dir`, the stack's Alertmanager,
/// and the shipped jobs pointed at the stack's exporters and admin port.
pub fn prometheus_config(
    topology: &Topology,
    spec: &MonitoringSpec,
    rules_dir: &Path,
) -> Result<String, StackError> {
    let what = "the shipped prometheus.yml";
    let shipped: Value =
        serde_yaml_ng::from_str(SHIPPED_PROMETHEUS).map_err(|e| yaml_error(what, &e))?;
    let mut config = Mapping::new();

    let mut global = shipped.get("global").cloned().unwrap_or_default();
    if let (Some(secs), Some(map)) = (spec.interval_secs, global.as_mapping_mut()) {
        for key in ["scrape_interval", "evaluation_interval"] {
            map.insert(key.into(), format!("{secs}s").into());
        }
    }
    config.insert("global".into(), global);

    let rule_files = shipped
        .get("rule_files")
        .and_then(Value::as_sequence)
        .ok_or_else(|| StackError::Invalid(format!("{what} has no rule_files")))?
        .iter()
        .map(|file| {
            let name = file
                .as_str()
                .and_then(|f| Path::new(f).file_name())
                .ok_or_else(|| StackError::Invalid(format!("{what}: bad rule file {file:?}")))?;
            Ok(Value::from(path_str(&rules_dir.join(name))?))
        })
        .collect::<Result<Vec<_>, StackError>>()?;
    config.insert("rule_files".into(), Value::Sequence(rule_files));

    let alertmanager = format!("{LOOPBACK}:{}", spec.alertmanager_port);
    let alerting: Value = serde_yaml_ng::from_str(&format!(
        "alertmanagers:\n  - static_configs:\n      - targets: [\"{alertmanager}\"]\n"
    ))
    .map_err(|e| yaml_error("the alerting section", &e))?;
    config.insert("alerting".into(), alerting);

    let exporter_of = |node: &NodeSpec| {
        spec.exporters
            .iter()
            .find(|e| e.node == node.name)
            .map(|e| e.port)
    };
    let per_node = |nodes: Vec<&NodeSpec>| -> Value {
        let statics = nodes
            .into_iter()
            .filter_map(|node| {
                let port = exporter_of(node)?;
                let mut labels = Mapping::new();
                labels.insert("instance".into(), node.addr().into());
                let mut entry = Mapping::new();
                entry.insert(
                    "targets".into(),
                    Value::Sequence(vec![format!("{LOOPBACK}:{port}").into()]),
                );
                entry.insert("labels".into(), Value::Mapping(labels));
                Some(Value::Mapping(entry))
            })
            .collect();
        Value::Sequence(statics)
    };
    let mut scrape_configs = Vec::new();
    let jobs = shipped
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .ok_or_else(|| StackError::Invalid(format!("{what} has no scrape_configs")))?;
    for job in jobs {
        let name = job.get("job_name").and_then(Value::as_str).unwrap_or("");
        let (metrics_path, statics) = match name {
            JOB_REDIS => ("/metrics", per_node(topology.data_nodes().collect())),
            JOB_SENTINEL => {
                let sentinels: Vec<&NodeSpec> = topology.sentinels().collect();
                if sentinels.is_empty() {
                    continue;
                }
                ("/metrics", per_node(sentinels))
            }
            JOB_SESSIONDB => {
                let target = spec.sessiondb_admin_addr();
                let statics = serde_yaml_ng::from_str(&format!("- targets: [\"{target}\"]\n"))
                    .map_err(|e| yaml_error("the sessiondb job", &e))?;
                let path = job
                    .get("metrics_path")
                    .and_then(Value::as_str)
                    .unwrap_or("/metrics");
                (path, statics)
            }
            other => {
                return Err(StackError::Invalid(format!(
                    "{what} has a job {other:?} the local stack does not know"
                )))
            }
        };
        let mut entry = Mapping::new();
        entry.insert("job_name".into(), name.into());
        entry.insert("metrics_path".into(), metrics_path.into());
        entry.insert("static_configs".into(), statics);
        scrape_configs.push(Value::Mapping(entry));
    }
    config.insert("scrape_configs".into(), Value::Sequence(scrape_configs));

    let text = serde_yaml_ng::to_string(&Value::Mapping(config))
        .map_err(|e| yaml_error("rendering prometheus.yml", &e))?;
    Ok(format!(
        "# Written by `sessiondb local` from deploy/monitoring/prometheus/prometheus.yml:\n\
         # the same jobs, pointed at this stack's exporters (one per node).\n{text}"
    ))
}

/// The local variant of the shipped `alertmanager.yml`: the same routes,
/// grouping and inhibitions; every receiver keeps its name but sends
/// nothing (alerts are seen in the UI and `/api/v2/alerts`).
pub fn alertmanager_config(templates: &Path) -> Result<String, StackError> {
    let what = "the shipped alertmanager.yml";
    let mut config: Value =
        serde_yaml_ng::from_str(SHIPPED_ALERTMANAGER).map_err(|e| yaml_error(what, &e))?;
    let map = config
        .as_mapping_mut()
        .ok_or_else(|| StackError::Invalid(format!("{what} is not a mapping")))?;
    let receivers = map
        .get("receivers")
        .and_then(Value::as_sequence)
        .ok_or_else(|| StackError::Invalid(format!("{what} has no receivers")))?
        .iter()
        .map(|r| {
            let mut local = Mapping::new();
            local.insert(
                "name".into(),
                r.get("name").cloned().unwrap_or_else(|| "local".into()),
            );
            Value::Mapping(local)
        })
        .collect();
    map.insert("receivers".into(), Value::Sequence(receivers));
    let pattern = path_str(&templates.join("*.tmpl"))?.to_owned();
    map.insert("templates".into(), Value::Sequence(vec![pattern.into()]));
    let text = serde_yaml_ng::to_string(&config)
        .map_err(|e| yaml_error("rendering alertmanager.yml", &e))?;
    Ok(format!(
        "# Written by `sessiondb local` from deploy/monitoring/alertmanager/alertmanager.yml:\n\
         # the same routes and inhibitions; the receivers send nothing (local stack).\n{text}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{StackMode, TopologyOptions};

    fn topology() -> Topology {
        Topology::plan(&TopologyOptions {
            mode: StackMode::Ha,
            monitoring: Some(MonitoringOptions {
                interval_secs: Some(1),
                rules_dir: None,
            }),
            ..TopologyOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn every_node_gets_an_exporter_and_every_port_is_distinct() {
        let topology = topology();
        let spec = topology.monitoring.clone().unwrap();
        let names: Vec<String> = spec.services().into_iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 8, "{names:?}");
        assert_eq!(names[0], "exporter-redis-0");
        assert_eq!(names[5], "exporter-sentinel-2");
        let mut ports: Vec<u16> = topology.nodes.iter().map(|n| n.port).collect();
        ports.extend(spec.services().iter().map(|s| s.port));
        ports.push(spec.sessiondb_admin_port);
        let count = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), count);
    }

    #[test]
    fn the_local_prometheus_config_keeps_the_shipped_jobs_and_labels_each_node() {
        let topology = topology();
        let spec = topology.monitoring.clone().unwrap();
        let text = prometheus_config(&topology, &spec, Path::new("/x/rules")).unwrap();
        let config: Value = serde_yaml_ng::from_str(&text).unwrap();
        let jobs: Vec<&str> = config["scrape_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|j| j["job_name"].as_str().unwrap())
            .collect();
        assert_eq!(jobs, [JOB_REDIS, JOB_SENTINEL, JOB_SESSIONDB]);
        let redis = &config["scrape_configs"][0]["static_configs"];
        let master = topology.initial_master().unwrap();
        assert_eq!(
            redis[0]["labels"]["instance"].as_str(),
            Some(&*master.addr())
        );
        assert_eq!(
            redis[0]["targets"][0].as_str(),
            Some(&*format!("127.0.0.1:{}", spec.exporters[0].port))
        );
        assert_eq!(config["global"]["evaluation_interval"].as_str(), Some("1s"));
        assert_eq!(
            config["rule_files"][0].as_str(),
            Some("/x/rules/redis.rules.yml")
        );
    }

    #[test]
    fn a_rules_dir_without_the_shipped_file_names_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let err = Topology::plan(&TopologyOptions {
            monitoring: Some(MonitoringOptions {
                interval_secs: None,
                rules_dir: Some(temp.path().to_owned()),
            }),
            ..TopologyOptions::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("lacks redis.rules.yml"), "{err}");
    }

    #[test]
    fn the_local_alertmanager_config_keeps_receiver_names_without_integrations() {
        let text = alertmanager_config(Path::new("/x/templates")).unwrap();
        assert!(!text.contains("webhook_configs"), "{text}");
        assert!(!text.contains("slack_configs"), "{text}");
        let config: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(config["receivers"][0]["name"].as_str(), Some("pager"));
        assert!(config["inhibit_rules"]
            .as_sequence()
            .is_some_and(|r| !r.is_empty()));
    }
}
