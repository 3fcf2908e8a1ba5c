//! A master restarted with AOF (`appendfsync always`) keeps every acknowledged
//! session.

use std::time::{Duration, Instant};

use sessiondb_drills::app::{engine_config, standalone_connection, DrillApp};
use sessiondb_drills::load::{Load, LoadOptions};
use sessiondb_drills::report::time_to_first_write;
use sessiondb_drills::verify::verify;
use sessiondb_engine::Durability;
use sessiondb_local::{RedisOptions, RedisServer};
use tokio::task::block_in_place;

#[tokio::test(flavor = "multi_thread")]
async fn master_restart_with_aof_loses_no_acknowledged_session() {
    let mut redis = block_in_place(|| {
        RedisServer::start(RedisOptions {
            appendonly: true,
            extra_args: vec!["--appendfsync".to_owned(), "always".to_owned()],
            ..RedisOptions::default()
        })
    })
    .expect("redis starts");
    let app = DrillApp::start(
        &standalone_connection(&redis),
        engine_config(Durability::Async),
        Duration::from_secs(5),
    )
    .await
    .expect("app starts");
    app.wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");

    let load = Load::start(
        app.api(),
        LoadOptions {
            clients: 4,
            rate_per_sec: 50.0,
        },
    )
    .expect("load starts");
    load.wait_for_acked_writes(100, Duration::from_secs(30))
        .await
        .expect("writes before the crash");
    let killed_at = Instant::now();
    block_in_place(|| {
        redis.kill()?;
        redis.restart()
    })
    .expect("redis is killed and restarted from its AOF");
    load.wait_for_write_sent_after(killed_at, Duration::from_secs(30))
        .await
        .expect("writes resume after the restart");
    load.wait_for_acked_writes(load.acked_writes() + 50, Duration::from_secs(30))
        .await
        .expect("more writes after the restart");
    let mut log = load.stop().await.expect("load stops");

    let v = verify(app.api(), &mut log.slots, Duration::from_secs(30))
        .await
        .expect("verification runs");
    eprintln!(
        "{v:?}; writes resumed {:?} after the kill",
        time_to_first_write(&log.records, killed_at)
    );
    assert!(v.acked_creates >= 25, "{v:?}");
    assert_eq!(v.lost_writes, 0, "acknowledged writes lost: {v:?}");
    assert_eq!(v.false_reuse, 0, "{v:?}");
}
