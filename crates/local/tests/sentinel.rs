//! `SentinelTopology` with real `redis-server` and `redis-sentinel`
//! processes: readiness, forced failover and automatic failover.

use std::time::Duration;

use sessiondb_local::{RedisServer, SecretString, SentinelOptions, SentinelTopology};

mod common;
use common::{eventually, process_exists};

fn options() -> SentinelOptions {
    SentinelOptions {
        down_after_ms: 1000,
        password: Some(SecretString::from("data pass")),
        sentinel_password: Some(SecretString::from("sentinel pass")),
        fast_timers: true,
        ..SentinelOptions::default()
    }
}

fn role(node: &RedisServer) -> String {
    node.cli(&["ROLE"])
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn topology_starts_and_reports_its_master() {
    let mut topology = SentinelTopology::start(options()).unwrap();
    assert_eq!(topology.service_name(), "sessiondb");
    assert_eq!(topology.sentinel_addrs().len(), 3);

    let master_addr = topology.data_nodes()[0].addr();
    assert_eq!(topology.current_master().unwrap(), master_addr);
    assert_eq!(topology.master().unwrap().port(), master_addr.1);
    assert_eq!(topology.data_nodes().len(), 3);
    for replica in &topology.data_nodes()[1..] {
        assert_eq!(role(replica), "slave");
    }

    // Sentinels require their own password and report the topology.
    let sentinel = &topology.sentinels()[0];
    let master = sentinel.cli(&["SENTINEL", "MASTER", "sessiondb"]).unwrap();
    assert!(master.contains("num-other-sentinels\n2"), "{master}");
    let pids: Vec<u32> = topology
        .sentinels()
        .iter()
        .filter_map(|s| s.pid())
        .collect();

    // Writes on the master reach the replicas.
    topology.data_nodes()[0].cli(&["SET", "k", "v"]).unwrap();
    let replica = &topology.data_nodes()[1];
    eventually("replication", Duration::from_secs(10), || {
        match replica.cli(&["GET", "k"]) {
            Ok(v) if v == "v" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    drop(topology);
    assert!(pids.iter().all(|&pid| !process_exists(pid)));
}

#[test]
fn forced_failover_promotes_a_replica_and_demotes_the_old_master() {
    let mut topology = SentinelTopology::start(options()).unwrap();
    let old = topology.current_master().unwrap();

    let new = topology.failover().unwrap();
    assert_ne!(new, old);
    assert_eq!(topology.current_master().unwrap(), new);
    assert_eq!(role(topology.node_by_port(new.1).unwrap()), "master");

    let old_node = topology.node_by_port(old.1).unwrap();
    eventually(
        "the old master to become a replica",
        Duration::from_secs(30),
        || match role(old_node).as_str() {
            "slave" => Ok(()),
            other => Err(other.to_owned()),
        },
    );
}

#[test]
fn killing_the_master_triggers_an_automatic_failover() {
    let mut topology = SentinelTopology::start(SentinelOptions {
        replicas: 1,
        appendonly: true,
        ..options()
    })
    .unwrap();
    let old = topology.current_master().unwrap();
    topology.master().unwrap().kill().unwrap();

    let new = topology
        .wait_for_master_change(old.clone(), Duration::from_secs(30))
        .unwrap();
    assert_ne!(new, old);
    let promoted = topology.node_by_port(new.1).unwrap();
    assert_eq!(promoted.cli(&["SET", "after", "failover"]).unwrap(), "OK");

    // The old master comes back and rejoins as a replica of the new one.
    // (On a heavily loaded machine a 1 s down-after can trigger a second,
    // spurious failover that elects it again; that state is consistent too.)
    let old_node = topology.node_by_port(old.1).unwrap();
    old_node.restart().unwrap();
    let deadline = Duration::from_secs(30);
    eventually(
        "the restarted node to rejoin as a replica",
        deadline,
        || {
            let master = topology.current_master().map_err(|e| e.to_string())?;
            let old_node = topology.node_by_port(old.1).unwrap();
            let role = role(old_node);
            let key = old_node.cli(&["GET", "after"]);
            match (master == old, role.as_str(), &key) {
                (false, "slave", Ok(v)) if v == "failover" => Ok(()),
                // Re-elected by a spurious second failover: consistent too.
                (true, "master", _) => Ok(()),
                _ => Err(format!(
                    "master {master:?}, old node role {role}, GET after: {key:?}"
                )),
            }
        },
    );
}

/// Every node and sentinel on TLS only, replicas and sentinels logging in as the
/// `sentinel` ACL user: the plaintext port is refused, a forced failover completes
/// and the demoted master resyncs from the new one over TLS.
#[test]
fn a_tls_only_topology_with_acl_users_fails_over_and_resyncs() {
    use sessiondb_acl::{render_with, DefaultUser, Passwords, Role};
    use sessiondb_local::{TlsFiles, TopologyAcl};

    let dir = tempfile::tempdir().unwrap();
    let password = |role: Role| SecretString::from(format!("{} pass", role.user()));
    let passwords = Passwords::from_fn(|role| Some(password(role)));
    let acl_file = dir.path().join("users.acl");
    std::fs::write(
        &acl_file,
        render_with(&passwords, "sdb", DefaultUser::Admin).unwrap(),
    )
    .unwrap();
    let tls = TlsFiles::generate(dir.path(), &["127.0.0.1"]).unwrap();
    let mut topology = SentinelTopology::start(SentinelOptions {
        password: Some(password(Role::Admin)),
        sentinel_password: Some(password(Role::Sentinel)),
        tls: Some(tls),
        acl: Some(TopologyAcl {
            file: acl_file,
            replication_user: Role::Sentinel.user().to_owned(),
            replication_password: password(Role::Sentinel),
        }),
        ..options()
    })
    .unwrap();
    assert!(topology.tls().is_some());

    // Nothing answers in plaintext.
    let master = topology.current_master().unwrap();
    let plain = sessiondb_local::resp::Connection::open("127.0.0.1", master.1, None)
        .and_then(|mut conn| conn.call(&["PING"]));
    assert!(plain.is_err(), "plaintext PING answered: {plain:?}");

    let old_node = topology.node_by_port(master.1).unwrap();
    assert_eq!(old_node.cli(&["SET", "before", "failover"]).unwrap(), "OK");
    let new = topology.failover().unwrap();
    assert_ne!(new, master);
    let promoted = topology.node_by_port(new.1).unwrap();
    assert_eq!(promoted.cli(&["GET", "before"]).unwrap(), "failover");
    assert_eq!(promoted.cli(&["SET", "after", "failover"]).unwrap(), "OK");

    let old_node = topology.node_by_port(master.1).unwrap();
    eventually(
        "the old master to resync from the new one over TLS",
        Duration::from_secs(30),
        || {
            let info = old_node
                .cli(&["INFO", "replication"])
                .map_err(|e| e.to_string())?;
            let key = old_node.cli(&["GET", "after"]).map_err(|e| e.to_string())?;
            let linked = info.contains("master_link_status:up")
                && info.contains(&format!("master_port:{}", new.1));
            match (linked, key.as_str()) {
                (true, "failover") => Ok(()),
                _ => Err(format!("GET after: {key:?}; {info}")),
            }
        },
    );
}
