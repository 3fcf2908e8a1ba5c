//! Redis fully down for a minute: fast 503s throughout, recovery without a restart.

use std::time::{Duration, Instant};

use sessiondb_drills::api::{definitive, Outcome};
use sessiondb_drills::app::{engine_config, standalone_connection, DrillApp};
use sessiondb_engine::Durability;
use sessiondb_local::{RedisOptions, RedisServer};
use tokio::task::block_in_place;
use tokio::time::MissedTickBehavior;

/// How long Redis stays down.
const OUTAGE: Duration = Duration::from_secs(60);
/// Every request during the outage must be answered within this.
const FAST: Duration = Duration::from_secs(3);
/// One round of requests every this often during the outage.
const ROUND: Duration = Duration::from_millis(500);

async fn app_on(redis: &RedisServer, durability: Durability) -> DrillApp {
    let app = DrillApp::start(
        &standalone_connection(redis),
        engine_config(durability),
        Duration::from_secs(10),
    )
    .await
    .expect("app starts");
    app.wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_for_a_minute_gives_fast_503s_and_recovers_by_itself() {
    let mut redis =
        block_in_place(|| RedisServer::start(RedisOptions::default())).expect("redis starts");
    let app = app_on(&redis, Durability::Async).await;
    let api = app.api();
    let created = api.create("outage-user").await;
    let token = created
        .body
        .expect("create before the outage")
        .session_token;

    block_in_place(|| redis.stop()).expect("redis stops");
    let down_at = Instant::now();
    let mut round = tokio::time::interval(ROUND);
    round.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut answers = 0;
    let mut slowest = Duration::ZERO;
    while down_at.elapsed() < OUTAGE {
        round.tick().await;
        let (create, read, update, ready) = tokio::join!(
            api.create("outage-user"),
            api.get(&token),
            api.put(&token, 1),
            api.readyz(),
        );
        let results = [
            ("create", create.outcome, create.latency),
            ("read", read.outcome, read.latency),
            ("update", update.outcome, update.latency),
            ("readyz", ready.outcome, ready.latency),
        ];
        for (what, outcome, latency) in results {
            assert!(
                matches!(outcome, Outcome::Unavailable { status: 503, .. }),
                "{what} {:?} into the outage answered {outcome:?}",
                down_at.elapsed()
            );
            assert!(latency < FAST, "{what} answered after {latency:?}");
            slowest = slowest.max(latency);
            answers += 1;
        }
    }
    eprintln!("{answers} requests during a {OUTAGE:?} outage: all 503, slowest {slowest:?}");

    block_in_place(|| redis.restart()).expect("redis restarts on the same port");
    let until = Instant::now() + Duration::from_secs(30);
    let ready = definitive(until, || api.readyz())
        .await
        .expect("/readyz recovers");
    assert!(ready.outcome.is_success(), "{:?}", ready.outcome);
    let created = definitive(until, || api.create("outage-user"))
        .await
        .expect("creates recover");
    assert_eq!(created.outcome, Outcome::Success(201));
    let recovered_after = down_at.elapsed() - OUTAGE;
    eprintln!("recovered {recovered_after:?} after the outage ended (incl. restart)");
}

/// Replicated durability should fail like async durability while Redis is down:
/// 503 `backend_unavailable` with `Retry-After`.
#[tokio::test(flavor = "multi_thread")]
async fn replicated_writes_while_redis_is_down_answer_503() {
    let mut redis =
        block_in_place(|| RedisServer::start(RedisOptions::default())).expect("redis starts");
    let durability = Durability::Replicated {
        replicas: 1,
        timeout: Duration::from_millis(100),
    };
    let app = app_on(&redis, durability).await;
    block_in_place(|| redis.stop()).expect("redis stops");
    let answer = app.api().create("outage-user").await;
    assert_eq!(answer.outcome.status(), Some(503), "{:?}", answer.outcome);
}
