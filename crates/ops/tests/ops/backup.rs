//! `backup` and `restore`: the round trip is exact, existing data wins, bad files are
//! refused before anything is written, and a backup taken under load restores to a
//! consistent state.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sessiondb_engine::{
    ConnectionConfig, DeletionTarget, DeletionToken, Engine, Error, RefreshToken, SessionToken,
    UserId,
};
use sessiondb_local::testkit::eventually_async;
use sessiondb_local::{RedisCluster, RedisOptions, RedisServer, SentinelOptions, SentinelTopology};
use sessiondb_ops::backup::BackupProgress;
use sessiondb_ops::{
    backup, restore, status, BackupOptions, ExitStatus, OpsError, ReadFrom, RestoreOptions,
};

use crate::store::{assert_invariants, assert_same, dbsize, redis_now, snapshot};
use crate::support::{cluster, create, engine, engine_with, new_session, sentinel, standalone};

/// Credentials of a populated store, to prove they still work after a restore.
struct Population {
    /// Live logins: user, session token, refresh token, data.
    logins: Vec<(UserId, SessionToken, RefreshToken)>,
    /// A deletion token never redeemed.
    unredeemed: DeletionToken,
    /// A deletion token already redeemed.
    spent: DeletionToken,
    /// The current refresh token of a login ended by reuse detection.
    reused: RefreshToken,
}

/// Ten users with 1–4 logins each, refreshed and updated logins, a live and a spent
/// deletion token, and a reuse tombstone.
async fn populate(engine: &Engine) -> anyhow::Result<Population> {
    let mut logins = Vec::new();
    for i in 0..10 {
        let user = format!("user-{i}");
        for created in create(engine, &user, i % 4 + 1).await? {
            logins.push((
                UserId::parse(user.as_str())?,
                created.session_token,
                created.refresh_token,
            ));
        }
    }
    // A refreshed login (twice: its first refresh token is retired).
    let refreshed = engine.refresh(&logins[0].2).await?;
    let refreshed = engine.refresh(&refreshed.refresh_token).await?;
    logins[0].1 = refreshed.session_token;
    logins[0].2 = refreshed.refresh_token;
    // Updated data.
    let mut data = serde_json::Map::new();
    data.insert("cart".to_owned(), serde_json::json!([1, 2, 3]));
    engine.replace_data(&logins[1].1, &data, None).await?;
    // Deletion tokens: one live, one spent.
    let unredeemed = engine
        .issue_deletion_token(&DeletionTarget::Session {
            user_id: logins[2].0.clone(),
            session_id: logins[2].1.id().clone(),
        })
        .await?
        .token;
    let victim = engine.create(new_session("user-gone")).await?;
    let spent = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: UserId::parse("user-gone")?,
        })
        .await?
        .token;
    engine.redeem_deletion_token(&spent).await?;
    drop(victim);
    // A reuse tombstone: a retired refresh token presented again.
    let stolen = engine.create(new_session("user-reused")).await?;
    let next = engine.refresh(&stolen.refresh_token).await?;
    let next = engine.refresh(&next.refresh_token).await?;
    assert!(matches!(
        engine.refresh(&stolen.refresh_token).await,
        Err(Error::ReuseDetected)
    ));
    engine.flush_events().await;
    Ok(Population {
        logins,
        unredeemed,
        spent,
        reused: next.refresh_token,
    })
}

/// Every credential of `population` behaves on `engine` as it did before the backup.
async fn assert_credentials_work(engine: &Engine, population: &Population) -> anyhow::Result<()> {
    for (user, token, _) in &population.logins {
        let session = engine.get(token, false).await?;
        assert_eq!(&session.user_id, user);
    }
    let updated = engine.get(&population.logins[1].1, false).await?;
    assert_eq!(
        updated.data.get("cart"),
        Some(&serde_json::json!([1, 2, 3]))
    );
    for (user, count) in [("user-0", 1), ("user-3", 4), ("user-9", 2)] {
        assert_eq!(
            engine.list(&UserId::parse(user)?).await?.len(),
            count,
            "{user}"
        );
    }
    assert!(matches!(
        engine.refresh(&population.reused).await,
        Err(Error::ReuseDetected)
    ));
    assert!(matches!(
        engine.redeem_deletion_token(&population.spent).await,
        Err(Error::TokenSpent)
    ));
    let redeemed = engine.redeem_deletion_token(&population.unredeemed).await?;
    assert_eq!(redeemed.revoked_sessions.len(), 1);
    assert!(engine.refresh(&population.logins[0].2).await.is_ok());
    Ok(())
}

