//! On a Cluster with a replica per master, `read_from = replica_preferred` sends
//! listings to the replicas (fred routes them by slot) while token checks and writes stay
//! on the masters.

#![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

mod common;

use std::time::{Duration, Instant};

use common::calls;
use sessiondb_engine::{
    ConnectionConfig, Engine, EngineConfig, NewSession, ReadFrom, Topology, UserId,
};
use sessiondb_local::RedisCluster;

#[tokio::test(flavor = "multi_thread")]
async fn listings_go_to_replicas_and_token_checks_to_masters() {
    let mut cluster =
        tokio::task::block_in_place(|| RedisCluster::start_with_replicas(3, 1, None)).unwrap();
    let mut connection = ConnectionConfig::standalone("unused", 0);
    connection.topology = Topology::Cluster {
        nodes: cluster.seed_nodes(),
    };
    connection.read_from = ReadFrom::ReplicaPreferred;
    let config = EngineConfig {
        key_prefix: "cluster-replicas".to_owned(),
        ..EngineConfig::default()
    };
    let engine = Engine::connect(&connection, config).await.unwrap();

    // Users spread over several slots (and so over every master).
    let users: Vec<UserId> = (0..12)
        .map(|i| UserId::parse(format!("user-{i}")).unwrap())
        .collect();
    let mut created = Vec::new();
    for user in &users {
        let session = engine
            .create(NewSession {
                user_id: user.clone(),
                data: serde_json::Map::new(),
                metadata: Default::default(),
                idle_ttl: None,
            })
            .await
            .unwrap();
        // Token checks see the write at once, whatever the replicas have.
        engine.get(&session.session_token, false).await.unwrap();
        created.push(session.session_id);
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let nodes = cluster.nodes();
        for node in nodes.iter() {
            node.cli(&["CONFIG", "RESETSTAT"]).unwrap();
        }
        let mut all_listed = true;
        for (user, id) in users.iter().zip(&created) {
            let listed = engine.list(user).await.unwrap();
            all_listed &= listed.iter().any(|s| &s.id == id);
        }
        let (mut on_replicas, mut on_masters) = (0, 0);
        for node in nodes.iter() {
            let role = node.cli(&["ROLE"]).unwrap();
            let stats = node.cli(&["INFO", "commandstats"]).unwrap();
            let reads =
                calls(&stats, "zrangebyscore") + calls(&stats, "zrange") + calls(&stats, "get");
            if role.starts_with("master") {
                on_masters += reads;
            } else {
                on_replicas += reads;
            }
        }
        if all_listed && on_masters == 0 && on_replicas >= 2 * users.len() as u64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "listings: all found {all_listed}, reads on replicas {on_replicas}, on masters {on_masters}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
