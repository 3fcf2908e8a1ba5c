//! `health`: every check passes on a healthy deployment and the right one fails when
//! something breaks.

use std::time::Duration;

use sessiondb_local::{
    free_port, RedisCluster, RedisOptions, RedisServer, SentinelOptions, SentinelTopology,
};
use sessiondb_ops::{health, CheckStatus, ExitStatus, HealthOptions, HealthReport};

use sessiondb_local::testkit::eventually_async;

use crate::support::{cluster, sentinel, standalone};

const PREFIX: &str = "sdb";

fn failed(report: &HealthReport) -> Vec<&'static str> {
    report.failed().map(|c| c.name).collect()
}

fn ha() -> SentinelTopology {
    SentinelTopology::start(SentinelOptions {
        appendonly: true,
        ..SentinelOptions::default()
    })
    .expect("a Sentinel topology starts")
}

#[tokio::test]
async fn a_healthy_sentinel_topology_passes_every_check() -> anyhow::Result<()> {
    let topology = ha();
    let report = health(&sentinel(&topology), PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    assert_eq!(report.exit_status().code(), 0);
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "master",
            "replicas",
            "sentinels",
            "memory",
            "persistence",
            "eviction"
        ]
    );
    for check in &report.checks {
        assert_eq!(check.status, CheckStatus::Ok, "{report}");
    }
    let master = topology.current_master()?;
    let detail = &report.check("sentinels").expect("sentinels check").detail;
    assert!(
        detail.contains(&format!(
            "3 of 3 Sentinels agree on {}:{}",
            master.0, master.1
        )),
        "{detail}"
    );
    // The write went to a short-lived key under the prefix.
    let mut topology = topology;
    let ttl: i64 = topology.master()?.cli(&["PTTL", "sdb:health"])?.parse()?;
    assert!((1..=10_000).contains(&ttl), "health key TTL {ttl}");
    // JSON: the documented shape.
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["status"], "ok");
    assert_eq!(json["topology"], "sentinel");
    assert_eq!(json["checks"][0]["name"], "master");
    assert_eq!(json["checks"][0]["status"], "ok");
    assert!(json["checks"][0]["detail"].is_string());
    assert!(json["error"].is_null());
    crate::support::assert_documented(&json);
    Ok(())
}

#[tokio::test]
async fn a_stopped_replica_fails_the_replicas_check() -> anyhow::Result<()> {
    let mut topology = ha();
    let conn = sentinel(&topology);
    let options = HealthOptions {
        min_replicas: Some(2),
        ..HealthOptions::default()
    };
    assert_eq!(
        health(&conn, PREFIX, &options).await?.exit_status(),
        ExitStatus::Ok
    );
    let master = topology.current_master()?;
    let replica = topology
        .data_nodes()
        .iter_mut()
        .find(|n| n.port() != master.1)
        .expect("a replica");
    replica.stop()?;
    let report = eventually_async(
        "the replicas check to fail",
        Duration::from_secs(20),
        || async {
            let report = health(&conn, PREFIX, &options).await?;
            if report.exit_status() == ExitStatus::Failed {
                Ok(report)
            } else {
                Err(anyhow::anyhow!("health reports {report}"))
            }
        },
    )
    .await;
    assert_eq!(report.exit_status().code(), 1);
    assert_eq!(failed(&report), ["replicas"], "{report}");
    let detail = &report.check("replicas").expect("replicas check").detail;
    assert!(
        detail.contains("1 in sync (lag ≤ 10 s), 2 required"),
        "{detail}"
    );
    Ok(())
}

#[tokio::test]
async fn a_sentinel_minority_fails_the_sentinels_check() -> anyhow::Result<()> {
    let mut topology = ha();
    let conn = sentinel(&topology);
    for s in &mut topology.sentinels()[1..] {
        s.stop()?;
    }
    let report = health(&conn, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::Failed, "{report}");
    assert_eq!(failed(&report), ["sentinels"], "{report}");
    let detail = &report.check("sentinels").expect("sentinels check").detail;
    assert!(
        detail.contains("only 1 of 3 Sentinels answered; quorum is 2"),
        "{detail}"
    );
    Ok(())
}