fn out(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("sessions.sdbbackup")
}

async fn round_trip(
    source: &ConnectionConfig,
    source_masters: &[(String, u16)],
    target: &ConnectionConfig,
    target_masters: &[(String, u16)],
) -> anyhow::Result<()> {
    let engine = engine(source, "rt").await?;
    let population = populate(&engine).await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    let report = backup(source, "rt", &file, &BackupOptions::default(), None).await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    assert_eq!(report.counts.users, 10, "{report:?}");
    assert_eq!(report.counts.deletion_tokens, 2);
    assert_eq!(report.counts.tombstones, 1);
    let original = snapshot(source_masters, "rt").await?;
    engine.shutdown().await?;

    let restored = restore(target, "rt", &file, &RestoreOptions::default(), None).await?;
    assert_eq!(restored.users.restored, 10, "{restored}");
    assert_eq!(restored.keys.kept, 0, "{restored}");
    let copy = snapshot(target_masters, "rt").await?;
    assert_same(&original, &copy, 1000);
    let now = redis_now(&target_masters[0]).await?;
    assert_eq!(
        assert_invariants(&copy, 5, now, 1000)?,
        population.logins.len()
    );

    let target_engine = crate::support::engine(target, "rt").await?;
    assert_credentials_work(&target_engine, &population).await?;
    target_engine.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn the_round_trip_is_exact_on_standalone() -> anyhow::Result<()> {
    let source = RedisServer::start(RedisOptions::default())?;
    let target = RedisServer::start(RedisOptions::default())?;
    round_trip(
        &standalone(&source),
        &[source.addr()],
        &standalone(&target),
        &[target.addr()],
    )
    .await
}

#[tokio::test]
async fn the_round_trip_is_exact_on_cluster() -> anyhow::Result<()> {
    let source = RedisCluster::start(3, None)?;
    let target = RedisCluster::start(3, None)?;
    round_trip(
        &cluster(source.seed_nodes()),
        &source.seed_nodes(),
        &cluster(target.seed_nodes()),
        &target.seed_nodes(),
    )
    .await
}

#[tokio::test]
async fn restoring_over_newer_data_keeps_it_unless_forced() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&server);
    let engine = engine(&conn, "nw").await?;
    let ana = create(&engine, "ana", 2).await?;
    let bo = create(&engine, "bo", 1).await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    backup(&conn, "nw", &file, &BackupOptions::default(), None).await?;

    // Newer data: ana signs out of one device, signs in on another and updates her
    // first session; bo is untouched.
    engine.revoke(&ana[1].session_token).await?;
    let fresh = engine.create(new_session("ana")).await?;
    let mut data = serde_json::Map::new();
    data.insert("newer".to_owned(), serde_json::Value::Bool(true));
    engine
        .replace_data(&ana[0].session_token, &data, None)
        .await?;
    let before = snapshot(&[server.addr()], "nw").await?;

    let report = restore(&conn, "nw", &file, &RestoreOptions::default(), None).await?;
    assert_eq!(
        (report.users.kept, report.users.restored),
        (2, 0),
        "{report}"
    );
    let after = snapshot(&[server.addr()], "nw").await?;
    assert_same(&before, &after, 1000);
    assert!(
        engine.get(&ana[1].session_token, false).await.is_err(),
        "the revoked session stays revoked"
    );
    assert!(engine.get(&fresh.session_token, false).await.is_ok());
    let current = engine.get(&ana[0].session_token, false).await?;
    assert_eq!(
        current.data.get("newer"),
        Some(&serde_json::Value::Bool(true))
    );
    assert!(engine.get(&bo[0].session_token, false).await.is_ok());

    // With force, the backup's state of each user replaces the current one.
    let forced = RestoreOptions {
        force: true,
        ..RestoreOptions::default()
    };
    let report = restore(&conn, "nw", &file, &forced, None).await?;
    assert_eq!(report.users.replaced, 2, "{report}");
    assert!(engine.get(&ana[1].session_token, false).await.is_ok());
    assert!(engine.get(&fresh.session_token, false).await.is_err());
    let old = engine.get(&ana[0].session_token, false).await?;
    assert_eq!(old.data.get("newer"), None);
    let now = redis_now(&server.addr()).await?;
    let keys = snapshot(&[server.addr()], "nw").await?;
    assert_eq!(assert_invariants(&keys, 5, now, 1000)?, 3);
    engine.shutdown().await?;
    Ok(())
}

