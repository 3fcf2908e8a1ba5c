//! The Grafana dashboards and their provisioning: valid JSON, a query in every panel,
//! every query valid PromQL (promtool), the provisioned data source, and the panels
//! operations need.

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;
use sessiondb_monitoring_tests::dashboards::{substitute_variables, Dashboard};
use sessiondb_monitoring_tests::paths;
use sessiondb_monitoring_tests::promql::metric_names;
use sessiondb_monitoring_tests::rules::load_yaml;
use sessiondb_monitoring_tests::tools::PROMTOOL;

use crate::support::assert_success;

const DATASOURCE_VARIABLE: &str = "${datasource}";

fn dashboards() -> Vec<Dashboard> {
    let all = Dashboard::load_all().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = all.iter().map(Dashboard::name).collect();
    assert_eq!(names, ["redis-ha.json", "sessiondb-overview.json"]);
    all
}

fn provisioned_datasource_uid() -> String {
    let path = paths::grafana_dir().join("provisioning/datasources/prometheus.yml");
    let file: serde_yaml_ng::Value = load_yaml(&path).unwrap_or_else(|e| panic!("{e}"));
    let sources = file
        .get("datasources")
        .and_then(serde_yaml_ng::Value::as_sequence)
        .expect("datasources");
    assert_eq!(sources.len(), 1, "one data source");
    let source = &sources[0];
    assert_eq!(
        source.get("type").and_then(serde_yaml_ng::Value::as_str),
        Some("prometheus")
    );
    source
        .get("uid")
        .and_then(serde_yaml_ng::Value::as_str)
        .expect("the data source has a uid")
        .to_owned()
}

