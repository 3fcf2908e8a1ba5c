//! A refresh whose answer was lost in a failover, retried with the same token inside
//! the grace window, gets the same successor: no false reuse detection.

use std::time::{Duration, Instant};

use sessiondb_drills::api::{definitive, Outcome};
use sessiondb_drills::app::{engine_config, sentinel_connection, DrillApp, DRILL_REFRESH_GRACE};
use sessiondb_drills::drill::{start_topology, Mode, Security};
use sessiondb_engine::Durability;
use tokio::task::block_in_place;

#[tokio::test(flavor = "multi_thread")]
async fn refresh_retried_after_a_failover_within_grace_gets_the_same_successor() {
    let topology = start_topology(Mode::Replicated, 5000, true, Security::Open)
        .await
        .expect("topology starts");
    // Both replicas confirm every write, so whichever one Sentinel promotes holds
    // the rotation: this test is about the grace window, not about lost writes.
    let durability = Durability::Replicated {
        replicas: 2,
        timeout: Duration::from_secs(1),
    };
    let config = engine_config(durability);
    assert_eq!(config.refresh.grace, DRILL_REFRESH_GRACE);
    let app = DrillApp::start(
        &sentinel_connection(&topology),
        config,
        Duration::from_secs(10),
    )
    .await
    .expect("app starts");
    app.wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");
    let api = app.api();

    let created = api
        .create("grace-user")
        .await
        .body
        .expect("session created");
    let refreshed_at = Instant::now();
    // The client never sees this answer: it is lost in the failover.
    let lost = api
        .refresh(&created.refresh_token)
        .await
        .body
        .expect("first refresh applied");
    assert!(!lost.replayed);

    let old = topology.current_master().expect("master known");
    let new = block_in_place(|| topology.failover()).expect("forced failover");
    assert_ne!(old, new);

    let until = Instant::now() + Duration::from_secs(30);
    let retry = definitive(until, || api.refresh(&created.refresh_token))
        .await
        .expect("the retry gets a definitive answer");
    assert!(
        refreshed_at.elapsed() < DRILL_REFRESH_GRACE,
        "the retry is inside the grace window"
    );
    assert_eq!(retry.outcome, Outcome::Success(200), "no reuse detection");
    let retried = retry.body.expect("refresh body");
    assert!(retried.replayed, "the answer is a replay");
    assert_eq!(retried.session_id, lost.session_id);
    assert_eq!(retried.session_token, lost.session_token);
    assert_eq!(retried.refresh_token, lost.refresh_token);

    // The family lives on: the successor session reads and its refresh token rotates.
    let read = api.get(&retried.session_token).await;
    assert_eq!(read.outcome, Outcome::Success(200));
    let next = api.refresh(&retried.refresh_token).await;
    assert_eq!(next.outcome, Outcome::Success(200));
    let next = next.body.expect("refresh body");
    assert!(!next.replayed);
    assert_ne!(next.refresh_token, retried.refresh_token);
    assert_eq!(
        api.get(&next.session_token).await.outcome,
        Outcome::Success(200)
    );
}
