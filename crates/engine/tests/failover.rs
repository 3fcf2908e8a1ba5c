//! The engine follows Sentinel failovers by itself: after a forced failover or a killed
//! master, sessions written before are readable and new writes succeed, without a new
//! engine.

#![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

use std::time::{Duration, Instant};

use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, NewSession, Topology, UserId};
use sessiondb_local::{SentinelOptions, SentinelTopology};

fn topology() -> SentinelTopology {
    SentinelTopology::start(SentinelOptions {
        down_after_ms: 1000,
        failover_timeout_ms: 5000,
        fast_timers: true,
        ..SentinelOptions::default()
    })
    .unwrap()
}

async fn engine(t: &SentinelTopology, prefix: &str) -> Engine {
    let mut connection = ConnectionConfig::standalone("unused", 0);
    connection.topology = Topology::Sentinel {
        sentinels: t.sentinel_addrs(),
        service_name: t.service_name().to_owned(),
        sentinel_username: None,
        sentinel_password: None,
    };
    connection.command_timeout = Duration::from_millis(500);
    let config = EngineConfig {
        key_prefix: prefix.to_owned(),
        ..EngineConfig::default()
    };
    Engine::connect(&connection, config).await.unwrap()
}

fn session(user: &str) -> NewSession {
    NewSession {
        user_id: UserId::parse(user).unwrap(),
        data: serde_json::Map::new(),
        metadata: Default::default(),
        idle_ttl: None,
    }
}

/// Creates sessions until one succeeds; returns how long writes were failing.
async fn until_writes_succeed(engine: &Engine, deadline: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match engine.create(session("probe")).await {
            Ok(_) => return started.elapsed(),
            Err(e) => {
                assert!(
                    e.is_retryable(),
                    "failures during failover are retryable: {e:?}"
                );
                assert!(started.elapsed() < deadline, "writes did not resume: {e}");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_follows_a_forced_failover() {
    let t = topology();
    let engine = engine(&t, "fo-forced").await;
    let before = engine.create(session("alice")).await.unwrap();
    let old = t.current_master().unwrap();
    let new = tokio::task::block_in_place(|| t.failover()).unwrap();
    assert_ne!(old, new);
    until_writes_succeed(&engine, Duration::from_secs(15)).await;
    let read = engine.get(&before.session_token, false).await.unwrap();
    assert_eq!(read.id, before.session_id);
    engine.refresh(&before.refresh_token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_follows_a_killed_master() {
    let mut t = topology();
    let engine = engine(&t, "fo-killed").await;
    let before = engine.create(session("bob")).await.unwrap();
    // Let the replicas receive the write before the master dies (async replication).
    let master = t.master().unwrap();
    master.cli(&["WAIT", "2", "2000"]).unwrap();
    let old = master.addr();
    master.kill().unwrap();
    let outage = until_writes_succeed(&engine, Duration::from_secs(20)).await;
    let new = t.current_master().unwrap();
    assert_ne!(old, new, "a replica was promoted");
    assert!(engine.get(&before.session_token, false).await.is_ok());
    eprintln!(
        "writes resumed {} ms after the kill (down-after 1000 ms)",
        outage.as_millis()
    );
}
