//! The roles on a live redis-server loaded with the generated `users.acl`: each role's
//! `sessiondb` and `standalone` command lists are exactly what sessiondb sends in that
//! role (so a test fails when the code starts or stops using a command), and each role
//! is refused what it must not do. `cluster` does the same on a Redis Cluster.

mod cluster;
mod exporter;
mod sentinel;
mod support;

use std::time::Duration;

use anyhow::{ensure, Context as _};
use fred::prelude::*;
use sessiondb_acl::{refusals, Role};
use sessiondb_engine::{
    CleanupOptions, ConnectionConfig, DeletionTarget, Durability, Engine, EngineConfig, NewSession,
    SessionMetadata, UserId,
};
use support::{engine_config, eventually, short_logins, AclServer, PREFIX};

pub(crate) fn new_session(user: &str) -> anyhow::Result<NewSession> {
    let mut data = serde_json::Map::new();
    data.insert("role".into(), "member".into());
    Ok(NewSession {
        user_id: UserId::parse(user).context("user id")?,
        data,
        metadata: SessionMetadata::default(),
        idle_ttl: None,
    })
}

/// Logins that end within a second, then waits until they have: work for cleanup. The
/// first user also keeps a live login (so cleanup reschedules it).
pub(crate) async fn expired_logins(
    conn: &ConnectionConfig,
    config: &EngineConfig,
    users: &[&str],
) -> anyhow::Result<()> {
    let long = Engine::connect(conn, config.clone()).await?;
    long.create(new_session(users[0])?).await?;
    long.shutdown().await?;
    let short = Engine::connect(conn, short_logins(config.clone())).await?;
    let mut last = 0;
    for user in users {
        last = short.create(new_session(user)?).await?.refresh_expires_at.0;
    }
    let clock = sessiondb_engine::admin::connect(conn, 1).await?;
    eventually(Duration::from_secs(10), "the short logins end", || async {
        let (secs, micros): (u64, u64) = clock
            .next()
            .custom(fred::cmd!("TIME"), Vec::<String>::new())
            .await?;
        Ok(secs * 1000 + micros / 1000 > last)
    })
    .await?;
    clock.quit().await?;
    short.flush_events().await;
    short.shutdown().await?;
    Ok(())
}

/// Every operation of the engine, as the API and its background cleanup run them.
pub(crate) async fn every_engine_operation(engine: &Engine) -> anyhow::Result<()> {
    engine.ready().await?;
    ensure!(engine.redis_role().await? == "master");
    let user = UserId::parse("acl-user-1")?;
    // A user two of whose earlier logins ended: creating prunes its index and settles
    // the live count with one INCRBY.
    engine.create(new_session("acl-short-3")?).await?;
    let first = engine.create(new_session("acl-user-1")?).await?;
    let second = engine.create(new_session("acl-user-1")?).await?;
    let third = engine.create(new_session("acl-user-1")?).await?;
    // The cap of two evicts the least recently used login (either of the first two:
    // they may share a millisecond).
    ensure!(third.evicted.len() == 1, "the cap evicts");
    let evicted = &third.evicted[0];
    ensure!(*evicted == first.session_id || *evicted == second.session_id);
    let kept = if *evicted == first.session_id {
        &second
    } else {
        &first
    };
    engine.get(&kept.session_token, false).await?;
    engine.get(&kept.session_token, true).await?;
    let mut data = serde_json::Map::new();
    data.insert("theme".into(), "dark".into());
    engine
        .replace_data(&kept.session_token, &data, None)
        .await?;
    engine
        .merge_data(
            &kept.session_token,
            &serde_json::json!({"lang": "en"}),
            None,
        )
        .await?;
    let rotated = engine.rotate(&kept.session_token).await?;
    let refreshed = engine.refresh(&rotated.refresh_token).await?;
    // The previous refresh token again, within the grace period: a replay.
    engine.refresh(&rotated.refresh_token).await?;
    ensure!(engine.list(&user).await?.len() == 2);
    engine.revoke(&refreshed.session_token).await?;
    engine.revoke_by_refresh_token(&third.refresh_token).await?;
    let fourth = engine.create(new_session("acl-user-1")?).await?;
    engine.revoke_by_id(&user, &fourth.session_id).await?;
    for _ in 0..2 {
        engine.create(new_session("acl-user-1")?).await?;
    }
    engine.revoke_all(&user, None).await?;

    let other = engine.create(new_session("acl-user-2")?).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::Session {
            user_id: UserId::parse("acl-user-2")?,
            session_id: other.session_id.clone(),
        })
        .await?;
    engine.redeem_deletion_token(&issued.token).await?;
    engine.create(new_session("acl-user-2")?).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: UserId::parse("acl-user-2")?,
        })
        .await?;
    engine.redeem_deletion_token(&issued.token).await?;

    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(report.ran && report.removed > 0, "{report:?}");
    engine.active_sessions().await?;
    engine.last_job_runs().await?;
    engine.flush_events().await;
    ensure!(engine.dropped_events() == 0);
    Ok(())
}

