//! Point-in-time recovery from the append-only file.

use std::time::Duration;

use sessiondb_engine::Error;
use sessiondb_local::{RedisOptions, RedisServer};
use sessiondb_ops::pitr::parse_time;
use sessiondb_ops::{pitr, restore, OpsError, PitrOptions, RestoreOptions};

use crate::store::redis_now;
use sessiondb_local::testkit::eventually_async;

use crate::support::{engine, new_session, standalone};

/// Waits until every write reached the AOF file (nothing left in Redis's AOF buffer).
async fn aof_written(server: &RedisServer) -> anyhow::Result<()> {
    eventually_async(
        "the AOF buffer to drain",
        Duration::from_secs(5),
        || async {
            let info = server.cli(&["INFO", "persistence"])?;
            let pending = info
                .lines()
                .find_map(|l| l.trim().strip_prefix("aof_buffer_length:"))
                .map(str::to_owned);
            (pending.as_deref() == Some("0"))
                .then_some(())
                .ok_or_else(|| anyhow::anyhow!("aof_buffer_length {pending:?}"))
        },
    )
    .await;
    Ok(())
}

/// Polls until Redis's clock shows a later second than `second`.
async fn next_second(server: &RedisServer, second: i64) -> anyhow::Result<()> {
    eventually_async("the next second", Duration::from_secs(3), || async {
        let now = redis_now(&server.addr()).await?;
        (now / 1000 > second)
            .then_some(())
            .ok_or_else(|| anyhow::anyhow!("Redis's clock at {now} ms"))
    })
    .await;
    Ok(())
}

#[tokio::test]
async fn recovering_to_a_noted_time_gives_the_state_of_that_time() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    })?;
    let conn = standalone(&server);
    let engine = engine(&conn, "pt").await?;
    let a = engine.create(new_session("a")).await?;
    let noted = redis_now(&server.addr()).await? / 1000;
    next_second(&server, noted).await?;
    let b = engine.create(new_session("b")).await?;
    engine.revoke(&a.session_token).await?;
    engine.flush_events().await;
    aof_written(&server).await?;
    engine.shutdown().await?;

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("at-noted-time.sdbbackup");
    let options = PitrOptions {
        aof_dir: server.dir().to_owned(),
        to_unix_seconds: u64::try_from(noted)?,
        work_dir: Some(dir.path().to_owned()),
    };
    let report = pitr("pt", &options, &file, None).await?;
    assert!(report.truncated.is_some(), "{report}");
    assert!(report.files_dropped.is_empty(), "{report}");
    assert_eq!(report.backup.counts.users, 1, "{report}");
    assert!(!report.backup.recorded);
    assert_eq!(report.backup.header.source.topology, "aof");
    crate::support::assert_documented(&serde_json::to_value(&report)?);
    // Only the file and the work directory's leftovers of nothing: the copy is gone.
    let left: Vec<_> = std::fs::read_dir(dir.path())?.collect::<Result<_, _>>()?;
    assert_eq!(left.len(), 1, "{left:?}");

    let target = RedisServer::start(RedisOptions::default())?;
    let target_conn = standalone(&target);
    restore(&target_conn, "pt", &file, &RestoreOptions::default(), None).await?;
    let recovered = crate::support::engine(&target_conn, "pt").await?;
    let session = recovered.get(&a.session_token, false).await?;
    assert_eq!(session.user_id.as_str(), "a");
    assert!(matches!(
        recovered.get(&b.session_token, false).await,
        Err(Error::SessionNotFound)
    ));
    recovered.shutdown().await?;

    // Recovering to now gives the latest state: a revoked, b live.
    let now = redis_now(&server.addr()).await? / 1000;
    let latest = dir.path().join("now.sdbbackup");
    let options = PitrOptions {
        to_unix_seconds: u64::try_from(now)?,
        ..options
    };
    let report = pitr("pt", &options, &latest, None).await?;
    assert!(report.truncated.is_none(), "{report}");
    let target = RedisServer::start(RedisOptions::default())?;
    let target_conn = standalone(&target);
    restore(
        &target_conn,
        "pt",
        &latest,
        &RestoreOptions::default(),
        None,
    )
    .await?;
    let recovered = crate::support::engine(&target_conn, "pt").await?;
    assert!(recovered.get(&a.session_token, false).await.is_err());
    recovered.get(&b.session_token, false).await?;
    recovered.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_time_before_the_last_rewrite_needs_an_older_copy() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    })?;
    let conn = standalone(&server);
    let engine = engine(&conn, "pr").await?;
    engine.create(new_session("a")).await?;
    let before = redis_now(&server.addr()).await? / 1000 - 10;
    server.cli(&["BGREWRITEAOF"])?;
    eventually_async("the rewrite to finish", Duration::from_secs(10), || async {
        let info = server.cli(&["INFO", "persistence"])?;
        let done = info
            .lines()
            .any(|l| l.trim() == "aof_rewrite_in_progress:0")
            && !info.contains("aof_rewrite_scheduled:1");
        done.then_some(())
            .ok_or_else(|| anyhow::anyhow!("a rewrite is in progress or scheduled"))
    })
    .await;
    engine.shutdown().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("too-early.sdbbackup");
    let options = PitrOptions {
        aof_dir: server.dir().join("appendonlydir"),
        to_unix_seconds: u64::try_from(before)?,
        work_dir: Some(dir.path().to_owned()),
    };
    let error = pitr("pr", &options, &file, None)
        .await
        .expect_err("too early");
    assert!(matches!(error, OpsError::Unavailable(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("older copy of the AOF directory"),
        "{error}"
    );
    assert!(!file.exists());
    Ok(())
}

#[test]
fn times_are_unix_seconds_or_rfc3339() -> anyhow::Result<()> {
    assert_eq!(parse_time("1700000000")?, 1_700_000_000);
    assert_eq!(parse_time("2023-11-14T22:13:20Z")?, 1_700_000_000);
    let error = parse_time("yesterday").expect_err("not a time");
    assert!(error.to_string().contains("\"yesterday\""), "{error}");
    Ok(())
}
