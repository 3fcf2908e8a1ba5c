//! The monitoring assets against live processes: a local HA stack with monitoring (what
//! `sessiondb local up --ha --monitoring` runs: one redis_exporter per node, Prometheus
//! with the shipped rules, Alertmanager) and a sessiondb app whose admin listener
//! Prometheus scrapes.
//!
//! - every alert and recording rule evaluates without error in Prometheus, and so does
//!   every dashboard query (Grafana variables substituted);
//! - every metric name they use is in what Prometheus scraped, except the few listed in
//!   [`ONLY_IN_FAILURE_OR_ABSENT`] with the reason;
//! - real alerts reach Alertmanager's API v2: a refresh-token reuse spike through the
//!   API fires `SessiondbRefreshReuseSpike`; a replica that stops answering (frozen with
//!   SIGSTOP, so the supervisor does not restart it, and its link dropped at the
//!   master) fires `RedisTooFewReplicas`; a master that stops answering (frozen) fires
//!   `RedisSentinelFailover`, and `RedisNoMaster` is not firing once Sentinel is done.
//!
//! Test-only settings, none of them in the shipped files: Prometheus scrapes and
//! evaluates every second (`MonitoringOptions::interval_secs`), and loads copies of the
//! shipped rule files in which every `for:` is `1s` (`MonitoringOptions::rules_dir`), so
//! an alert fires within seconds of its condition instead of minutes. The expressions,
//! labels and annotations are the shipped ones.
//!
//! Every wait polls with a deadline. The stack, its processes and files are gone when
//! the test ends (also when it fails): the supervisor stops everything on shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use sessiondb_acl::Role;
use sessiondb_engine::{ConnectionConfig, EngineConfig, Topology as EngineTopology};
use sessiondb_http::config::{ApiKeyConfig, HttpConfig, RateLimit, Scope};
use sessiondb_http::{generate_api_key, hash_api_key, App, AppConfig};
use sessiondb_local::stack::{
    self, procfs, MonitoringOptions, MonitoringSpec, StackDir, StackError, StackMode,
    StackPasswords, StackState, Topology, TopologyOptions,
};
use sessiondb_local::testkit::eventually;
use sessiondb_monitoring_tests::paths::{self, AREAS};
use sessiondb_monitoring_tests::promql::metric_names;
use sessiondb_monitoring_tests::tools::{Tool, PROMTOOL, REDIS_EXPORTER};
use tokio::sync::oneshot;

use crate::support::{all_queries, http, rules};

/// Metric names the rules or dashboards use that a healthy stack under light traffic
/// does not have, each with the reason. Anything else missing fails the test.
const ONLY_IN_FAILURE_OR_ABSENT: [(&str, &str); 2] = [
    (
        "job:sessiondb_http_requests_5xx:rate5m",
        "recorded from 5xx responses only; a healthy sessiondb answers none",
    ),
    (
        "job:sessiondb_http_requests_5xx:ratio_rate5m",
        "computed from job:sessiondb_http_requests_5xx:rate5m, so absent with it",
    ),
];

/// How long an alert may take to reach Alertmanager once its condition holds.
const ALERT_DEADLINE: Duration = Duration::from_secs(60);

/// How long Prometheus may take to scrape every target once.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(60);

/// The monitoring programs; each must be installed (`.ci/run` installs them).
const PROMETHEUS: Tool = Tool {
    program: "prometheus",
    package: "prometheus",
};
const ALERTMANAGER: Tool = Tool {
    program: "prometheus-alertmanager",
    package: "prometheus-alertmanager",
};