#[tokio::test]
async fn app_role_is_exactly_what_the_engine_sends() -> anyhow::Result<()> {
    let server = AclServer::start()?;
    let app = server.connection(Role::App);
    expired_logins(
        &app,
        &engine_config(),
        &["acl-short-1", "acl-short-2", "acl-short-3", "acl-short-3"],
    )
    .await?;
    server.reset()?;
    let engine = Engine::connect(&server.connection(Role::App), engine_config()).await?;
    every_engine_operation(&engine).await?;
    engine.shutdown().await?;
    // Replicated durability follows each write with WAIT. This server has no replica,
    // so the write is applied but not confirmed.
    let replicated = Engine::connect(
        &server.connection(Role::App),
        EngineConfig {
            durability: Durability::Replicated {
                replicas: 1,
                timeout: Duration::from_millis(10),
            },
            ..engine_config()
        },
    )
    .await?;
    let outcome = replicated.create(new_session("acl-replicated")?).await;
    ensure!(
        matches!(outcome, Err(sessiondb_engine::Error::NotReplicated { .. })),
        "{outcome:?}"
    );
    replicated.shutdown().await?;
    server.assert_exactly(Role::App)
}

#[tokio::test]
async fn cleanup_role_is_exactly_what_the_cleanup_pass_sends() -> anyhow::Result<()> {
    let server = AclServer::start()?;
    // A database the API has used: the schema is recorded.
    Engine::connect(&server.connection(Role::App), engine_config())
        .await?
        .shutdown()
        .await?;
    let app = server.connection(Role::App);
    expired_logins(&app, &engine_config(), &["acl-short-1", "acl-short-2"]).await?;
    server.reset()?;
    let engine = Engine::connect(&server.connection(Role::Cleanup), engine_config()).await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(report.ran && report.removed == 2, "{report:?}");
    engine.flush_events().await;
    engine.shutdown().await?;
    server.assert_exactly(Role::Cleanup)
}

#[tokio::test]
async fn backup_role_is_exactly_what_backup_sends() -> anyhow::Result<()> {
    let server = AclServer::start()?;
    let engine = Engine::connect(&server.connection(Role::App), engine_config()).await?;
    for user in ["acl-user-1", "acl-user-2", "acl-user-2"] {
        engine.create(new_session(user)?).await?;
    }
    let issued = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: UserId::parse("acl-user-1")?,
        })
        .await?;
    drop(issued);
    engine.flush_events().await;
    engine.shutdown().await?;
    server.reset()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("sessions.sdbbak");
    let report = sessiondb_ops::backup(
        &server.connection(Role::Backup),
        PREFIX,
        &file,
        &sessiondb_ops::BackupOptions::default(),
        None,
    )
    .await?;
    ensure!(
        report.exit_status() == sessiondb_ops::ExitStatus::Ok,
        "{report}"
    );
    server.assert_exactly(Role::Backup)
}

#[tokio::test]
async fn monitor_role_is_exactly_what_health_and_status_send() -> anyhow::Result<()> {
    let server = AclServer::start()?;
    let engine = Engine::connect(&server.connection(Role::App), engine_config()).await?;
    engine.create(new_session("acl-user-1")?).await?;
    engine.cleanup(CleanupOptions::default()).await?;
    engine.shutdown().await?;
    server.reset()?;
    health_and_status(&server.connection(Role::Monitor)).await?;
    server.assert_exactly(Role::Monitor)
}

/// `health` and `status` as run on a deployment holding one live session: both must
/// succeed and `status` must count the session.
pub(crate) async fn health_and_status(conn: &ConnectionConfig) -> anyhow::Result<()> {
    let health =
        sessiondb_ops::health(conn, PREFIX, &sessiondb_ops::HealthOptions::default()).await?;
    ensure!(
        health.status == sessiondb_ops::ExitStatus::Ok,
        "health as monitor: {health}"
    );
    let text = sessiondb_ops::status(conn, PREFIX).await?.to_string();
    ensure!(text.contains("live sessions   1"), "{text}");
    Ok(())
}

#[tokio::test]
async fn every_role_is_refused_what_it_must_not_do() -> anyhow::Result<()> {
    let server = AclServer::start()?;
    let mut failures = Vec::new();
    for role in Role::ALL {
        let mut conn = server.login(role)?;
        for probe in refusals(role, PREFIX) {
            let args: Vec<&str> = probe.args.iter().map(String::as_str).collect();
            match conn.call_raw(&args)? {
                sessiondb_local::resp::Reply::Error(e) if probe.is_refusal(&e) => {}
                other => failures.push(format!("{role}: {} answered {other:?}", probe.what)),
            }
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    // The default user is off: it cannot log in even without a password.
    let mut anonymous = sessiondb_local::resp::Connection::open("127.0.0.1", server.port(), None)?;
    let reply = anonymous.call_raw(&["PING"])?;
    ensure!(
        matches!(&reply, sessiondb_local::resp::Reply::Error(e) if e.starts_with("NOAUTH")),
        "{reply:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_command_is_reported_with_the_refused_command() -> anyhow::Result<()> {
    // The app role without ZADD: the engine's create script is refused inside.
    let server = AclServer::start_with(|text| text.replace(" +zadd ", " "))?;
    let engine = Engine::connect(&server.connection(Role::App), engine_config()).await?;
    let created = engine.create(new_session("acl-user-1")?).await;
    ensure!(created.is_err(), "create succeeded without ZADD");
    engine.shutdown().await?;
    let err = server.assert_exactly(Role::App).unwrap_err().to_string();
    ensure!(err.contains("user app refused command zadd"), "{err}");
    Ok(())
}
