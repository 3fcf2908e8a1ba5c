//! The recorded redis_exporter metric names are real: a master, its replica and a
//! Sentinel (real processes) are scraped by the installed exporter, and every recorded
//! name must show up. `UPDATE_EXPORTER_METRICS=1` rewrites the list from what the
//! exporter exported instead.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sessiondb_local::{free_port, SentinelOptions, SentinelTopology};
use sessiondb_monitoring_tests::exporter::RecordedMetrics;
use sessiondb_monitoring_tests::openmetrics::sample_names;
use sessiondb_monitoring_tests::paths;
use sessiondb_monitoring_tests::tools::REDIS_EXPORTER;

use crate::support::http_get;

const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running exporter, killed and reaped when dropped.
struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    /// Starts the exporter in multi-target mode on a free loopback port and waits until
    /// it answers; retries on another port if the chosen one was taken meanwhile.
    fn start() -> Self {
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port().expect("a free port");
            let child = REDIS_EXPORTER
                .command(&paths::repo_root())
                .args([
                    "-redis.addr=",
                    "-include-config-metrics",
                    "-web.listen-address",
                    &format!("127.0.0.1:{port}"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{}", REDIS_EXPORTER.spawn_error(e)));
            let mut exporter = Self { child, port };
            match exporter.wait_ready() {
                Ok(()) => return exporter,
                Err(e) => last_error = e,
            }
        }
        panic!("redis_exporter did not start: {last_error}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!("exited with {status}: {stderr}"));
            }
            if http_get(self.port, "/metrics").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on port {} within {START_DEADLINE:?}",
                    self.port
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exposition text for Redis or Sentinel at `127.0.0.1:port`.
    fn scrape(&self, port: u16) -> String {
        let path = format!("/scrape?target=redis://127.0.0.1:{port}");
        http_get(self.port, &path).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

/// The `version` label of `redis_exporter_build_info` (not `golang_version`).
fn version_label(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|l| l.starts_with("redis_exporter_build_info{"))?;
    let labels = line.split_once('{')?.1.split_once('}')?.0;
    labels.split(',').find_map(|pair| {
        pair.strip_prefix("version=\"")
            .and_then(|v| v.strip_suffix('"'))
            .map(str::to_owned)
    })
}

#[test]
fn the_installed_redis_exporter_exports_every_recorded_metric() {
    let mut topology = SentinelTopology::start(SentinelOptions {
        replicas: 1,
        sentinels: 1,
        quorum: 1,
        appendonly: true,
        min_replicas_to_write: Some(1),
        ..SentinelOptions::default()
    })
    .expect("master, replica and Sentinel start");
    let sentinel_port = topology.sentinel_addrs()[0].1;
    let (_, master_port) = topology
        .current_master()
        .expect("the Sentinel names the master");
    let replica_port = topology
        .data_nodes()
        .iter()
        .map(|n| n.port())
        .find(|p| *p != master_port)
        .expect("a replica");
    // What makes the conditional metrics appear: a key with a TTL (average TTL), an
    // error reply (error statistics).
    let master = topology.master().expect("master");
    master
        .cli(&["SET", "sdb:monitoring-check", "1", "EX", "600"])
        .expect("SET on the master");
    master
        .cli(&["NO-SUCH-COMMAND"])
        .expect_err("an unknown command is an error reply");
    let unreachable = free_port().expect("a free port");

    let exporter = Exporter::start();
    let mut exported = BTreeSet::new();
    let mut version = None;
    for (what, port) in [
        ("master", master_port),
        ("replica", replica_port),
        ("sentinel", sentinel_port),
        ("unreachable", unreachable),
    ] {
        let text = exporter.scrape(port);
        let up = if what == "unreachable" {
            "redis_up 0"
        } else {
            "redis_up 1"
        };
        assert!(
            text.lines().any(|l| l == up),
            "{what}: expected {up} in\n{text}"
        );
        exported.extend(
            sample_names(&text)
                .into_iter()
                .filter(|n| n.starts_with("redis_")),
        );
        version = version.or_else(|| version_label(&text));
    }
    let version = version.unwrap_or_else(|| {
        let metrics = http_get(exporter.port, "/metrics").unwrap_or_default();
        version_label(&metrics).expect("redis_exporter_build_info has a version")
    });

    let path = paths::exporter_metrics_file();
    if std::env::var_os("UPDATE_EXPORTER_METRICS").is_some() {
        fs::write(&path, RecordedMetrics::render(&version, &exported))
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    let recorded = RecordedMetrics::load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        RecordedMetrics::upstream_version(&recorded.version),
        RecordedMetrics::upstream_version(&version),
        "{} was recorded from redis_exporter {}, the installed one is {version}",
        path.display(),
        recorded.version
    );
    let missing: Vec<&String> = recorded.names.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "recorded in {} but not exported by redis_exporter {version}: {missing:?}",
        path.display()
    );
    // The Sentinel, the replica link and the configuration really were seen.
    for name in [
        "redis_sentinel_master_ckquorum_status",
        "redis_master_link_up",
        "redis_connected_slave_lag_seconds",
        "redis_config_value",
    ] {
        assert!(exported.contains(name), "{name} not exported");
    }
}