/// Copies `file` to `name` in `dir` after `change`.
fn damaged(
    dir: &Path,
    file: &Path,
    name: &str,
    change: impl FnOnce(&mut Vec<u8>),
) -> std::path::PathBuf {
    let mut bytes = std::fs::read(file).expect("the backup is readable");
    change(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("the copy is written");
    path
}

#[tokio::test]
async fn corrupt_or_truncated_files_are_refused_before_anything_is_written() -> anyhow::Result<()> {
    let source = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&source);
    let engine = engine(&conn, "cx").await?;
    populate(&engine).await?;
    engine.shutdown().await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    backup(&conn, "cx", &file, &BackupOptions::default(), None).await?;
    let size = std::fs::metadata(&file)?.len() as usize;

    let target = RedisServer::start(RedisOptions::default())?;
    let target_conn = standalone(&target);
    let cases = [
        (
            "empty",
            damaged(dir.path(), &file, "empty", |b| b.clear()),
            "truncated",
        ),
        (
            "half",
            damaged(dir.path(), &file, "half", |b| b.truncate(size / 2)),
            "truncated",
        ),
        (
            "one byte short",
            damaged(dir.path(), &file, "short", |b| b.truncate(size - 1)),
            "truncated",
        ),
        (
            "body bit flip",
            damaged(dir.path(), &file, "body", |b| b[4200] ^= 0x01),
            "checksum",
        ),
        (
            "header edit",
            damaged(dir.path(), &file, "header", |b| b[20] ^= 0x01),
            "checksum",
        ),
        (
            "not a backup",
            damaged(dir.path(), &file, "other", |b| b[0] = b'X'),
            "not a sessiondb backup",
        ),
        (
            "cut before the trailer",
            damaged(dir.path(), &file, "trailer", |b| b.truncate(size - 80)),
            "truncated",
        ),
    ];
    for (what, path, expected) in cases {
        for dry_run in [false, true] {
            let options = RestoreOptions {
                dry_run,
                ..RestoreOptions::default()
            };
            let error = restore(&target_conn, "cx", &path, &options, None)
                .await
                .expect_err(what);
            assert!(
                matches!(error, OpsError::BadBackup { .. }),
                "{what}: {error}"
            );
            assert!(error.to_string().contains(expected), "{what}: {error}");
        }
        assert_eq!(
            dbsize(&[target.addr()]).await?,
            0,
            "{what}: nothing written"
        );
    }
    // The intact file restores.
    restore(&target_conn, "cx", &file, &RestoreOptions::default(), None).await?;
    assert!(dbsize(&[target.addr()]).await? > 0);
    Ok(())
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() -> anyhow::Result<()> {
    let source = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&source);
    let engine = engine(&conn, "dr").await?;
    populate(&engine).await?;
    engine.shutdown().await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    backup(&conn, "dr", &file, &BackupOptions::default(), None).await?;
    let target = RedisServer::start(RedisOptions::default())?;
    let options = RestoreOptions {
        dry_run: true,
        ..RestoreOptions::default()
    };
    let report = restore(&standalone(&target), "dr", &file, &options, None).await?;
    assert!(report.dry_run);
    assert_eq!(report.users.restored, 10, "{report}");
    assert!(
        report.to_string().contains("dry run: nothing written"),
        "{report}"
    );
    assert_eq!(dbsize(&[target.addr()]).await?, 0);
    // Against the source itself, everything would be kept.
    let report = restore(&conn, "dr", &file, &options, None).await?;
    assert_eq!(report.users.kept, 10, "{report}");
    Ok(())
}

