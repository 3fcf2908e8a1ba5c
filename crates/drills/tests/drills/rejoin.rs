//! The killed master, restarted, rejoins as a replica; Sentinel never accepts two
//! masters.

use std::time::{Duration, Instant};

use sessiondb_drills::drill::{start_topology, wait_for_new_master, watch_targets, Mode, Security};
use sessiondb_drills::probe::{self, Reply, Role};
use sessiondb_drills::watch::RoleWatcher;
use tokio::task::block_in_place;

use crate::support::{eventually, role};

#[tokio::test(flavor = "multi_thread")]
async fn restarted_old_master_rejoins_as_replica_and_sentinels_never_report_two_masters() {
    // min-replicas-to-write 1 (replicated mode): a master without replicas refuses
    // writes. Fast timers only speed up Sentinel's INFO polling, which is what
    // notices the returning node.
    let mut topology = start_topology(Mode::Replicated, 2000, true, Security::Open)
        .await
        .expect("topology starts");
    let access = topology.access();
    let watcher = RoleWatcher::start(watch_targets(&mut topology));
    let old = block_in_place(|| {
        let master = topology.master()?;
        master.kill()?;
        Ok::<_, sessiondb_local::LocalError>(master.port())
    })
    .expect("the master is killed");
    let new = wait_for_new_master(&topology, old, Duration::from_secs(60))
        .await
        .expect("a replica is promoted");
    let failed_over_at = Instant::now();
    block_in_place(|| {
        eventually("a write on the new master", Duration::from_secs(30), || {
            probe::query(&access, new, &["SET", "drill:marker", "after-failover"])
                .map_err(|e| e.to_string())
        })
    });

    // The old master comes back with its old configuration, i.e. calling itself
    // master, until Sentinel reconfigures it. Meanwhile it must not take writes.
    block_in_place(|| {
        topology
            .node_by_port(old)
            .expect("the old master is one of our nodes")
            .restart()
    })
    .expect("the old master restarts");
    let write = probe::query(&access, old, &["SET", "drill:zombie", "1"]);
    let refused = write
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        refused.contains("NOREPLICAS") || refused.contains("READONLY"),
        "the restarted old master refuses writes: {write:?}"
    );

    block_in_place(|| {
        eventually(
            "the restarted old master to replicate from the new one",
            Duration::from_secs(60),
            || {
                match role(&access, old)? {
                    Role::Replica { master_port, link }
                        if master_port == new && link == "connected" => {}
                    other => return Err(format!("role {other:?}")),
                }
                match probe::query(&access, old, &["GET", "drill:marker"]) {
                    Ok(Reply::Bulk(Some(v))) if v == "after-failover" => Ok(()),
                    other => Err(format!("GET drill:marker: {other:?}")),
                }
            },
        );
    });
    let samples = watcher.stop();

    // Throughout (failover included): of the masters the Sentinels report, at most
    // one is alive and says ROLE master.
    for s in &samples {
        let accepted: Vec<u16> = s
            .sentinel_masters()
            .into_iter()
            .filter(|&p| matches!(s.role_of(p), Some(Role::Master { .. })))
            .collect();
        assert!(
            accepted.len() <= 1,
            "two live masters reported by Sentinel: {s:?}"
        );
    }
    // Once the failover completed: every Sentinel reports the new master, it is the
    // only master with replicas, and any other node calling itself master (the old
    // one, restarted, before Sentinel converted it) has no replica.
    let after: Vec<_> = samples.iter().filter(|s| s.at >= failed_over_at).collect();
    assert!(
        after.len() >= 5,
        "sampled the rejoin: {} samples",
        after.len()
    );
    for s in &after {
        assert!(
            s.sentinel_masters().iter().all(|&p| p == new),
            "a Sentinel reported another master than {new}: {s:?}"
        );
        assert!(
            s.masters_with_replicas().iter().all(|&p| p == new),
            "a second master with replicas: {s:?}"
        );
    }
    let claimed: Vec<_> = after
        .iter()
        .filter(|s| s.masters().contains(&old))
        .collect();
    let window = match (claimed.first(), claimed.last()) {
        (Some(first), Some(last)) => last.at.duration_since(first.at),
        _ => Duration::ZERO,
    };
    eprintln!(
        "the restarted old master called itself master (no replica, writes refused) in \
         {} samples over {window:?} before Sentinel converted it",
        claimed.len()
    );
    let data_ports: Vec<u16> = topology.data_nodes().iter().map(|n| n.port()).collect();
    let masters: Vec<u16> = data_ports
        .into_iter()
        .filter(|&p| matches!(probe::role(&access, p), Ok(Role::Master { .. })))
        .collect();
    assert_eq!(masters, vec![new], "one master at the end");
}
