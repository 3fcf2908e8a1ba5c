//! The alert and recording rules: promtool accepts them, their unit tests pass, every
//! alert is unit-tested firing and quiet, and every alert carries what routing,
//! notifications and runbooks need.

use std::collections::BTreeSet;
use std::ffi::OsString;

use sessiondb_monitoring_tests::paths::{self, files_ending_with, AREAS};
use sessiondb_monitoring_tests::tools::PROMTOOL;

use crate::support::{assert_success, rule_tests, rules};

const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];
const ANNOTATIONS: [&str; 3] = ["summary", "description", "runbook_url"];

#[test]
fn promtool_check_rules_accepts_every_rules_file() {
    let dir = paths::prometheus_dir();
    let files = files_ending_with(&dir.join("rules"), ".yml").expect("rules directory");
    let expected: Vec<_> = AREAS.iter().map(|a| paths::rules_file(a)).collect();
    assert_eq!(files, expected, "one rules file per area, nothing else");
    let mut args: Vec<OsString> = vec!["check".into(), "rules".into()];
    args.extend(files.into_iter().map(OsString::from));
    let run = PROMTOOL.run(&dir, args).unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    assert_eq!(
        run.stdout.matches("SUCCESS").count(),
        AREAS.len(),
        "{}",
        run.transcript()
    );
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !output.contains("WARNING"),
        "promtool warns:\n{}",
        run.transcript()
    );
}

