//! Every metric an alert rule or a dashboard uses is one that exists: a name the real
//! redis_exporter exports (recorded list, see `exporter`), a sessiondb metric listed in
//! docs/metrics.md, a recording rule, or Prometheus's `up`. And docs/metrics.md lists
//! exactly what a running sessiondb's `/metrics` exports.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use sessiondb_engine::{CleanupOptions, ConnectionConfig, EngineConfig};
use sessiondb_http::config::{ApiKeyConfig, HttpConfig, RateLimit, Scope};
use sessiondb_http::{generate_api_key, hash_api_key, App, AppConfig};
use sessiondb_local::testkit::eventually;
use sessiondb_local::{RedisOptions, RedisServer};
use sessiondb_monitoring_tests::docs::{parse_metric_table, DocMetric, Status};
use sessiondb_monitoring_tests::exporter::RecordedMetrics;
use sessiondb_monitoring_tests::openmetrics;
use sessiondb_monitoring_tests::paths;
use sessiondb_monitoring_tests::promql::metric_names;

use tokio::sync::oneshot;

use crate::support::{all_queries, http, http_get, rules};

/// Series Prometheus makes itself for every target.
const PROMETHEUS_SERIES: [&str; 1] = ["up"];

fn documented_metrics() -> Vec<DocMetric> {
    let path = paths::metrics_doc();
    let text = paths::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let metrics = parse_metric_table(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(!metrics.is_empty(), "no metric table in {}", path.display());
    metrics
}

#[test]
fn every_metric_used_by_rules_and_dashboards_exists() {
    let recorded = RecordedMetrics::load().unwrap_or_else(|e| panic!("{e}"));
    let mut known: BTreeSet<String> = recorded.names;
    for metric in documented_metrics() {
        known.extend(metric.series_names());
    }
    known.extend(rules().recorded_names().into_iter().map(str::to_owned));
    known.extend(PROMETHEUS_SERIES.map(str::to_owned));

    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut used = 0;
    for (place, query) in all_queries(false) {
        for name in metric_names(&query) {
            used += 1;
            if !known.contains(&name) {
                unknown.entry(name).or_default().push(place.clone());
            }
        }
    }
    assert!(
        used > 100,
        "only {used} metric uses found: is the scanner broken?"
    );
    let report: Vec<String> = unknown
        .iter()
        .map(|(name, places)| format!("{name}  (used by {})", places.join("; ")))
        .collect();
    assert!(
        report.is_empty(),
        "metrics neither in {} nor in docs/metrics.md:\n{}",
        paths::exporter_metrics_file().display(),
        report.join("\n")
    );
}

/// A real sessiondb (HTTP server and engine on its own redis-server) after a little
/// traffic that touches every metric family: a request, a session created, a request
/// refused by the redeem rate limit and a cleanup pass. Its admin listener's /metrics.
async fn exported_metrics_text() -> String {
    let redis = tokio::task::spawn_blocking(|| RedisServer::start(RedisOptions::default()))
        .await
        .expect("redis start task")
        .expect("redis-server starts");
    let (host, port) = redis.addr();
    let key = generate_api_key();
    let config = HttpConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        admin_listen: "127.0.0.1:0".parse().expect("address"),
        api_keys: vec![ApiKeyConfig {
            name: "monitoring-check".to_owned(),
            sha256_hex: hash_api_key(&key),
            scopes: vec![Scope::SessionsWrite],
        }],
        redeem_rate: RateLimit {
            per_minute: 1,
            burst: 1,
        },
        shutdown_grace: Duration::from_secs(5),
        ..HttpConfig::default()
    };
    // Started the way `serve` starts it.
    let app = App::build(AppConfig {
        connection: ConnectionConfig::standalone(host, port),
        engine: EngineConfig {
            key_prefix: "monitoring-check".to_owned(),
            ..EngineConfig::default()
        },
        http: config,
        cleanup_every: None,
    })
    .await
    .expect("the app starts");
    let (engine, metrics) = (app.engine().clone(), app.metrics().clone());
    let api = app.port();
    let admin = app.admin_port();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let bearer = format!("Bearer {key}");
    tokio::task::spawn_blocking(move || {
        let json = ("Content-Type", "application/json");
        let auth = ("Authorization", bearer.as_str());
        let created = http(
            api,
            "POST",
            "/v1/sessions",
            &[json, auth],
            r#"{"user_id":"alice"}"#,
        );
        assert_eq!(created.map(|r| r.0), Ok(201));
        let redeem = r#"{"deletion_token":"not-a-token"}"#;
        let first = http(api, "POST", "/v1/deletion-tokens/redeem", &[json], redeem);
        assert!(
            first.is_ok_and(|r| r.0 != 429),
            "the first redemption is not limited"
        );
        let second = http(api, "POST", "/v1/deletion-tokens/redeem", &[json], redeem);
        assert_eq!(second.map(|r| r.0), Ok(429));
    })
    .await
    .expect("requests task");
    // What the cleanup loop of `serve` does after each pass.
    let cleanup = engine.cleanup(CleanupOptions::default()).await;
    metrics.record_cleanup(&cleanup);
    // The write node's role is read by the app's background loop right after start.
    let text = tokio::task::spawn_blocking(move || {
        eventually(
            "the role gauge on /metrics",
            Duration::from_secs(10),
            || {
                let text = http_get(admin, "/metrics").unwrap_or_else(|e| panic!("{e}"));
                if text.contains("sessiondb_redis_role{") {
                    Ok(text)
                } else {
                    Err("no sessiondb_redis_role series yet".to_owned())
                }
            },
        )
    })
    .await
    .expect("scrape task");

    let _ = stop.send(());
    running
        .await
        .expect("server task")
        .expect("server stops cleanly");
    drop(redis);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_doc_lists_exactly_what_sessiondb_exports() {
    let exported = openmetrics::families(&exported_metrics_text().await);
    let exported: BTreeMap<String, openmetrics::Family> = exported
        .into_values()
        .filter(|f| f.name.starts_with("sessiondb_"))
        .map(|f| (f.sample_name(), f))
        .collect();
    assert!(exported.len() >= 20, "{exported:?}");
    let documented = documented_metrics();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for metric in &documented {
        if !seen.insert(metric.name.clone()) {
            problems.push(format!("{} is listed twice", metric.name));
        }
        match (metric.status, exported.get(&metric.name)) {
            (Status::Exported, None) => problems.push(format!(
                "{} is marked exported but /metrics does not have it",
                metric.name
            )),
            (Status::Planned, Some(_)) => problems.push(format!(
                "{} is exported now: mark it `exported` in docs/metrics.md",
                metric.name
            )),
            (Status::Exported, Some(family)) => {
                if family.kind != metric.kind {
                    problems.push(format!(
                        "{}: docs say {}, /metrics says {}",
                        metric.name, metric.kind, family.kind
                    ));
                }
                if family.help != metric.help {
                    problems.push(format!(
                        "{}: HELP in docs {:?}, /metrics says {:?}",
                        metric.name, metric.help, family.help
                    ));
                }
            }
            (Status::Planned, None) => {}
        }
    }
    for name in exported.keys() {
        if !seen.contains(name) {
            problems.push(format!(
                "{name} is exported but missing from docs/metrics.md"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
