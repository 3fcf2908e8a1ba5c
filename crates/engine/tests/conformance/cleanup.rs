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
        a_backlog_larger_than_one_call_drains_with_one_event_per_login,
        ends_noticed_before_cleanup_yield_their_events_once,
        lifecycle_events_reach_the_stream_without_secrets,
        concurrent_events_each_reach_the_stream_once,
        an_event_redis_refuses_is_counted_and_the_next_one_appended,
    ]
}

async fn index_entries(ctx: &Ctx) -> anyhow::Result<u64> {
    let redis = ctx.redis().await?;
    let mut total = 0;
    for key in ctx.keys()? {
        if key.contains(":u:") {
            total += redis.zcard::<u64, _>(key.as_str()).await?;
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
    ensure!(index_entries(&ctx).await? == 12);
    ctx.wait_until(last_short.refresh_expires_at.0).await?;
    ensure!(engine.last_job_runs().await?.cleanup.is_none());
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(report.ran);
    ensure!(report.removed == 6, "removed {}", report.removed);
    ensure!(
        engine.last_job_runs().await?.cleanup.is_some(),
        "a finished pass is recorded for every instance's metrics"
    );
    ensure!(
        report.active_sessions == 6,
        "active {}",
        report.active_sessions
    );
    ensure!(index_entries(&ctx).await? == 6);
    ensure!(engine.active_sessions().await? == 6);
    engine.flush_events().await;
    Ok(())
}

async fn cleanup_does_nothing_when_nothing_is_due(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    for i in 0..20 {
        engine.create(new_session(&format!("u{i}"))).await?;
    }
    let before = ctx.dump().await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(
        report.ran && report.removed == 0 && report.users_visited == 0,
        "{report:?}"
    );
    ensure!(report.active_sessions == 20);
    ensure!(
        ctx.dump().await? == before,
        "a pass with nothing due wrote nothing"
    );
    Ok(())
}

async fn cleanup_lease_lets_one_instance_clean_at_a_time(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let lease = format!("{}:cleanup:lease", ctx.prefix);
    let redis = ctx.redis().await?;
    let _: () = redis
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
    let holder: String = redis.get(lease.as_str()).await?;
    ensure!(
        holder == "other-instance",
        "a forced run never releases another's lease"
    );
    let _: () = redis.del(lease.as_str()).await?;
    ensure!(engine.cleanup(CleanupOptions::default()).await?.ran);
    let left: Option<String> = redis.get(lease.as_str()).await?;
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
    let entries: Vec<(String, std::collections::HashMap<String, String>)> = ctx
        .redis()
        .await?
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

/// Events queued while a batch is being appended go in later batches: many concurrent
/// creates yield exactly one `created` event each.
async fn concurrent_events_each_reach_the_stream_once(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = futures::future::try_join_all(
        (0..300).map(|i| engine.create(new_session(&format!("crowd{i}")))),
    )
    .await?;
    let ids: std::collections::BTreeSet<String> =
        created.iter().map(|c| c.session_id.to_string()).collect();
    let events = stream_events(&ctx, &engine).await?;
    ensure!(
        events.len() == 300,
        "{} events for 300 creates",
        events.len()
    );
    let appended: std::collections::BTreeSet<String> = events
        .into_iter()
        .filter(|(kind, reason, _)| kind == "created" && reason == "create")
        .map(|(_, _, sid)| sid)
        .collect();
    ensure!(appended == ids, "one created event per create");
    ensure!(engine.dropped_events() == 0);
    Ok(())
}

/// An append Redis refuses (here: the stream's key holds a string) is counted as
/// dropped; the writer goes on, and the next event is appended once the key is a stream
/// again.
async fn an_event_redis_refuses_is_counted_and_the_next_one_appended(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let stream = format!("{}:events", ctx.prefix);
    let redis = ctx.redis().await?;
    let _: () = redis
        .set(stream.as_str(), "not a stream", None, None, false)
        .await?;
    engine.create(new_session("wren")).await?;
    engine.flush_events().await;
    ensure!(
        engine.dropped_events() == 1,
        "dropped: {}",
        engine.dropped_events()
    );
    let _: () = redis.del(stream.as_str()).await?;
    let created = engine.create(new_session("wren")).await?;
    let events = stream_events(&ctx, &engine).await?;
    ensure!(
        events
            == [(
                "created".to_owned(),
                "create".to_owned(),
                created.session_id.to_string()
            )],
        "{events:?}"
    );
    ensure!(engine.dropped_events() == 1);
    Ok(())
}

/// Lifecycle events in the stream, as (type, reason, session id).
async fn stream_events(
    ctx: &Ctx,
    engine: &Engine,
) -> anyhow::Result<Vec<(String, String, String)>> {
    engine.flush_events().await;
    let stream = format!("{}:events", ctx.prefix);
    let entries: Vec<(String, std::collections::HashMap<String, String>)> = ctx
        .redis()
        .await?
        .xrange(stream.as_str(), "-", "+", None)
        .await?;
    Ok(entries
        .into_iter()
        .map(|(_, f)| {
            (
                f["type"].clone(),
                f["reason"].clone(),
                f["session_id"].clone(),
            )
        })
        .collect())
}

/// A backlog of ended logins larger than one script call's budget is removed over
/// several calls, and every removed login yields exactly one `expired` event.
async fn a_backlog_larger_than_one_call_drains_with_one_event_per_login(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            short_logins(c);
            c.cleanup.batch_size = 3;
            c.session.max_per_user = 20;
        })
        .await?;
    let mut last = None;
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..24 {
        // Two users with many logins each, and some users with one.
        let user = if i < 16 {
            format!("heavy{}", i % 2)
        } else {
            format!("light{i}")
        };
        let created = engine.create(new_session(&user)).await?;
        ids.insert(created.session_id.to_string());
        last = Some(created);
    }
    let last = last.expect("created");
    ctx.wait_until(last.refresh_expires_at.0).await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(report.removed == 24, "{report:?}");
    ensure!(index_entries(&ctx).await? == 0);
    ensure!(engine.active_sessions().await? == 0);
    let expired: std::collections::BTreeSet<String> = stream_events(&ctx, &engine)
        .await?
        .into_iter()
        .filter(|(kind, reason, _)| kind == "expired" && reason == "cleanup")
        .map(|(_, _, sid)| sid)
        .collect();
    ensure!(
        expired == ids,
        "one expired event per login: {} of {}",
        expired.len(),
        ids.len()
    );
    Ok(())
}

/// A create that finds its user's ended logins removes them and reports them as
/// expired; the next cleanup pass does not report them again.
async fn ends_noticed_before_cleanup_yield_their_events_once(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_logins).await?;
    let first = engine.create(new_session("jane")).await?;
    let second = engine.create(new_session("jane")).await?;
    ctx.wait_until(second.refresh_expires_at.0).await?;
    // A login that stays live through the pass that follows.
    ctx.engine().await?.create(new_session("jane")).await?;
    let report = engine.cleanup(CleanupOptions::default()).await?;
    ensure!(
        report.removed == 0,
        "already pruned by the create: {report:?}"
    );
    let events = stream_events(&ctx, &engine).await?;
    for id in [&first.session_id, &second.session_id] {
        let n = events
            .iter()
            .filter(|(kind, _, sid)| kind == "expired" && sid == id.as_str())
            .count();
        ensure!(n == 1, "{id}: {n} expired events in {events:?}");
    }
    Ok(())
}