/// Fails (never skips) when a program the stack runs is missing.
fn require_tools() {
    for tool in [PROMTOOL, PROMETHEUS, ALERTMANAGER, REDIS_EXPORTER] {
        let run = tool
            .run(Path::new("."), ["--version"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(run.success, "{}", run.transcript());
    }
}

/// The shipped rule files with every `for:` duration shortened to `1s`, written to
/// `dir`.
fn write_fast_rules(dir: &Path) {
    for area in AREAS {
        let source = paths::rules_file(area);
        let text = paths::read(&source).unwrap_or_else(|e| panic!("{e}"));
        let mut shortened = 0;
        let fast: Vec<String> = text
            .lines()
            .map(|line| {
                let trimmed = line.trim_start();
                if trimmed.starts_with("for: ") {
                    shortened += 1;
                    let indent = &line[..line.len() - trimmed.len()];
                    format!("{indent}for: 1s")
                } else {
                    line.to_owned()
                }
            })
            .collect();
        assert!(shortened > 0, "no `for:` in {}", source.display());
        let name = source.file_name().expect("a file name");
        std::fs::write(dir.join(name), fast.join("\n") + "\n").expect("writing a rules copy");
    }
}

/// A running stack, run by a supervisor on a thread of this test; stopped (every
/// process, gracefully) when dropped.
struct LiveStack {
    dir: StackDir,
    state: StackState,
    passwords: StackPasswords,
    shutdown: Arc<AtomicBool>,
    supervisor: Option<JoinHandle<Result<(), StackError>>>,
    /// A process frozen with SIGSTOP, resumed on drop.
    frozen: Option<u32>,
}

impl LiveStack {
    /// Lays out an HA stack with monitoring in `root` as `local up --ha --monitoring`
    /// does, and supervises it until it runs.
    fn start(root: &Path, rules_dir: &Path) -> Self {
        let dir = StackDir::new(root.join("stack")).expect("stack dir");
        dir.create().expect("creating the stack dir");
        let topology = Topology::plan(&TopologyOptions {
            mode: StackMode::Ha,
            down_after_ms: 1000,
            failover_timeout_ms: 10_000,
            fast_timers: true,
            monitoring: Some(MonitoringOptions {
                interval_secs: Some(1),
                rules_dir: Some(rules_dir.to_owned()),
            }),
            ..TopologyOptions::default()
        })
        .expect("planning the stack");
        let (passwords, _) =
            StackPasswords::from_env_or_generate(|_| None).expect("generating passwords");
        stack::write_env_file(&dir.env_file(), &topology, &passwords, None).expect("local.env");
        dir.save_state(&StackState::new(topology))
            .expect("state.json");
        let shutdown = Arc::new(AtomicBool::new(false));
        let supervisor = {
            let (dir, shutdown) = (dir.clone(), shutdown.clone());
            std::thread::spawn(move || stack::supervise(&dir, &shutdown, &mut |_| {}))
        };
        let mut live = Self {
            dir,
            state: StackState::new(Topology::plan(&TopologyOptions::default()).expect("plan")),
            passwords,
            shutdown,
            supervisor: Some(supervisor),
            frozen: None,
        };
        let running = stack::wait_running(
            &live.dir,
            std::process::id(),
            Duration::from_secs(90),
            || {
                live.supervisor
                    .as_ref()
                    .filter(|s| s.is_finished())
                    .map(|_| "the supervisor returned".to_owned())
            },
        );
        live.state = match running {
            Ok(state) => state,
            Err(err) => {
                let outcome = live.supervisor.take().map(JoinHandle::join);
                panic!("the stack did not start: {err}; supervisor: {outcome:?}");
            }
        };
        live
    }

    fn monitoring(&self) -> &MonitoringSpec {
        self.state
            .topology
            .monitoring
            .as_ref()
            .expect("the stack has monitoring")
    }

    fn prometheus_port(&self) -> u16 {
        self.monitoring().prometheus_port
    }

    fn alertmanager_port(&self) -> u16 {
        self.monitoring().alertmanager_port
    }
}

impl Drop for LiveStack {
    fn drop(&mut self) {
        if let Some(pid) = self.frozen.take() {
            let _ = procfs::send_signal(pid, "CONT");
        }
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.join();
        }
    }
}

/// `value` percent-encoded for a query string.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// GET a JSON document from `127.0.0.1:port`.
fn get_json(port: u16, path: &str) -> Result<Value, String> {
    let (status, body) = http(port, "GET", path, &[], "")?;
    let value: Value = serde_json::from_str(&body)
        .map_err(|e| format!("GET {path}: {status}, not JSON ({e}): {body}"))?;
    if status == 200 {
        Ok(value)
    } else {
        Err(format!("GET {path}: {status}: {value}"))
    }
}

/// An instant query through Prometheus's HTTP API; the result vector, or the error
/// Prometheus gave.
fn prom_query(port: u16, query: &str) -> Result<Vec<Value>, String> {
    let value = get_json(port, &format!("/api/v1/query?query={}", encode(query)))?;
    match value["status"].as_str() {
        Some("success") => Ok(value["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()),
        _ => Err(format!("{}: {}", value["errorType"], value["error"])),
    }
}

/// Alerts called `name` in Alertmanager (API v2): active, or suppressed by an
/// inhibition (a critical alert of the same cause may fire alongside for a moment).
fn alertmanager_alerts(port: u16, name: &str) -> Result<Vec<Value>, String> {
    let alerts = get_json(port, "/api/v2/alerts")?;
    Ok(alerts
        .as_array()
        .ok_or_else(|| format!("not a list: {alerts}"))?
        .iter()
        .filter(|a| a["labels"]["alertname"] == name)
        .cloned()
        .collect())
}

/// Waits until Alertmanager has `name` active; returns its alerts.
fn wait_for_alert(port: u16, name: &str) -> Vec<Value> {
    eventually(
        &format!("{name} to reach Alertmanager"),
        ALERT_DEADLINE,
        || {
            let alerts = alertmanager_alerts(port, name)?;
            if alerts.is_empty() {
                let active = get_json(port, "/api/v2/alerts")?;
                let names: BTreeSet<String> = active
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
                    .collect();
                Err(format!("alerts in Alertmanager: {names:?}"))
            } else {
                Ok(alerts)
            }
        },
    )
}

/// The app under test: sessiondb on the stack, its admin listener on the port the
/// stack's Prometheus scrapes.
struct LiveApp {
    runtime: tokio::runtime::Runtime,
    port: u16,
    key: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), sessiondb_http::HttpError>>>,
}

impl LiveApp {
    fn start(stack: &LiveStack) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let mut connection = ConnectionConfig::standalone("unused", 0);
        connection.topology = EngineTopology::Sentinel {
            sentinels: stack
                .state
                .topology
                .sentinels()
                .map(|n| ("127.0.0.1".to_owned(), n.port))
                .collect(),
            service_name: stack.state.topology.service_name.clone(),
            sentinel_username: None,
            sentinel_password: Some(stack.passwords.sentinel.clone()),
        };
        // As `serve --local` does: the `app` role, on the prefix its ACL grants.
        connection.username = Some(Role::App.user().to_owned());
        connection.password = Some(stack.passwords.app.clone());
        // Generous: the machine also runs the stack and its monitoring.
        connection.command_timeout = Duration::from_secs(5);
        let key = generate_api_key();
        let admin = stack.monitoring().sessiondb_admin_addr();
        let http = HttpConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            admin_listen: admin.parse().expect("the stack's admin address"),
            api_keys: vec![ApiKeyConfig {
                name: "live-monitoring".to_owned(),
                sha256_hex: hash_api_key(&key),
                scopes: vec![
                    Scope::SessionsRead,
                    Scope::SessionsWrite,
                    Scope::SessionsAdmin,
                ],
            }],
            refresh_rate: RateLimit {
                per_minute: 100_000,
                burst: 10_000,
            },
            redeem_rate: RateLimit {
                per_minute: 1,
                burst: 1,
            },
            shutdown_grace: Duration::from_secs(5),
            ..HttpConfig::default()
        };
        let app = runtime
            .block_on(App::build(AppConfig {
                connection,
                engine: EngineConfig {
                    key_prefix: stack::STACK_KEY_PREFIX.to_owned(),
                    ..EngineConfig::default()
                },
                http,
                cleanup_every: Some(Duration::from_secs(1)),
            }))
            .expect("sessiondb starts on the stack");
        let port = app.port();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = runtime.spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            runtime,
            port,
            key,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// A JSON POST with the API key; status and parsed body.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.key);
        let headers = [
            ("Content-Type", "application/json"),
            ("Authorization", bearer.as_str()),
        ];
        let (status, text) = http(self.port, "POST", path, &headers, &body.to_string())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value)
    }

    fn refresh(&self, token: &Value) -> (u16, Value) {
        self.post(
            "/v1/sessions/refresh",
            &serde_json::json!({ "refresh_token": token }),
        )
    }

    /// One refresh-token reuse: a session, two rotations, then the first refresh token
    /// again (two generations old: reuse, which revokes the family).
    fn reuse_once(&self, user: &str) {
        let (status, created) = self.post("/v1/sessions", &serde_json::json!({ "user_id": user }));
        assert_eq!(status, 201, "{created}");
        let first = created["refresh_token"].clone();
        let (status, second) = self.refresh(&first);
        assert_eq!(status, 200, "{second}");
        let (status, third) = self.refresh(&second["refresh_token"]);
        assert_eq!(status, 200, "{third}");
        let (status, reuse) = self.refresh(&first);
        assert_eq!(status, 400, "{reuse}");
        assert_eq!(reuse["code"], "reuse_detected", "{reuse}");
    }
}

