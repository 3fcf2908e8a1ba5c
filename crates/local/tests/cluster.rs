//! `RedisCluster` with real `redis-server` processes.

use sessiondb_local::{LocalError, RedisCluster, SecretString};

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