#[tokio::test]
async fn a_backup_under_load_restores_to_a_consistent_state() -> anyhow::Result<()> {
    const CAP: u32 = 3;
    let source = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&source);
    let engine = engine_with(&conn, "ld", |c| c.session.max_per_user = CAP).await?;
    for u in 0..200 {
        create(&engine, &format!("u{u}"), 2).await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8u32 {
        let (engine, stop) = (engine.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut ops = 0u64;
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let user = format!("u{}", i % 200);
                i = i.wrapping_mul(31).wrapping_add(7);
                let created = engine.create(new_session(&user)).await?;
                match i % 3 {
                    0 => {
                        engine.refresh(&created.refresh_token).await?;
                    }
                    1 => engine.revoke(&created.session_token).await?,
                    _ => {}
                }
                ops += 1;
            }
            anyhow::Ok(ops)
        }));
    }
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    // Several backups while the workers run.
    for _ in 0..3 {
        backup(&conn, "ld", &file, &BackupOptions::default(), None).await?;
    }
    stop.store(true, Ordering::Relaxed);
    let mut ops = 0;
    for worker in workers {
        ops += worker.await??;
    }
    assert!(ops > 0);
    engine.shutdown().await?;

    let target = RedisServer::start(RedisOptions::default())?;
    restore(
        &standalone(&target),
        "ld",
        &file,
        &RestoreOptions::default(),
        None,
    )
    .await?;
    let now = redis_now(&target.addr()).await?;
    let keys = snapshot(&[target.addr()], "ld").await?;
    // Each record's end is `now + PTTL`, with the PTTL read up to the whole snapshot's
    // duration after `now` (over a second on a loaded machine): allow for it.
    let reading = redis_now(&target.addr()).await?.saturating_sub(now);
    let slack = 1000 + reading;
    let live = assert_invariants(&keys, CAP as usize, now, slack)?;
    assert!(live >= 200, "{live} live logins restored");
    Ok(())
}

#[tokio::test]
async fn a_backup_from_a_replica_records_its_success() -> anyhow::Result<()> {
    let topology = SentinelTopology::start(SentinelOptions::default())?;
    let conn = sentinel(&topology);
    let engine = engine(&conn, "rp").await?;
    let created = create(&engine, "ana", 3).await?;
    let master = topology.current_master()?;
    // Wait until the replicas have the sessions.
    eventually_async(
        "the replicas to catch up",
        Duration::from_secs(10),
        || async {
            let figures = status(&conn, "rp").await?;
            let offsets: Vec<Option<u64>> =
                figures.nodes.iter().map(|n| n.replication_offset).collect();
            let caught_up = offsets.windows(2).all(|w| w[0] == w[1]);
            caught_up
                .then_some(())
                .ok_or_else(|| anyhow::anyhow!("replication offsets {offsets:?}"))
        },
    )
    .await;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    let progress_calls = std::sync::Mutex::new(Vec::<BackupProgress>::new());
    let record = |p: &BackupProgress| {
        progress_calls
            .lock()
            .expect("progress lock")
            .push(p.clone());
    };
    let options = BackupOptions {
        from: ReadFrom::Replica,
    };
    let report = backup(&conn, "rp", &file, &options, Some(&record)).await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    assert_eq!(report.header.source.read_from, "replica");
    assert_eq!(report.header.source.topology, "sentinel");
    assert_ne!(
        report.header.source.nodes,
        [format!("{}:{}", master.0, master.1)]
    );
    assert_eq!(report.counts.records, 3);
    crate::support::assert_documented(&serde_json::to_value(&report)?);
    let last = progress_calls
        .lock()
        .expect("progress lock")
        .last()
        .cloned()
        .expect("progress was reported");
    assert_eq!((last.keys, last.users), (report.header.key_count, 1));
    // The success is where status (and serve's gauge) see it.
    let figures = status(&conn, "rp").await?.sessions.expect("figures");
    assert_eq!(figures.last_backup_ms, Some(report.header.finished_at_ms));
    // The file restores.
    let target = RedisServer::start(RedisOptions::default())?;
    let target_conn = standalone(&target);
    restore(&target_conn, "rp", &file, &RestoreOptions::default(), None).await?;
    let copy = crate::support::engine(&target_conn, "rp").await?;
    for login in &created {
        copy.get(&login.session_token, false).await?;
    }
    copy.shutdown().await?;
    engine.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn what_expired_since_the_backup_is_not_restored() -> anyhow::Result<()> {
    let source = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&source);
    let short = engine_with(&conn, "ex", |c| {
        c.session.min_idle_ttl = Duration::from_millis(300);
        c.session.idle_ttl = Duration::from_millis(300);
        c.session.absolute_ttl = Duration::from_millis(300);
        c.refresh.ttl = Duration::from_millis(300);
        c.deletion.ttl = Duration::from_millis(300);
    })
    .await?;
    let brief = create(&short, "brief", 2).await?;
    short
        .issue_deletion_token(&DeletionTarget::User {
            user_id: UserId::parse("brief")?,
        })
        .await?;
    let lasting = engine(&conn, "ex").await?;
    let kept = create(&lasting, "lasting", 1).await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    backup(&conn, "ex", &file, &BackupOptions::default(), None).await?;
    let ends = brief
        .iter()
        .map(|b| b.refresh_expires_at.0)
        .max()
        .unwrap_or(0) as i64;
    eventually_async(
        "the short logins to end",
        Duration::from_secs(5),
        || async {
            let now = redis_now(&source.addr()).await?;
            (now > ends + 50)
                .then_some(())
                .ok_or_else(|| anyhow::anyhow!("Redis's clock at {now}"))
        },
    )
    .await;

    let target = RedisServer::start(RedisOptions::default())?;
    let target_conn = standalone(&target);
    let report = restore(&target_conn, "ex", &file, &RestoreOptions::default(), None).await?;
    assert_eq!(
        (report.users.restored, report.users.expired),
        (1, 1),
        "{report}"
    );
    assert_eq!(
        report.keys.expired, 1,
        "the deletion token expired: {report}"
    );
    let copy = crate::support::engine(&target_conn, "ex").await?;
    copy.get(&kept[0].session_token, false).await?;
    assert!(copy.list(&UserId::parse("brief")?).await?.is_empty());
    let now = redis_now(&target.addr()).await?;
    assert_eq!(
        assert_invariants(&snapshot(&[target.addr()], "ex").await?, 5, now, 1000)?,
        1
    );
    copy.shutdown().await?;
    short.shutdown().await?;
    lasting.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_backup_restores_under_another_prefix() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&server);
    let engine = engine(&conn, "live").await?;
    let population = populate(&engine).await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    backup(&conn, "live", &file, &BackupOptions::default(), None).await?;
    // A restore drill next to production data.
    let report = restore(&conn, "drill", &file, &RestoreOptions::default(), None).await?;
    assert_eq!(report.users.restored, 10, "{report}");
    assert_same(
        &snapshot(&[server.addr()], "live").await?,
        &snapshot(&[server.addr()], "drill").await?,
        1000,
    );
    let drill = crate::support::engine(&conn, "drill").await?;
    assert_credentials_work(&drill, &population).await?;
    drill.shutdown().await?;
    engine.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_backup_that_cannot_run_leaves_no_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    let nowhere = ConnectionConfig::standalone("127.0.0.1", sessiondb_local::free_port()?);
    assert!(
        backup(&nowhere, "x", &file, &BackupOptions::default(), None)
            .await
            .is_err()
    );
    let server = RedisServer::start(RedisOptions::default())?;
    let error = backup(
        &standalone(&server),
        "x",
        &file,
        &BackupOptions {
            from: ReadFrom::Replica,
        },
        None,
    )
    .await
    .expect_err("no replica");
    assert!(error.to_string().contains("no online replica"), "{error}");
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
    Ok(())
}