impl LiveApp {
    /// Two deletion-token redemptions from one client: the second is refused by the
    /// redeem rate limit (what makes `sessiondb_rate_limited_total` appear).
    fn hit_rate_limit(&self) {
        let body = serde_json::json!({ "deletion_token": "not-a-token" });
        let (first, _) = self.post("/v1/deletion-tokens/redeem", &body);
        assert_ne!(first, 429, "the first redemption is not limited");
        let (second, _) = self.post("/v1/deletion-tokens/redeem", &body);
        assert_eq!(second, 429);
    }
}

impl Drop for LiveApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server);
        }
    }
}

/// Waits until Prometheus has scraped every target successfully at least once.
fn wait_for_targets(prometheus: u16, expected: usize) {
    eventually("every target to be up", SCRAPE_DEADLINE, || {
        let up = prom_query(prometheus, "up")?;
        let healthy = up.iter().filter(|s| s["value"][1] == "1").count();
        if up.len() == expected && healthy == expected {
            Ok(())
        } else {
            let states: Vec<String> = up
                .iter()
                .map(|s| format!("{} {}", s["metric"]["instance"], s["value"][1]))
                .collect();
            Err(format!("{healthy} of {expected} targets up: {states:?}"))
        }
    });
}

/// Every rule evaluates without error in Prometheus itself (`/api/v1/rules`).
fn assert_rules_evaluate(prometheus: u16) {
    let expected = rules().all().count();
    eventually("every rule to be evaluated", SCRAPE_DEADLINE, || {
        let value = get_json(prometheus, "/api/v1/rules")?;
        let mut evaluated = 0;
        let mut failing = Vec::new();
        for group in value["data"]["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                match rule["health"].as_str() {
                    Some("ok") => evaluated += 1,
                    Some("err") => failing.push(format!("{}: {}", rule["name"], rule["lastError"])),
                    _ => {}
                }
            }
        }
        assert!(
            failing.is_empty(),
            "rules failing in Prometheus: {failing:#?}"
        );
        if evaluated == expected {
            Ok(())
        } else {
            Err(format!("{evaluated} of {expected} rules evaluated"))
        }
    });
}

