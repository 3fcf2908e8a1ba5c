//! The per-user cap: atomic under concurrency, `evict_lru` and `reject`.

use std::time::Duration;

use anyhow::ensure;
use futures::future::join_all;
use sessiondb_engine::{CapPolicy, Engine, Error};

use crate::cases;
use crate::support::{new_session, short_lived, short_logins, user, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases![
        "cap";
        evict_lru_revokes_least_recently_used_and_names_it,
        reject_fails_and_changes_nothing,
        ended_logins_do_not_count_against_cap,
        idle_sessions_with_live_families_count_against_cap,
        cap_outside_one_to_a_thousand_is_refused,
        concurrent_creates_never_exceed_cap_with_evict_lru,
        concurrent_creates_never_exceed_cap_with_reject,
    ]
}

async fn evict_lru_revokes_least_recently_used_and_names_it(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            c.session.max_per_user = 3;
            c.session.touch_interval = Duration::ZERO;
        })
        .await?;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(engine.create(new_session("alice")).await?);
    }
    // Use the first and the last so the second becomes least recently used.
    ctx.wait_until(created[2].times.created_at.0 + 2).await?;
    engine.get(&created[0].session_token, true).await?;
    engine.get(&created[2].session_token, true).await?;
    let fourth = engine.create(new_session("alice")).await?;
    ensure!(
        fourth.evicted == vec![created[1].session_id.clone()],
        "{:?}",
        fourth.evicted
    );
    ensure!(matches!(
        engine.get(&created[1].session_token, false).await,
        Err(Error::SessionNotFound)
    ));
    ensure!(
        matches!(
            engine.refresh(&created[1].refresh_token).await,
            Err(Error::InvalidGrant)
        ),
        "the evicted session's family is revoked too"
    );
    ensure!(engine.list(&user("alice")).await?.len() == 3);
    Ok(())
}

async fn reject_fails_and_changes_nothing(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            c.session.max_per_user = 2;
            c.session.cap_policy = CapPolicy::Reject;
        })
        .await?;
    let a = engine.create(new_session("bob")).await?;
    let b = engine.create(new_session("bob")).await?;
    let before = ctx.dump().await?;
    ensure!(matches!(
        engine.create(new_session("bob")).await,
        Err(Error::SessionLimitReached)
    ));
    ensure!(
        ctx.dump().await? == before,
        "a rejected create changed Redis"
    );
    for c in [&a, &b] {
        ensure!(engine.get(&c.session_token, false).await.is_ok());
    }
    engine.create(new_session("carol")).await?;
    Ok(())
}

/// A login ends when its session idled out and its refresh family can no longer refresh;
/// then it no longer counts.
async fn ended_logins_do_not_count_against_cap(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            short_logins(c);
            c.session.max_per_user = 2;
            c.session.cap_policy = CapPolicy::Reject;
        })
        .await?;
    engine.create(new_session("dave")).await?;
    let last = engine.create(new_session("dave")).await?;
    ensure!(engine.create(new_session("dave")).await.is_err());
    ctx.wait_until(last.refresh_expires_at.0).await?;
    let fresh = engine.create(new_session("dave")).await?;
    ensure!(fresh.evicted.is_empty());
    engine.create(new_session("dave")).await?;
    ensure!(engine.list(&user("dave")).await?.len() == 2);
    ensure!(
        engine.active_sessions().await? == 2,
        "the ended logins left the live count"
    );
    Ok(())
}

/// A session that idled out while its refresh family lives is still a device login that
/// can come back with one refresh: it counts, so a user cannot pile up families.
async fn idle_sessions_with_live_families_count_against_cap(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            short_lived(c);
            c.session.max_per_user = 2;
            c.session.cap_policy = CapPolicy::Reject;
        })
        .await?;
    let idle = engine.create(new_session("dora")).await?;
    ctx.wait_until(idle.times.expires_at.0).await?;
    ensure!(engine.get(&idle.session_token, false).await.is_err());
    engine.create(new_session("dora")).await?;
    ensure!(
        matches!(
            engine.create(new_session("dora")).await,
            Err(Error::SessionLimitReached)
        ),
        "the idle login's family still counts"
    );

    let lru = ctx
        .engine_with(|c| {
            short_lived(c);
            c.session.max_per_user = 2;
        })
        .await?;
    let idle = lru.create(new_session("dora")).await?;
    ctx.wait_until(idle.times.expires_at.0).await?;
    let live = lru.create(new_session("dora")).await?;
    let third = lru.create(new_session("dora")).await?;
    ensure!(
        third.evicted == vec![idle.session_id.clone()],
        "the least recently used login goes first: {:?}",
        third.evicted
    );
    ensure!(matches!(
        lru.refresh(&idle.refresh_token).await,
        Err(Error::InvalidGrant)
    ));
    ensure!(lru.get(&live.session_token, false).await.is_ok());
    Ok(())
}

async fn cap_outside_one_to_a_thousand_is_refused(ctx: Ctx) -> CaseResult {
    for cap in [0, 1001] {
        let refused = ctx.engine_with(|c| c.session.max_per_user = cap).await;
        let Err(error) = refused else {
            anyhow::bail!("cap {cap} was accepted");
        };
        let text = format!("{error:#}");
        ensure!(text.contains("max_per_user"), "{text}");
    }
    let engine = ctx.engine_with(|c| c.session.max_per_user = 1000).await?;
    engine.create(new_session("erin")).await?;
    Ok(())
}

/// 200 creates for one user in batches of 25 concurrent calls over an 8-connection
/// pool; after every batch the user holds at most `cap` live sessions.
async fn hammer(ctx: &Ctx, engine: &Engine, cap: usize) -> anyhow::Result<(usize, usize)> {
    let (mut ok, mut rejected) = (0, 0);
    for _batch in 0..8 {
        let results = join_all((0..25).map(|_| engine.create(new_session("frank")))).await;
        for r in results {
            match r {
                Ok(_) => ok += 1,
                Err(Error::SessionLimitReached) => rejected += 1,
                Err(e) => return Err(e.into()),
            }
        }
        let live = engine.list(&user("frank")).await?.len();
        ensure!(live <= cap, "{live} live sessions exceed the cap of {cap}");
        let _ = ctx;
    }
    Ok((ok, rejected))
}

async fn concurrent_creates_never_exceed_cap_with_evict_lru(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(|c| c.session.max_per_user = 5).await?;
    let (ok, rejected) = hammer(&ctx, &engine, 5).await?;
    ensure!(ok == 200 && rejected == 0);
    ensure!(engine.list(&user("frank")).await?.len() == 5);
    ensure!(
        engine.active_sessions().await? == 5,
        "the live count stayed exact"
    );
    Ok(())
}

async fn concurrent_creates_never_exceed_cap_with_reject(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            c.session.max_per_user = 5;
            c.session.cap_policy = CapPolicy::Reject;
        })
        .await?;
    let (ok, rejected) = hammer(&ctx, &engine, 5).await?;
    ensure!(
        ok == 5 && rejected == 195,
        "{ok} created, {rejected} rejected"
    );
    Ok(())
}
