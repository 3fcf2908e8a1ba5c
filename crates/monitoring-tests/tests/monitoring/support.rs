//! Helpers shared by the checks.

use std::collections::BTreeMap;

use sessiondb_monitoring_tests::dashboards::{substitute_variables, Dashboard};
use sessiondb_monitoring_tests::paths::AREAS;
use sessiondb_monitoring_tests::rules::{RuleTestFile, Rules};
use sessiondb_monitoring_tests::tools::Run;

/// The rule files, or a failed test naming what is wrong with them.
pub(crate) fn rules() -> Rules {
    Rules::load().unwrap_or_else(|e| panic!("{e}"))
}

/// The unit-test file of every area.
pub(crate) fn rule_tests() -> Vec<(&'static str, RuleTestFile)> {
    AREAS
        .iter()
        .map(|area| {
            let file = RuleTestFile::load(area).unwrap_or_else(|e| panic!("{e}"));
            (*area, file)
        })
        .collect()
}

/// The labels every alert carries when it fires, taken from its firing unit test
/// (alert name → label names).
pub(crate) fn firing_labels() -> BTreeMap<String, Vec<String>> {
    let mut labels = BTreeMap::new();
    for (_, file) in rule_tests() {
        for (_, check) in file.checks() {
            if let Some(alert) = check.exp_alerts.first() {
                labels
                    .entry(check.alertname.clone())
                    .or_insert_with(|| alert.exp_labels.keys().cloned().collect());
            }
        }
    }
    labels
}

/// Panics with the transcript unless the run succeeded.
pub(crate) fn assert_success(run: &Run) {
    assert!(run.success, "command failed:\n{}", run.transcript());
}

/// One plain HTTP/1.0 request to `127.0.0.1:port`; the status and the body.
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("malformed response: {response:?}"))?;
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// A GET that must answer 200; the body.
pub(crate) fn http_get(port: u16, path: &str) -> Result<String, String> {
    match http(port, "GET", path, &[], "")? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("GET {path}: {status}\n{body}")),
    }
}

/// Every query of every rule and dashboard, with where it comes from. With
/// `substituted`, Grafana's variables in dashboard queries are replaced by values
/// Prometheus can evaluate; without, the queries are as shipped.
pub(crate) fn all_queries(substituted: bool) -> Vec<(String, String)> {
    let dashboard_query = |query: &str| {
        if substituted {
            substitute_variables(query)
        } else {
            query.to_owned()
        }
    };
    let mut out = Vec::new();
    for (area, rule) in rules().all() {
        let name = rule
            .alert
            .as_deref()
            .or(rule.record.as_deref())
            .unwrap_or("?");
        out.push((format!("{area}.rules.yml: {name}"), rule.expr.clone()));
    }
    for dashboard in Dashboard::load_all().unwrap_or_else(|e| panic!("{e}")) {
        for panel in dashboard.panels() {
            for query in panel.queries {
                let place = format!("{}: panel {:?}", dashboard.name(), panel.title);
                out.push((place, dashboard_query(query)));
            }
        }
        for selector in dashboard.variable_selectors() {
            let place = format!("{}: variable {selector}", dashboard.name());
            out.push((place, dashboard_query(&selector)));
        }
    }
    out
}