/// Every rule and dashboard query evaluates through the query API, and every metric
/// name they use has been scraped.
fn assert_queries_evaluate_and_metrics_exist(prometheus: u16) {
    let queries = all_queries(true);
    assert!(queries.len() > 60, "only {} queries found", queries.len());
    let mut errors = Vec::new();
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (place, query) in &queries {
        if let Err(error) = prom_query(prometheus, query) {
            errors.push(format!("{place}: {error}\n    {query}"));
        }
        for name in metric_names(query) {
            used.entry(name).or_default().push(place.clone());
        }
    }
    assert!(
        errors.is_empty(),
        "queries Prometheus rejects:\n{}",
        errors.join("\n")
    );

    // Recording rules get their first series one evaluation after their inputs have
    // two samples: poll.
    let allowed: BTreeMap<&str, &str> = ONLY_IN_FAILURE_OR_ABSENT.into_iter().collect();
    eventually("every used metric to be scraped", SCRAPE_DEADLINE, || {
        let names = get_json(prometheus, "/api/v1/label/__name__/values")?;
        let scraped = names["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect::<BTreeSet<String>>();
        let missing: Vec<String> = used
            .iter()
            .filter(|(name, _)| !scraped.contains(*name) && !allowed.contains_key(name.as_str()))
            .map(|(name, places)| format!("{name}  (used by {})", places.join("; ")))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "metrics used by rules or dashboards but not scraped by Prometheus:\n{}",
                missing.join("\n")
            ))
        }
    });
    // Listed names must still be used. (A slow request answered 503 on a loaded
    // machine may make them appear; that is not a failure.)
    let stale: Vec<&&str> = allowed
        .keys()
        .filter(|name| !used.contains_key(**name))
        .collect();
    assert!(
        stale.is_empty(),
        "listed as absent but no rule or dashboard uses them: {stale:?}"
    );
}