#[test]
fn every_panel_queries_the_provisioned_prometheus() {
    let uid = provisioned_datasource_uid();
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for dashboard in dashboards() {
        let name = dashboard.name();
        let json = &dashboard.json;
        for key in ["uid", "title"] {
            if json
                .get(key)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{name}: no {key}"));
            }
        }
        if !uids.insert(
            json.get("uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ) {
            problems.push(format!("{name}: uid used twice"));
        }
        let datasource_default = dashboard
            .variables()
            .into_iter()
            .find(|v| v.get("type").and_then(Value::as_str) == Some("datasource"))
            .and_then(|v| v.pointer("/current/value"))
            .and_then(Value::as_str);
        if datasource_default != Some(uid.as_str()) {
            problems.push(format!(
                "{name}: the datasource variable must default to {uid:?}, is {datasource_default:?}"
            ));
        }
        let mut ids = BTreeSet::new();
        for panel in dashboard.all_panel_json() {
            let id = panel.get("id").and_then(Value::as_u64);
            if !id.is_some_and(|id| ids.insert(id)) {
                problems.push(format!("{name}: panel id {id:?} missing or repeated"));
            }
            if panel.get("gridPos").is_none() {
                problems.push(format!("{name}: panel {id:?} has no gridPos"));
            }
        }
        let panels = dashboard.panels();
        if panels.len() < 10 {
            problems.push(format!("{name}: only {} panels", panels.len()));
        }
        for panel in panels {
            if panel.queries.is_empty() || panel.queries.iter().any(|q| q.trim().is_empty()) {
                problems.push(format!("{name}: panel {:?} lacks a query", panel.title));
            }
            let targets = panel.json.get("targets").and_then(Value::as_array);
            let datasources = std::iter::once(panel.json.get("datasource"))
                .chain(targets.into_iter().flatten().map(|t| t.get("datasource")));
            for datasource in datasources {
                let ok = datasource
                    .and_then(|d| d.get("uid"))
                    .and_then(Value::as_str)
                    == Some(DATASOURCE_VARIABLE)
                    && datasource
                        .and_then(|d| d.get("type"))
                        .and_then(Value::as_str)
                        == Some("prometheus");
                if !ok {
                    problems.push(format!(
                        "{name}: panel {:?} must use the prometheus data source {DATASOURCE_VARIABLE}",
                        panel.title
                    ));
                }
            }
            if panel
                .json
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push(format!(
                    "{name}: panel {:?} has no description",
                    panel.title
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs every dashboard query (Grafana variables replaced) through `promtool check
/// rules` as a recording rule: promtool parses each one.
#[test]
fn every_dashboard_query_is_valid_promql() {
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    let mut n = 0;
    for dashboard in dashboards() {
        let queries = dashboard
            .panels()
            .into_iter()
            .flat_map(|p| p.queries.into_iter().map(str::to_owned).collect::<Vec<_>>())
            .chain(dashboard.variable_selectors());
        for query in queries {
            let expr = serde_json::to_string(&substitute_variables(&query)).expect("a string");
            rules.push_str(&format!(
                "      - record: dashboard_query_{n}\n        expr: {expr}\n"
            ));
            n += 1;
        }
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("dashboard-queries.yml");
    fs::write(&file, rules).expect("write the generated rules");
    let run = PROMTOOL
        .run(dir.path(), ["check", "rules", "dashboard-queries.yml"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    assert!(
        run.stdout.contains(&format!("SUCCESS: {n} rules found")),
        "{}",
        run.transcript()
    );
}

fn metrics_used(dashboard: &Dashboard) -> BTreeSet<String> {
    dashboard
        .panels()
        .iter()
        .flat_map(|p| p.queries.iter().flat_map(|q| metric_names(q)))
        .collect()
}

#[test]
fn the_dashboards_show_what_operations_need() {
    let all = dashboards();
    let needs = [
        (
            "sessiondb-overview.json",
            vec![
                ("request rate, errors", "sessiondb_http_requests_total"),
                (
                    "latency percentiles",
                    "sessiondb_http_request_duration_seconds_bucket",
                ),
                ("live sessions", "sessiondb_active_sessions"),
                ("creations", "sessiondb_sessions_created_total"),
                ("refreshes", "sessiondb_sessions_refreshed_total"),
                ("revocations", "sessiondb_sessions_revoked_total"),
                ("reuse detections", "sessiondb_refresh_reuse_detected_total"),
                ("cleanup runs", "sessiondb_cleanup_runs_total"),
                (
                    "cleanup age",
                    "sessiondb_cleanup_last_success_timestamp_seconds",
                ),
                (
                    "backup age",
                    "sessiondb_backup_last_success_timestamp_seconds",
                ),
            ],
        ),
        (
            "redis-ha.json",
            vec![
                ("role per node", "redis_instance_info"),
                ("replication lag", "redis_connected_slave_lag_seconds"),
                ("memory used", "redis_memory_used_bytes"),
                ("maxmemory", "redis_memory_max_bytes"),
                ("clients", "redis_connected_clients"),
                ("commands/s", "redis_commands_processed_total"),
                ("hit rate", "redis_keyspace_hits_total"),
                ("hit rate", "redis_keyspace_misses_total"),
                ("evictions", "redis_evicted_keys_total"),
                ("failovers", "redis_sentinel_master_sentinels"),
                ("Sentinel quorum", "redis_sentinel_master_ckquorum_status"),
            ],
        ),
    ];
    let mut problems = Vec::new();
    for (file, wanted) in needs {
        let dashboard = all.iter().find(|d| d.name() == file).expect("dashboard");
        let used = metrics_used(dashboard);
        for (what, metric) in wanted {
            if !used.contains(metric) {
                problems.push(format!("{file}: no panel for {what} ({metric})"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dashboard_provisioning_loads_files_into_a_folder() {
    let path = paths::grafana_dir().join("provisioning/dashboards/sessiondb.yml");
    let file: serde_yaml_ng::Value = load_yaml(&path).unwrap_or_else(|e| panic!("{e}"));
    let providers = file
        .get("providers")
        .and_then(serde_yaml_ng::Value::as_sequence)
        .expect("providers");
    assert_eq!(providers.len(), 1);
    let provider = &providers[0];
    assert_eq!(provider.get("type").and_then(|v| v.as_str()), Some("file"));
    let dir = provider
        .get("options")
        .and_then(|o| o.get("path"))
        .and_then(|v| v.as_str())
        .expect("options.path");
    assert!(
        dir.starts_with('/'),
        "Grafana needs an absolute path, got {dir}"
    );
}
