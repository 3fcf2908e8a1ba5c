//! `RedisCluster` with real `redis-server` processes.

use sessiondb_acl::{render_with, DefaultUser, Passwords, Role};
use sessiondb_local::resp::{Connection, Reply};
use sessiondb_local::{ClusterOptions, LocalError, RedisCluster, SecretString};

mod common;
use common::process_exists;

#[test]
fn three_masters_serve_keys_through_redirects() {
    let password = SecretString::from("cluster pass");
    let mut cluster = RedisCluster::start(3, Some(password)).unwrap();
    let seeds = cluster.seed_nodes();
    assert_eq!(seeds.len(), 3);
    assert!(seeds
        .iter()
        .all(|(host, port)| host == "127.0.0.1" && *port < 55535));

    let nodes = cluster.nodes();
    let info = nodes[0].cli(&["CLUSTER", "INFO"]).unwrap();
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_size:3"), "{info}");

    // Keys hashing to different slots land on different nodes; `-c`
    // follows the MOVED redirects.
    for key in ["alpha", "bravo", "charlie", "delta"] {
        assert_eq!(nodes[0].cli(&["-c", "SET", key, "v"]).unwrap(), "OK");
    }
    for node in nodes.iter() {
        for key in ["alpha", "bravo", "charlie", "delta"] {
            assert_eq!(node.cli(&["-c", "GET", key]).unwrap(), "v");
        }
    }
    // Every node holds part of the keyspace.
    let counts: Vec<String> = nodes.iter().map(|n| n.cli(&["DBSIZE"]).unwrap()).collect();
    assert_eq!(
        counts
            .iter()
            .map(|c| c.parse::<u32>().unwrap())
            .sum::<u32>(),
        4
    );

    let pids: Vec<u32> = nodes.iter().filter_map(|n| n.pid()).collect();
    drop(cluster);
    assert!(pids.iter().all(|&pid| !process_exists(pid)));
}

#[test]
fn fewer_than_three_masters_is_rejected() {
    let err = RedisCluster::start(2, None).unwrap_err();
    assert!(matches!(err, LocalError::InvalidOptions(_)), "{err:?}");
}

#[test]
fn every_node_loads_the_acl_file_and_replicas_join_with_the_default_user() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("users.acl");
    let password = |role: Role| SecretString::from(format!("pw-{role}"));
    let passwords = Passwords::from_fn(|role| Some(password(role)));
    std::fs::write(
        &acl,
        render_with(&passwords, "sdb", DefaultUser::Admin).unwrap(),
    )
    .unwrap();
    let mut cluster = RedisCluster::start_with_options(ClusterOptions {
        replicas: 1,
        password: Some(password(Role::Admin)),
        acl_file: Some(acl),
        ..ClusterOptions::default()
    })
    .unwrap();
    let nodes = cluster.nodes();
    assert_eq!(nodes.len(), 6);
    for node in nodes.iter() {
        let info = node.cli(&["INFO", "replication"]).unwrap();
        if info.contains("role:slave") {
            // Replication logged in with the default user's password.
            assert!(info.contains("master_link_status:up"), "{info}");
        }
        // The roles exist with their rules: `monitor` reads, nothing else.
        let mut monitor = Connection::open_as(
            "127.0.0.1",
            node.port(),
            "monitor",
            &password(Role::Monitor),
        )
        .unwrap();
        monitor.call(&["INFO", "server"]).unwrap();
        let refused = monitor.call_raw(&["FLUSHALL"]).unwrap();
        assert!(
            matches!(&refused, Reply::Error(e) if e.starts_with("NOPERM")),
            "{refused:?}"
        );
        // Without a password nothing runs.
        let mut anonymous = Connection::open("127.0.0.1", node.port(), None).unwrap();
        let reply = anonymous.call_raw(&["PING"]).unwrap();
        assert!(
            matches!(&reply, Reply::Error(e) if e.starts_with("NOAUTH")),
            "{reply:?}"
        );
    }
}
