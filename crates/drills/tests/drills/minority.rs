//! With only one of three Sentinels alive, a dead master is not replaced.

use std::time::{Duration, Instant};

use sessiondb_drills::app::{engine_config, sentinel_connection, DrillApp};
use sessiondb_drills::drill::{start_topology, Mode, Security};
use sessiondb_drills::probe::{self, Role};
use sessiondb_drills::POLL_INTERVAL;
use sessiondb_engine::Durability;
use tokio::task::block_in_place;

use crate::support::role;

const DOWN_AFTER_MS: u64 = 2000;
/// A request during the outage must be answered within this.
const FAST: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread")]
async fn a_sentinel_minority_does_not_fail_over() {
    let mut topology = start_topology(Mode::Async, DOWN_AFTER_MS, true, Security::Open)
        .await
        .expect("topology starts");
    let app = DrillApp::start(
        &sentinel_connection(&topology),
        engine_config(Durability::Async),
        Duration::from_secs(10),
    )
    .await
    .expect("app starts");
    app.wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");
    let service = topology.service_name().to_owned();
    let access = topology.access();
    let survivor = topology.sentinel_addrs()[2].1;
    let (old, replicas) = block_in_place(|| {
        for sentinel in &mut topology.sentinels()[..2] {
            sentinel.kill()?;
        }
        let master = topology.master()?;
        let old = master.port();
        master.kill()?;
        let replicas: Vec<u16> = topology
            .data_nodes()
            .iter()
            .map(|n| n.port())
            .filter(|&p| p != old)
            .collect();
        Ok::<_, sessiondb_local::LocalError>((old, replicas))
    })
    .expect("two sentinels and the master are killed");
    let killed_at = Instant::now();

    // For three times down-after: the API is called continuously while the
    // survivor's view and the replicas' roles are sampled.
    let window = Duration::from_millis(3 * DOWN_AFTER_MS);
    let api = app.api().clone();
    let calls = tokio::spawn(async move {
        let mut answers = Vec::new();
        while killed_at.elapsed() < window {
            let create = api.create("minority-user").await;
            answers.push(("create", create.outcome, create.latency));
            let ready = api.readyz().await;
            answers.push(("readyz", ready.outcome, ready.latency));
        }
        answers
    });
    let mut saw_sdown = false;
    let mut samples = 0;
    while killed_at.elapsed() < window {
        block_in_place(|| {
            let flags =
                probe::sentinel_flags(&access, survivor, &service).expect("the survivor answers");
            saw_sdown |= flags.contains("s_down");
            assert!(
                !flags.contains("o_down") && !flags.contains("failover"),
                "one sentinel of three reached {flags}"
            );
            let master =
                probe::sentinel_master(&access, survivor, &service).expect("the survivor answers");
            assert_eq!(master, Some(old), "the survivor still names the old master");
            for &replica in &replicas {
                let r = role(&access, replica);
                assert!(
                    matches!(r, Ok(Role::Replica { master_port, .. }) if master_port == old),
                    "replica {replica} was not promoted: {r:?}"
                );
            }
        });
        samples += 1;
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    assert!(
        saw_sdown,
        "the surviving sentinel noticed the master was down"
    );
    assert!(samples >= 20, "sampled throughout the window: {samples}");

    let answers = calls.await.expect("the API caller finishes");
    assert!(answers.len() >= 4, "the API was exercised: {answers:?}");
    for (what, outcome, latency) in &answers {
        assert_eq!(
            outcome.status(),
            Some(503),
            "{what} without a master answers 503: {outcome:?}"
        );
        assert!(*latency < FAST, "{what} answered after {latency:?}");
    }
    let slowest = answers.iter().map(|(_, _, latency)| *latency).max();
    eprintln!(
        "{} API calls without a master, all 503, slowest {slowest:?}",
        answers.len()
    );
}
