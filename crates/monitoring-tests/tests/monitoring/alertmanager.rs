//! The Alertmanager configuration: amtool accepts it, routes each severity where it
//! should go, inhibits only between alerts that exist and share the labels it compares,
//! renders the notification template, and sends nothing off this machine.

use std::collections::BTreeSet;
use std::fs;

use serde_json::json;
use serde_yaml_ng::Value;
use sessiondb_monitoring_tests::paths;
use sessiondb_monitoring_tests::rules::load_yaml;
use sessiondb_monitoring_tests::tools::AMTOOL;

use crate::support::{assert_success, firing_labels, rule_tests, rules};

fn config() -> Value {
    load_yaml(&paths::alertmanager_dir().join("alertmanager.yml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn amtool_check_config_accepts_the_configuration_and_template() {
    let run = AMTOOL
        .run(
            &paths::alertmanager_dir(),
            ["check-config", "alertmanager.yml"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    assert!(run.stdout.contains("SUCCESS"), "{}", run.transcript());
    assert!(run.stdout.contains("1 templates"), "{}", run.transcript());
}

#[test]
fn each_severity_reaches_its_receivers() {
    let severities: BTreeSet<String> = rules()
        .alerts()
        .iter()
        .filter_map(|a| a.rule.labels.get("severity").cloned())
        .collect();
    let expected = [
        ("critical", "pager,team-chat"),
        ("warning", "team-chat"),
        ("info", "team-chat-quiet"),
    ];
    let routed: BTreeSet<String> = expected.iter().map(|(s, _)| (*s).to_owned()).collect();
    assert_eq!(
        severities, routed,
        "every severity the alerts use has a route"
    );
    for (severity, receivers) in expected {
        let label = format!("severity={severity}");
        let run = AMTOOL
            .run(
                &paths::alertmanager_dir(),
                [
                    "config",
                    "routes",
                    "test",
                    "--config.file=alertmanager.yml",
                    "alertname=RedisDown",
                    &label,
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_success(&run);
        assert_eq!(run.stdout.trim(), receivers, "{}", run.transcript());
    }
}

/// The alert names an `alertname="X"` or `alertname=~"A|B"` matcher selects.
fn alertnames(matchers: Option<&Value>) -> Vec<String> {
    let mut names = Vec::new();
    for matcher in matchers.and_then(Value::as_sequence).into_iter().flatten() {
        let text = matcher.as_str().unwrap_or_default();
        let value = text
            .strip_prefix("alertname=~")
            .or_else(|| text.strip_prefix("alertname="))
            .map(|v| v.trim_matches('"'));
        if let Some(value) = value {
            names.extend(value.split('|').map(str::to_owned));
        }
    }
    names
}

#[test]
fn inhibitions_pair_existing_alerts_that_carry_the_compared_labels() {
    let config = config();
    let rules = rules();
    let alerts: BTreeSet<&str> = rules.alerts().iter().map(|a| a.name).collect();
    let labels = firing_labels();
    let inhibit = config
        .get("inhibit_rules")
        .and_then(Value::as_sequence)
        .expect("inhibit_rules");
    assert!(!inhibit.is_empty());
    let mut problems = Vec::new();
    for (i, rule) in inhibit.iter().enumerate() {
        let sources = alertnames(rule.get("source_matchers"));
        let targets = alertnames(rule.get("target_matchers"));
        if sources.is_empty() || targets.is_empty() {
            problems.push(format!(
                "inhibit rule {i}: name its source and target alerts"
            ));
        }
        let equal: Vec<&str> = rule
            .get("equal")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if equal.is_empty() {
            problems.push(format!(
                "inhibit rule {i}: without `equal` it inhibits across deployments"
            ));
        }
        for name in sources.iter().chain(&targets) {
            if !alerts.contains(name.as_str()) {
                problems.push(format!("inhibit rule {i}: {name} is not an alert"));
                continue;
            }
            // A label missing on both sides counts as equal and would inhibit everything.
            let carried = labels.get(name).cloned().unwrap_or_default();
            for label in &equal {
                if !carried.iter().any(|l| l == label) {
                    problems.push(format!(
                        "inhibit rule {i}: {name} does not carry label {label} (see its firing unit test)"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn receivers_only_point_at_loopback_placeholders() {
    fn urls(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Mapping(map) => {
                for (key, value) in map {
                    let key = key.as_str().unwrap_or_default();
                    if key.ends_with("url") {
                        out.push(value.as_str().unwrap_or_default().to_owned());
                    }
                    urls(value, out);
                }
            }
            Value::Sequence(items) => items.iter().for_each(|v| urls(v, out)),
            _ => {}
        }
    }
    let config = config();
    let mut found = Vec::new();
    urls(config.get("receivers").expect("receivers"), &mut found);
    assert!(!found.is_empty());
    for url in found {
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "receiver URL {url} leaves this machine"
        );
    }
}

#[test]
fn the_template_renders_summary_description_and_runbook_link() {
    // A real alert as it fires: RedisDown's expected labels and annotations.
    let (labels, annotations) = rule_tests()
        .iter()
        .flat_map(|(_, file)| file.checks().map(|(_, c)| c))
        .filter(|c| c.alertname == "RedisDown")
        .find_map(|c| c.exp_alerts.first())
        .map(|e| {
            let mut labels = e.exp_labels.clone();
            labels.insert("alertname".to_owned(), "RedisDown".to_owned());
            (labels, e.exp_annotations.clone())
        })
        .expect("RedisDown has a firing unit test");
    let data = json!({
        "receiver": "team-chat",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": "0000000000000001"
        }],
        "groupLabels": {"alertname": "RedisDown", "job": "redis"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://127.0.0.1:9093"
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_file = dir.path().join("data.json");
    fs::write(&data_file, data.to_string()).expect("write template data");
    let run = AMTOOL
        .run(
            &paths::alertmanager_dir(),
            [
                "template".to_owned(),
                "render".to_owned(),
                "--template.glob=templates/*.tmpl".to_owned(),
                format!("--template.data={}", data_file.display()),
                "--template.text={{ template \"sessiondb.title\" . }}\n{{ template \"sessiondb.text\" . }}"
                    .to_owned(),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_success(&run);
    let out = &run.stdout;
    assert!(
        out.starts_with("[FIRING:1] RedisDown (critical, redis)"),
        "{out}"
    );
    for key in ["summary", "description"] {
        assert!(
            out.contains(annotations[key].as_str()),
            "{key} missing:\n{out}"
        );
    }
    let link = out
        .lines()
        .find_map(|l| l.strip_prefix("Runbook: "))
        .unwrap_or_else(|| panic!("no runbook link:\n{out}"));
    assert!(
        link.starts_with("https://") && link.ends_with("/docs/runbooks.md#redisdown"),
        "runbook link {link}"
    );
    assert!(out.contains("instance=10.0.0.1:6379"), "{out}");
}