#[tokio::test]
async fn a_cluster_backup_can_read_each_shards_replica() -> anyhow::Result<()> {
    let nodes = RedisCluster::start_with_replicas(3, 1, None)?;
    let conn = cluster(nodes.seed_nodes());
    let engine = engine(&conn, "cr").await?;
    let mut logins = Vec::new();
    for user in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        logins.extend(create(&engine, user, 2).await?);
    }
    engine.shutdown().await?;
    let dir = tempfile::tempdir()?;
    let file = out(&dir);
    let options = BackupOptions {
        from: ReadFrom::Replica,
    };
    // Replicas may lag by a moment: wait until the backup holds every login.
    let report = eventually_async(
        "the replicas to hold every login",
        Duration::from_secs(10),
        || async {
            let report = backup(&conn, "cr", &file, &options, None).await?;
            let records = report.counts.records;
            (records == 16)
                .then_some(report)
                .ok_or_else(|| anyhow::anyhow!("the backup holds {records} records"))
        },
    )
    .await;
    assert_eq!(report.header.source.nodes.len(), 3);
    let status = status(&conn, "cr").await?;
    let replicas: Vec<&str> = status
        .nodes
        .iter()
        .filter(|n| n.role == "replica")
        .map(|n| n.address.as_str())
        .collect();
    for node in &report.header.source.nodes {
        assert!(
            replicas.contains(&node.as_str()),
            "{node} is not a replica: {replicas:?}"
        );
    }
    let target = RedisServer::start(RedisOptions::default())?;
    let target_conn = standalone(&target);
    restore(&target_conn, "cr", &file, &RestoreOptions::default(), None).await?;
    let copy = crate::support::engine(&target_conn, "cr").await?;
    for login in &logins {
        copy.get(&login.session_token, false).await?;
    }
    copy.shutdown().await?;
    Ok(())
}
