//! The engine follows Sentinel failovers by itself: after a forced failover or a killed
//! master, sessions written before are readable and new writes succeed, without a new
//! engine; with `read_from = replica_preferred`, listings keep going to a replica of
//! whichever node is master.

#![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::calls;
use sessiondb_engine::{
    ConnectionConfig, Engine, EngineConfig, NewSession, Observer, ReadFrom, SessionId, Topology,
    UserId,
};
use sessiondb_local::testkit::eventually_async;
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
    engine_reading_from(t, prefix, ReadFrom::Master).await
}

async fn engine_reading_from(t: &SentinelTopology, prefix: &str, read_from: ReadFrom) -> Engine {
    Engine::connect(&connection(t, read_from), config(prefix))
        .await
        .unwrap()
}

fn connection(t: &SentinelTopology, read_from: ReadFrom) -> ConnectionConfig {
    let mut connection = ConnectionConfig::standalone("unused", 0);
    connection.topology = Topology::Sentinel {
        sentinels: t.sentinel_addrs(),
        service_name: t.service_name().to_owned(),
        sentinel_username: None,
        sentinel_password: None,
    };
    connection.command_timeout = Duration::from_millis(500);
    connection.read_from = read_from;
    connection
}

fn config(prefix: &str) -> EngineConfig {
    EngineConfig {
        key_prefix: prefix.to_owned(),
        ..EngineConfig::default()
    }
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
    let acked = master.cli(&["WAIT", "2", "2000"]).unwrap();
    assert_eq!(acked.trim(), "2", "both replicas have the session");
    let old = master.addr();
    master.kill().unwrap();
    let outage = until_writes_succeed(&engine, Duration::from_secs(20)).await;
    // The sentinel the test asks may learn of the promotion a moment after the one the
    // engine asked: poll it, with a deadline.
    let asked = Instant::now();
    let new = loop {
        let reported = t.current_master().unwrap();
        if reported != old || asked.elapsed() > Duration::from_secs(10) {
            break reported;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(old, new, "a replica was promoted");
    // The write that succeeded went over one reconnected connection; another one of the
    // pool may still be reconnecting, which fails fast with a retryable error. A missing
    // session is never retried.
    let started = Instant::now();
    loop {
        match engine.get(&before.session_token, false).await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    e.is_retryable(),
                    "the session written before the kill: {e:?}"
                );
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "reads did not resume: {e}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "writes resumed {} ms after the kill (down-after 1000 ms)",
        outage.as_millis()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listings_go_to_a_replica_of_the_current_master() {
    let mut t = topology();
    let engine = engine_reading_from(&t, "fo-replica", ReadFrom::ReplicaPreferred).await;
    let created = engine.create(session("carol")).await.unwrap();
    listed_by_a_replica(&engine, &mut t, &created.session_id).await;

    let old = t.current_master().unwrap();
    let new = tokio::task::block_in_place(|| t.failover()).unwrap();
    assert_ne!(old, new);
    until_writes_succeed(&engine, Duration::from_secs(15)).await;
    listed_by_a_replica(&engine, &mut t, &created.session_id).await;
    // Token checks never go to replicas: a rotation is visible at once.
    let rotated = engine.rotate(&created.session_token).await.unwrap();
    assert!(engine.get(&created.session_token, false).await.is_err());
    assert!(engine.get(&rotated.session_token, false).await.is_ok());
}

/// Lists carol's sessions until one listing is answered by a replica (the replicas
/// counted a `ZRANGEBYSCORE` and the master ran neither it nor `list.lua`'s `ZRANGE`)
/// and shows `expected`.
async fn listed_by_a_replica(engine: &Engine, t: &mut SentinelTopology, expected: &SessionId) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let master = t.current_master().unwrap();
        for node in t.data_nodes() {
            if node.is_running() {
                let _ = node.cli(&["CONFIG", "RESETSTAT"]);
            }
        }
        let listed = engine.list(&UserId::parse("carol").unwrap()).await;
        let mut on_replicas = 0;
        let mut on_master = 0;
        for node in t.data_nodes() {
            let Ok(stats) = node.cli(&["INFO", "commandstats"]) else {
                continue;
            };
            let reads = calls(&stats, "zrangebyscore") + calls(&stats, "zrange");
            if node.addr() == master {
                on_master += reads;
            } else {
                on_replicas += reads;
            }
        }
        let last = match listed {
            Ok(sessions) if sessions.iter().any(|s| &s.id == expected) => {
                if on_replicas > 0 && on_master == 0 {
                    return;
                }
                format!("listing reads: {on_replicas} on replicas, {on_master} on the master")
            }
            Ok(sessions) => format!("listed {} sessions, not the expected one", sessions.len()),
            Err(e) => format!("listing failed: {e}"),
        };
        assert!(
            Instant::now() < deadline,
            "no listing came from a replica: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_engine_leaves_a_master_the_sentinels_cut_off() {
    use fred::interfaces::{ClientLike as _, ConfigInterface as _};
    use fred::prelude::{Builder, Config, Server, ServerConfig};

    let t = topology();
    let changes = Arc::new(MasterChanges::default());
    let engine = Engine::connect_with_observer(
        &connection(&t, ReadFrom::Master),
        config("fo-partition"),
        Some(changes.clone()),
    )
    .await
    .unwrap();
    engine.create(session("dave")).await.unwrap();
    let old = t.current_master().unwrap();
    assert_eq!(engine.connected_servers(), vec![old.clone()]);

    // Partition the old master from the Sentinels only: it now requires a password
    // (which the Sentinels do not have), and their connections are closed. The
    // engine's connections, authenticated before, keep working, and no Sentinel can
    // demote the old master.
    let admin = Builder::from_config(Config {
        server: ServerConfig::Centralized {
            server: Server::new(old.0.clone(), old.1),
        },
        ..Config::default()
    })
    .build()
    .unwrap();
    admin.init().await.unwrap();
    admin
        .config_set("requirepass", "cut-off-from-the-sentinels")
        .await
        .unwrap();
    let clients: String = admin
        .custom(fred::cmd!("CLIENT"), vec!["LIST"])
        .await
        .unwrap();
    for line in clients.lines().filter(|l| l.contains(" name=sentinel-")) {
        let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
        let _: fred::types::Value = admin
            .custom(fred::cmd!("CLIENT"), vec!["KILL", "ID", id])
            .await
            .unwrap();
    }

    let new = tokio::task::block_in_place(|| {
        t.wait_for_master_change(old.clone(), Duration::from_secs(30))
    })
    .unwrap();
    // Nothing fails on the engine's side: only Sentinel's +switch-master announcement
    // can move the pool.
    eventually_async(
        "the engine to follow the switch",
        Duration::from_secs(10),
        || async {
            let servers = engine.connected_servers();
            if servers == [new.clone()] {
                Ok(())
            } else {
                Err(format!(
                    "still connected to {servers:?}, new master {new:?}"
                ))
            }
        },
    )
    .await;
    engine.create(session("dave")).await.unwrap();
    assert_eq!(
        changes.seen.lock().unwrap().as_slice(),
        [new],
        "the change is reported once"
    );
    let _ = admin.quit().await;
}

/// Records the master changes the engine reports.
#[derive(Debug, Default)]
struct MasterChanges {
    seen: Mutex<Vec<(String, u16)>>,
}

impl Observer for MasterChanges {
    fn master_changed(&self, host: &str, port: u16) {
        self.seen.lock().unwrap().push((host.to_owned(), port));
    }
}
