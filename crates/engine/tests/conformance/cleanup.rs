//! Cleanup: removes index entries of expired sessions; bounded, leased, proportional to
//! what is due.

use anyhow::ensure;
use fred::prelude::*;
use sessiondb_engine::{CleanupOptions, Engine};

use crate::cases;
use crate::support::{new_session, short_logins, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases![
        "cleanup";
        cleanup_removes_only_expired_index_entries,
        cleanup_does_nothing_when_nothing_is_due,
        cleanup_lease_lets_one_instance_clean_at_a_time,
        lifecycle_events_reach_the_stream_without_secrets,
    ]
}

async fn index_entries(ctx: &Ctx, engine: &Engine) -> anyhow::Result<u64> {
    let mut total = 0;
    for key in ctx.keys()? {
        if key.contains(":u:") {
            total += engine.pool().next().zcard::<u64, _>(key.as_str()).await?;
        }
    }
    Ok(total)
}

async fn cleanup_removes_only_expired_index_entries(ctx: Ctx) -> CaseResult {
    // Logins end when their session idled out and their family expired: the short ones
    // come from an engine whose families last under a second.
    let short = ctx.engine_with(short_logins).await?;
    let engine = ctx.engine().await?;
    let mut last_short = None;
    for i in 0..6 {
        last_short = Some(
            short
                .create(new_session(&format!("short{}", i % 3)))
                .await?,
        );
        engine
            .create(new_session(&format!("long{}", i % 2)))
            .await?;
    }
    let last_short = last_short.expect("created");
    ensure!(index_entries(&ctx, &engine).await? == 12);
    ctx.wait_until(&engine, last_short.refresh_expires_at.0)
        .await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(report.ran);
    ensure!(report.removed == 6, "removed {}", report.removed);
    ensure!(
        report.active_sessions == 6,
        "active {}",
        report.active_sessions
    );
    ensure!(index_entries(&ctx, &engine).await? == 6);
    ensure!(engine.active_sessions().await? == 6);
    engine.flush_events().await;
    Ok(())
}

async fn cleanup_does_nothing_when_nothing_is_due(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    for i in 0..20 {
        engine.create(new_session(&format!("u{i}"))).await?;
    }
    let before = ctx.dump(&engine).await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(
        report.ran && report.removed == 0 && report.users_visited == 0,
        "{report:?}"
    );
    ensure!(report.active_sessions == 20);
    ensure!(
        ctx.dump(&engine).await? == before,
        "a pass with nothing due wrote nothing"
    );
    Ok(())
}

async fn cleanup_lease_lets_one_instance_clean_at_a_time(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let lease = format!("{}:cleanup:lease", ctx.prefix);
    let _: () = engine
        .pool()
        .next()
        .set(
            lease.as_str(),
            "other-instance",
            Some(Expiration::EX(60)),
            None,
            false,
        )
        .await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(!report.ran, "ran while another instance held the lease");
    let forced = engine
        .cleanup(CleanupOptions { ignore_lease: true })
        .await?;
    ensure!(forced.ran);
    let holder: String = engine.pool().next().get(lease.as_str()).await?;
    ensure!(
        holder == "other-instance",
        "a forced run never releases another's lease"
    );
    let _: () = engine.pool().next().del(lease.as_str()).await?;
    ensure!(engine.cleanup(CleanupOptions::default()).await?.ran);
    let left: Option<String> = engine.pool().next().get(lease.as_str()).await?;
    ensure!(left.is_none(), "the lease is released after a pass");
    Ok(())
}

async fn lifecycle_events_reach_the_stream_without_secrets(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("ivy")).await?;
    let refreshed = engine.refresh(&created.refresh_token).await?;
    engine.revoke(&refreshed.session_token).await?;
    engine.flush_events().await;
    let stream = format!("{}:events", ctx.prefix);
    let entries: Vec<(String, std::collections::HashMap<String, String>)> = engine
        .pool()
        .next()
        .xrange(stream.as_str(), "-", "+", None)
        .await?;
    let kinds: Vec<&str> = entries.iter().map(|(_, f)| f["type"].as_str()).collect();
    ensure!(kinds == ["created", "refreshed", "revoked"], "{kinds:?}");
    ensure!(entries.iter().all(|(_, f)| f["user_id"] == "ivy"));
    ensure!(entries[0].1["session_id"] == created.session_id.as_str());
    let text = format!("{entries:?}");
    ensure!(
        !text.contains("sdb_s1_") && !text.contains("sdb_r1_"),
        "{text}"
    );
    Ok(())
}
