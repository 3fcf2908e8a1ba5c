//! prometheus.yml: promtool accepts it, it loads every rules file, and it defines the
//! jobs the rules select by name.

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