#[test]
fn promtool_rule_unit_tests_pass() {
    let dir = paths::prometheus_dir();
    let files = files_ending_with(&dir.join("tests"), ".test.yml").expect("tests directory");
    let expected: Vec<_> = AREAS.iter().map(|a| paths::rule_test_file(a)).collect();
    assert_eq!(files, expected, "one unit-test file per area, nothing else");
    let mut args: Vec<OsString> = vec!["test".into(), "rules".into()];
    args.extend(files.into_iter().map(OsString::from));
    let run = PROMTOOL.run(&dir, args).unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    assert!(!run.stdout.contains("FAILED"), "{}", run.transcript());
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let rules = rules();
    let mut problems = Vec::new();
    for (area, file) in rule_tests() {
        let own_rules = format!("../rules/{area}.rules.yml");
        if file.rule_files != [own_rules.clone()] {
            problems.push(format!(
                "tests/{area}.test.yml must load exactly {own_rules}"
            ));
        }
        let alerts: Vec<_> = rules
            .alerts()
            .into_iter()
            .filter(|a| a.area == area)
            .collect();
        let names: BTreeSet<&str> = alerts.iter().map(|a| a.name).collect();
        for (group, check) in file.checks() {
            if !names.contains(check.alertname.as_str()) {
                problems.push(format!(
                    "{area}: test {group:?} checks {}, which is not an alert of {area}.rules.yml",
                    check.alertname
                ));
            }
        }
        for alert in alerts {
            let checks: Vec<_> = file
                .checks()
                .filter(|(_, c)| c.alertname == alert.name)
                .collect();
            let firing = checks.iter().any(|(_, c)| {
                !c.exp_alerts.is_empty()
                    && c.exp_alerts.iter().all(|e| {
                        e.exp_labels.get("severity") == alert.rule.labels.get("severity")
                            && ANNOTATIONS
                                .iter()
                                .all(|k| e.exp_annotations.contains_key(*k))
                    })
            });
            if !firing {
                problems.push(format!(
                    "{}: no unit test where it fires with its severity and the annotations {ANNOTATIONS:?}",
                    alert.name
                ));
            }
            if !checks.iter().any(|(_, c)| c.exp_alerts.is_empty()) {
                problems.push(format!(
                    "{}: no unit test where it must stay quiet (exp_alerts: [])",
                    alert.name
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_alert_carries_severity_area_summary_description_and_runbook() {
    let rules = rules();
    let mut problems = Vec::new();
    for alert in rules.alerts() {
        let labels = &alert.rule.labels;
        let severity = labels.get("severity").map(String::as_str);
        if !severity.is_some_and(|s| SEVERITIES.contains(&s)) {
            problems.push(format!(
                "{}: severity must be one of {SEVERITIES:?}, is {severity:?}",
                alert.name
            ));
        }
        if labels.get("area").map(String::as_str) != Some(alert.area) {
            problems.push(format!(
                "{}: label area must be {:?}",
                alert.name, alert.area
            ));
        }
        for key in ANNOTATIONS {
            if alert
                .rule
                .annotations
                .get(key)
                .is_none_or(|v| v.trim().is_empty())
            {
                problems.push(format!("{}: annotation {key} missing or empty", alert.name));
            }
        }
        let runbook = format!("docs/runbooks.md#{}", alert.name.to_lowercase());
        if alert.rule.annotations.get("runbook_url") != Some(&runbook) {
            problems.push(format!("{}: runbook_url must be {runbook}", alert.name));
        }
        let prefix_ok = match alert.area {
            "redis" => alert.name.starts_with("Redis") && !alert.name.starts_with("RedisSentinel"),
            "sentinel" => alert.name.starts_with("RedisSentinel"),
            _ => alert.name.starts_with("Sessiondb"),
        };
        if !prefix_ok {
            problems.push(format!(
                "{}: alerts of {}.rules.yml are named Redis…, RedisSentinel… or Sessiondb…",
                alert.name, alert.area
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn alerts_cover_every_required_failure_with_unique_names() {
    let rules = rules();
    let alerts = rules.alerts();
    let names: BTreeSet<&str> = alerts.iter().map(|a| a.name).collect();
    assert_eq!(names.len(), alerts.len(), "alert names must be unique");
    assert!(
        alerts.len() >= 22,
        "at least 22 alerts, found {}",
        alerts.len()
    );
    // One alert per failure operations must hear about.
    let required = [
        ("Redis down", "RedisDown"),
        ("no master", "RedisNoMaster"),
        ("more than one master", "RedisMultipleMasters"),
        ("replica link down", "RedisReplicaLinkDown"),
        ("too few replicas", "RedisTooFewReplicas"),
        ("replication lag", "RedisReplicationLag"),
        ("Sentinel quorum lost", "RedisSentinelQuorumLost"),
        ("Sentinel TILT", "RedisSentinelTilt"),
        ("a failover happened", "RedisSentinelFailover"),
        ("memory near maxmemory", "RedisMemoryNearMax"),
        ("evictions", "RedisEvictingKeys"),
        ("connection saturation", "RedisConnectionsNearLimit"),
        ("rejected connections", "RedisRejectedConnections"),
        ("AOF failures", "RedisAofWriteFailing"),
        ("RDB failures", "RedisRdbSaveFailing"),
        ("sudden drop of keys", "RedisKeysDropped"),
        (
            "sudden drop of live sessions",
            "SessiondbActiveSessionsDropped",
        ),
        ("API 5xx ratio", "SessiondbErrorRatioCritical"),
        ("API latency p99", "SessiondbLatencyHigh"),
        ("refresh-token reuse spike", "SessiondbRefreshReuseSpike"),
        (
            "authentication failures spike",
            "SessiondbAuthFailuresSpike",
        ),
        ("cleanup stale", "SessiondbCleanupStale"),
        ("cleanup failing", "SessiondbCleanupFailing"),
        ("backup stale", "SessiondbBackupStale"),
        ("exporter scrape failing", "RedisExporterScrapeFailing"),
    ];
    let missing: Vec<_> = required
        .iter()
        .filter(|(_, alert)| !names.contains(alert))
        .map(|(what, alert)| format!("{what} ({alert})"))
        .collect();
    assert!(missing.is_empty(), "no alert for: {}", missing.join(", "));
}

/// Test setups may shorten `for:`; the shipped rules must not.
#[test]
fn shipped_for_durations_are_at_least_a_minute() {
    let rules = rules();
    let mut problems = Vec::new();
    for alert in rules.alerts() {
        if let Some(duration) = &alert.rule.for_ {
            match seconds(duration) {
                Some(s) if s >= 60 => {}
                _ => problems.push(format!("{}: for: {duration} is under 1m", alert.name)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Seconds of a Prometheus duration like `1m`, `90s` or `1h30m`.
fn seconds(duration: &str) -> Option<u64> {
    let mut total = 0;
    let mut number = String::new();
    for c in duration.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        total += number.parse::<u64>().ok()? * unit;
        number.clear();
    }
    number.is_empty().then_some(total)
}
