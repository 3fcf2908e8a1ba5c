//! prometheus.yml: promtool accepts it, it loads every rules file, and it defines the
//! jobs the rules select by name. The local stack's variant (and its Alertmanager
//! configuration) passes the same tools.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;
use sessiondb_monitoring_tests::paths::{self, AREAS};
use sessiondb_monitoring_tests::rules::load_yaml;
use sessiondb_monitoring_tests::tools::PROMTOOL;

use crate::support::{assert_success, rules};

#[test]
fn promtool_check_config_accepts_prometheus_yml() {
    let run = PROMTOOL
        .run(
            &paths::prometheus_dir(),
            ["check", "config", "prometheus.yml"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    let expected = format!("SUCCESS: {} rule files found", AREAS.len());
    assert!(run.stdout.contains(&expected), "{}", run.transcript());
}

/// The job names in `job="x"` and `job=~"a|b"` matchers of an expression.
fn jobs_in(expr: &str) -> Vec<String> {
    let mut jobs = Vec::new();
    for (i, _) in expr.match_indices("job=") {
        let rest = expr[i + "job=".len()..].trim_start_matches('~');
        if let Some(value) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) {
            jobs.extend(value.split('|').map(str::to_owned));
        }
    }
    jobs
}

#[test]
fn the_config_loads_every_rules_file_and_scrapes_the_jobs_the_rules_name() {
    let config: Value = load_yaml(&paths::prometheus_dir().join("prometheus.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let rule_files: Vec<&str> = config
        .get("rule_files")
        .and_then(Value::as_sequence)
        .expect("rule_files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let expected: Vec<String> = AREAS
        .iter()
        .map(|a| format!("rules/{a}.rules.yml"))
        .collect();
    assert_eq!(rule_files, expected);

    let jobs: BTreeSet<&str> = config
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .expect("scrape_configs")
        .iter()
        .filter_map(|c| c.get("job_name").and_then(Value::as_str))
        .collect();
    let mut named = BTreeSet::new();
    for (_, rule) in rules().all() {
        named.extend(jobs_in(&rule.expr));
    }
    assert!(
        !named.is_empty(),
        "the rules name no job: is jobs_in broken?"
    );
    for job in &named {
        assert!(
            jobs.contains(job.as_str()),
            "the rules select job {job:?}, prometheus.yml has {jobs:?}"
        );
    }
}

/// The configurations `sessiondb local up --monitoring` derives from the shipped
/// files pass the same checks: promtool for Prometheus's (with the shipped rules),
/// amtool for Alertmanager's (with the shipped template).
#[test]
fn the_local_stacks_prometheus_and_alertmanager_configs_pass_promtool_and_amtool() {
    use sessiondb_local::stack::{
        alertmanager_config, prometheus_config, MonitoringOptions, StackMode, Topology,
        TopologyOptions,
    };
    use sessiondb_monitoring_tests::tools::AMTOOL;

    let topology = Topology::plan(&TopologyOptions {
        mode: StackMode::Ha,
        monitoring: Some(MonitoringOptions::default()),
        ..TopologyOptions::default()
    })
    .expect("an HA plan with monitoring");
    let spec = topology.monitoring.as_ref().expect("monitoring planned");
    let temp = tempfile::tempdir().expect("temp dir");

    let rules_dir = paths::prometheus_dir().join("rules");
    let prometheus = prometheus_config(&topology, spec, &rules_dir).expect("prometheus.yml");
    std::fs::write(temp.path().join("prometheus.yml"), &prometheus).expect("writing");
    let run = PROMTOOL
        .run(temp.path(), ["check", "config", "prometheus.yml"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    let expected = format!("SUCCESS: {} rule files found", AREAS.len());
    assert!(run.stdout.contains(&expected), "{}", run.transcript());
    let local: Value = serde_yaml_ng::from_str(&prometheus).expect("YAML");
    let shipped: Value = load_yaml(&paths::prometheus_dir().join("prometheus.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let jobs = |config: &Value| -> Vec<String> {
        config["scrape_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|c| c["job_name"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(jobs(&local), jobs(&shipped), "the shipped jobs, in order");

    let templates = paths::alertmanager_dir().join("templates");
    let alertmanager = alertmanager_config(&templates).expect("alertmanager.yml");
    std::fs::write(temp.path().join("alertmanager.yml"), &alertmanager).expect("writing");
    let run = AMTOOL
        .run(temp.path(), ["check-config", "alertmanager.yml"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    assert!(run.stdout.contains("1 templates"), "{}", run.transcript());
    let local: Value = serde_yaml_ng::from_str(&alertmanager).expect("YAML");
    let shipped: Value = load_yaml(&paths::alertmanager_dir().join("alertmanager.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local["route"], shipped["route"], "the shipped routes");
    assert_eq!(local["inhibit_rules"], shipped["inhibit_rules"]);
}