#[test]
fn the_local_monitoring_stack_evaluates_every_query_and_fires_real_alerts() {
    require_tools();
    let temp = tempfile::tempdir().expect("temp dir");
    let rules_dir = temp.path().join("rules");
    std::fs::create_dir(&rules_dir).expect("rules dir");
    write_fast_rules(&rules_dir);
    let mut live = LiveStack::start(temp.path(), &rules_dir);
    // As in production, the data nodes have a memory limit (the local stack sets none),
    // so the memory ratio rules have a series to work on.
    for node in live.state.topology.data_nodes() {
        let mut conn = sessiondb_local::resp::Connection::open(
            "127.0.0.1",
            node.port,
            Some(&live.passwords.admin),
        )
        .expect("a connection to a data node");
        conn.call(&["CONFIG", "SET", "maxmemory", "256mb"])
            .expect("CONFIG SET maxmemory");
    }
    let prometheus = live.prometheus_port();
    let alertmanager = live.alertmanager_port();
    let app = LiveApp::start(&live);

    // Three data nodes, three Sentinels and sessiondb.
    wait_for_targets(prometheus, 7);
    assert_rules_evaluate(prometheus);

    // Refresh-token reuse spike: more than 10 in 10 minutes. Prometheus has seen the
    // counter before the spike (wait_for_targets), so increase() sees all of it.
    eventually("the reuse counter to be scraped", SCRAPE_DEADLINE, || {
        prom_query(prometheus, "sessiondb_refresh_reuse_detected_total")?
            .first()
            .map(|_| ())
            .ok_or_else(|| "not scraped yet".to_owned())
    });
    for i in 0..12 {
        app.reuse_once(&format!("reuse-{i}"));
    }
    app.hit_rate_limit();
    let spike = wait_for_alert(alertmanager, "SessiondbRefreshReuseSpike");
    assert_eq!(spike[0]["labels"]["severity"], "warning", "{spike:?}");
    assert_eq!(spike[0]["labels"]["job"], "sessiondb", "{spike:?}");
    assert_eq!(
        spike[0]["annotations"]["runbook_url"], "docs/runbooks.md#sessiondbrefreshreusespike",
        "{spike:?}"
    );

    assert_queries_evaluate_and_metrics_exist(prometheus);

    // A replica stops answering: frozen, so the supervisor does not restart it, and its
    // replication link dropped by the master. The master is left with one replica, as
    // many as min-replicas-to-write: no spare.
    let master = live.state.master_node().expect("a master").clone();
    let replica = live
        .state
        .topology
        .data_nodes()
        .find(|n| n.name != master.name)
        .expect("a replica")
        .clone();
    let replica_pid = live.state.pids[&replica.name];
    procfs::send_signal(replica_pid, "STOP").expect("SIGSTOP to the replica");
    live.frozen = Some(replica_pid);
    let mut conn = sessiondb_local::resp::Connection::open(
        "127.0.0.1",
        master.port,
        Some(&live.passwords.admin),
    )
    .expect("a connection to the master");
    conn.call(&["CLIENT", "KILL", "TYPE", "replica"])
        .expect("CLIENT KILL TYPE replica");
    let few = wait_for_alert(alertmanager, "RedisTooFewReplicas");
    assert_eq!(
        few[0]["labels"]["instance"].as_str(),
        Some(master.addr().as_str()),
        "{few:?}"
    );
    assert_eq!(few[0]["labels"]["severity"], "warning", "{few:?}");
    procfs::send_signal(replica_pid, "CONT").expect("SIGCONT to the replica");
    live.frozen = None;

    // The master dies. A killed master would be restarted by the stack's supervisor
    // within a second, before the Sentinels act, so it is frozen instead: it stops
    // answering as a dead one does, and the Sentinels fail over to a replica.
    let master_pid = live.state.pids[&master.name];
    procfs::send_signal(master_pid, "STOP").expect("SIGSTOP to the master");
    live.frozen = Some(master_pid);
    let sentinel = live
        .state
        .topology
        .sentinels()
        .next()
        .expect("a sentinel")
        .clone();
    let service = live.state.topology.service_name.clone();
    eventually("the Sentinels to promote a replica", ALERT_DEADLINE, || {
        let mut conn = sessiondb_local::resp::Connection::open(
            "127.0.0.1",
            sentinel.port,
            Some(&live.passwords.sentinel),
        )
        .map_err(|e| e.to_string())?;
        let reply = conn
            .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &service])
            .map_err(|e| e.to_string())?;
        let port = reply
            .items()
            .and_then(|items| items.get(1))
            .and_then(|p| p.text())
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| format!("no master address in {reply:?}"))?;
        if port == master.port {
            Err(format!("still the old master on {port}"))
        } else {
            Ok(())
        }
    });
    let failover = wait_for_alert(alertmanager, "RedisSentinelFailover");
    procfs::send_signal(master_pid, "CONT").expect("SIGCONT to the old master");
    live.frozen = None;
    assert_eq!(
        failover[0]["labels"]["master_name"], "sessiondb",
        "{failover:?}"
    );
    // Sentinel is done: a master answers, so the no-master alert is not firing.
    eventually("RedisNoMaster not to fire", ALERT_DEADLINE, || {
        let firing = prom_query(
            prometheus,
            r#"ALERTS{alertname="RedisNoMaster", alertstate="firing"}"#,
        )?;
        if firing.is_empty() {
            Ok(())
        } else {
            Err(format!("{firing:?}"))
        }
    });

    drop(app);
    let pids: Vec<u32> = live.state.pids.values().copied().collect();
    drop(live);
    stack::wait_gone(&pids, Duration::from_secs(30)).expect("every process of the stack exits");
}