#[tokio::test]
async fn memory_over_the_threshold_fails_the_memory_check() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&server);
    let report = health(&conn, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    let memory = report.check("memory").expect("memory check");
    assert!(
        memory.detail.contains("no maxmemory set"),
        "{}",
        memory.detail
    );

    let used: u64 = server
        .cli(&["INFO", "memory"])?
        .lines()
        .find_map(|l| l.trim().strip_prefix("used_memory:")?.parse().ok())
        .expect("used_memory");
    // About 95% used (Redis grows a little between the two commands).
    let max = (used as f64 / 0.95) as u64;
    server.cli(&["CONFIG", "SET", "maxmemory", &max.to_string()])?;
    let report = health(&conn, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::Failed, "{report}");
    assert_eq!(failed(&report), ["memory"], "{report}");
    // A looser threshold passes.
    let loose = HealthOptions {
        max_memory_ratio: 1.0,
        ..HealthOptions::default()
    };
    let report = health(&conn, PREFIX, &loose).await?;
    assert_eq!(
        report.check("memory").map(|c| c.status),
        Some(CheckStatus::Ok),
        "{report}"
    );
    Ok(())
}

#[tokio::test]
async fn an_allkeys_eviction_policy_fails_and_a_volatile_one_warns() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&server);
    server.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])?;
    let report = health(&conn, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::Failed, "{report}");
    assert_eq!(failed(&report), ["eviction"], "{report}");
    assert!(report.to_string().contains("fail  eviction"), "{report}");

    server.cli(&["CONFIG", "SET", "maxmemory-policy", "volatile-lru"])?;
    let report = health(&conn, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    assert_eq!(
        report.check("eviction").map(|c| c.status),
        Some(CheckStatus::Warn)
    );
    Ok(())
}

#[tokio::test]
async fn nothing_answering_means_could_not_run() -> anyhow::Result<()> {
    let nowhere = sessiondb_engine::ConnectionConfig::standalone("127.0.0.1", free_port()?);
    let report = health(&nowhere, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::CouldNotRun, "{report}");
    assert_eq!(report.exit_status().code(), 2);
    assert!(report
        .error
        .as_deref()
        .unwrap_or("")
        .starts_with("nothing answered"));

    let mut sentinels = nowhere.clone();
    sentinels.topology = sessiondb_engine::Topology::Sentinel {
        sentinels: vec![("127.0.0.1".to_owned(), free_port()?)],
        service_name: "sessiondb".to_owned(),
        sentinel_username: None,
        sentinel_password: None,
    };
    let report = health(&sentinels, PREFIX, &HealthOptions::default()).await?;
    assert_eq!(report.exit_status(), ExitStatus::CouldNotRun, "{report}");
    Ok(())
}

#[tokio::test]
async fn a_healthy_cluster_passes_with_a_write_on_every_master() -> anyhow::Result<()> {
    let nodes = RedisCluster::start(3, None)?;
    let report = health(
        &cluster(nodes.seed_nodes()),
        PREFIX,
        &HealthOptions::default(),
    )
    .await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    let master = report.check("master").expect("master check");
    assert_eq!(
        master.detail.matches(" ms)").count(),
        3,
        "{}",
        master.detail
    );
    Ok(())
}

#[tokio::test]
async fn invalid_options_are_refused() {
    let conn = sessiondb_engine::ConnectionConfig::standalone("127.0.0.1", 1);
    let options = HealthOptions {
        max_memory_ratio: 1.5,
        ..HealthOptions::default()
    };
    let error = health(&conn, PREFIX, &options).await.expect_err("refused");
    assert!(error.to_string().contains("max_memory_ratio"), "{error}");
}

#[tokio::test]
async fn a_hung_master_fails_the_master_check_within_the_timeout() -> anyhow::Result<()> {
    let mut topology = ha();
    let conn = sentinel(&topology);
    let pid = topology.master()?.pid().expect("the master runs");
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()?;
    assert!(stopped.success());
    let options = HealthOptions {
        timeout: Duration::from_millis(800),
        ..HealthOptions::default()
    };
    // The report comes back although the master never answers.
    let report = tokio::time::timeout(Duration::from_secs(30), health(&conn, PREFIX, &options))
        .await
        .expect("health returns")?;
    let resumed = std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()?;
    assert!(resumed.success());
    assert_eq!(report.exit_status(), ExitStatus::Failed, "{report}");
    assert!(failed(&report).contains(&"master"), "{report}");
    Ok(())
}
