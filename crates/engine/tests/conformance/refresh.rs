//! Refresh-token families: rotation, grace window, reuse detection.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::ensure;
use futures::future::join_all;
use sessiondb_engine::{Error, RefreshToken, ReuseScope};

use crate::cases;
use crate::support::{new_session, short_lived, user, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases![
        "refresh";
        refresh_rotates_both_tokens_and_keeps_the_login,
        refresh_after_session_expired_carries_the_latest_data,
        refresh_never_rolls_back_a_demotion,
        concurrent_refreshes_with_current_token_get_identical_successor,
        refresh_with_previous_token_within_grace_returns_same_successor,
        refresh_with_previous_token_after_grace_revokes_family,
        refresh_with_older_token_revokes_family_even_within_grace,
        refresh_with_unknown_token_is_invalid_grant_without_revocation,
        refreshed_session_never_outlives_family,
        expired_family_is_invalid_grant,
        reuse_scope_user_revokes_every_session_of_the_user,
        refresh_needs_no_room_under_the_cap,
    ]
}

async fn refresh_rotates_both_tokens_and_keeps_the_login(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let mut req = new_session("alice");
    req.metadata.device = Some("tablet".into());
    let created = engine.create(req).await?;
    let mut data = serde_json::Map::new();
    data.insert("step".into(), 2.into());
    engine
        .replace_data(&created.session_token, &data, None)
        .await?;

    let r = engine.refresh(&created.refresh_token).await?;
    ensure!(
        !r.replayed && r.session_id == created.session_id,
        "a refresh keeps the device login's id"
    );
    ensure!(
        r.refresh_token.id() == created.refresh_token.id(),
        "same family"
    );
    ensure!(r.refresh_token.expose_secret() != created.refresh_token.expose_secret());
    ensure!(
        matches!(
            engine.get(&created.session_token, false).await,
            Err(Error::SessionNotFound)
        ),
        "the previous session token no longer opens the login"
    );
    let s = engine.get(&r.session_token, false).await?;
    ensure!(s.data == data, "data carried over: {:?}", s.data);
    ensure!(s.metadata.device.as_deref() == Some("tablet"));
    ensure!(
        s.times.version == 2 && s.times.expires_at == r.expires_at,
        "the version goes on: {:?}",
        s.times
    );
    let listed = engine.list(&user("alice")).await?;
    ensure!(listed.len() == 1 && listed[0].id == r.session_id);
    let r2 = engine.refresh(&r.refresh_token).await?;
    ensure!(engine.get(&r2.session_token, false).await.is_ok());
    Ok(())
}

async fn refresh_after_session_expired_carries_the_latest_data(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_lived).await?;
    let mut req = new_session("bob");
    req.metadata.device = Some("phone".into());
    let created = engine.create(req).await?;
    let mut data = serde_json::Map::new();
    data.insert("changed".into(), true.into());
    engine
        .replace_data(&created.session_token, &data, None)
        .await?;
    let expiry = engine
        .get(&created.session_token, false)
        .await?
        .times
        .expires_at;
    ctx.wait_until(expiry.0).await?;
    ensure!(engine.get(&created.session_token, false).await.is_err());
    let r = engine.refresh(&created.refresh_token).await?;
    let s = engine.get(&r.session_token, false).await?;
    ensure!(
        s.data == data,
        "the latest data, not the initial: {:?}",
        s.data
    );
    ensure!(s.metadata.device.as_deref() == Some("phone"));
    Ok(())
}

/// A user demoted with a replace waits out the idle timeout and refreshes: the role
/// must stay demoted.
async fn refresh_never_rolls_back_a_demotion(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_lived).await?;
    let created = engine.create(new_session("bruce")).await?;
    let before = engine.get(&created.session_token, false).await?;
    ensure!(before.data.get("role").is_some(), "{:?}", before.data);
    let mut demoted = serde_json::Map::new();
    demoted.insert("role".into(), "viewer".into());
    let updated = engine
        .replace_data(&created.session_token, &demoted, None)
        .await?;
    ctx.wait_until(updated.expires_at.0).await?;
    let r = engine.refresh(&created.refresh_token).await?;
    let after = engine.get(&r.session_token, false).await?;
    ensure!(after.data == demoted, "rolled back to {:?}", after.data);
    Ok(())
}

async fn concurrent_refreshes_with_current_token_get_identical_successor(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("carol")).await?;
    let results = join_all((0..50).map(|_| engine.refresh(&created.refresh_token))).await;
    let mut refresh_tokens = HashSet::new();
    let mut session_tokens = HashSet::new();
    let mut fresh = 0;
    for r in results {
        let r = r?;
        fresh += usize::from(!r.replayed);
        refresh_tokens.insert(r.refresh_token.expose_secret().to_owned());
        session_tokens.insert(r.session_token.expose_secret().to_owned());
    }
    ensure!(
        fresh == 1,
        "exactly one rotation happened, {fresh} claimed it"
    );
    ensure!(
        refresh_tokens.len() == 1 && session_tokens.len() == 1,
        "one successor for all"
    );
    let successor = RefreshToken::parse(refresh_tokens.iter().next().expect("one"))?;
    let next = engine.refresh(&successor).await?;
    ensure!(!next.replayed, "the family survived and rotates on");
    ensure!(engine.list(&user("carol")).await?.len() == 1);
    Ok(())
}

async fn refresh_with_previous_token_within_grace_returns_same_successor(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("dave")).await?;
    let first = engine.refresh(&created.refresh_token).await?;
    let retry = engine.refresh(&created.refresh_token).await?;
    ensure!(retry.replayed);
    ensure!(retry.refresh_token.expose_secret() == first.refresh_token.expose_secret());
    ensure!(retry.session_token.expose_secret() == first.session_token.expose_secret());
    ensure!(retry.session_id == first.session_id && retry.expires_at == first.expires_at);
    ensure!(engine.get(&retry.session_token, false).await.is_ok());
    Ok(())
}

async fn refresh_with_previous_token_after_grace_revokes_family(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.refresh.grace = Duration::from_millis(300))
        .await?;
    let created = engine.create(new_session("erin")).await?;
    let other = engine.create(new_session("erin")).await?;
    let first = engine.refresh(&created.refresh_token).await?;
    let rotated_by = ctx.redis_now().await?;
    ctx.wait_until(rotated_by + 300).await?;

    ensure!(matches!(
        engine.refresh(&created.refresh_token).await,
        Err(Error::ReuseDetected)
    ));
    ensure!(
        matches!(
            engine.get(&first.session_token, false).await,
            Err(Error::SessionNotFound)
        ),
        "the family's session is revoked"
    );
    for _ in 0..3 {
        ensure!(
            matches!(
                engine.refresh(&first.refresh_token).await,
                Err(Error::ReuseDetected)
            ),
            "the current token is dead too"
        );
        ensure!(
            matches!(
                engine.refresh(&created.refresh_token).await,
                Err(Error::ReuseDetected)
            ),
            "repeated presentation keeps answering reuse_detected"
        );
    }
    ensure!(
        engine.get(&other.session_token, false).await.is_ok(),
        "scope family spares others"
    );
    Ok(())
}

async fn refresh_with_older_token_revokes_family_even_within_grace(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("frank")).await?;
    let r1 = engine.refresh(&created.refresh_token).await?;
    let r2 = engine.refresh(&r1.refresh_token).await?;
    ensure!(matches!(
        engine.refresh(&created.refresh_token).await,
        Err(Error::ReuseDetected)
    ));
    ensure!(matches!(
        engine.refresh(&r2.refresh_token).await,
        Err(Error::ReuseDetected)
    ));
    ensure!(engine.list(&user("frank")).await?.is_empty());
    Ok(())
}

async fn refresh_with_unknown_token_is_invalid_grant_without_revocation(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("grace")).await?;
    let real = created.refresh_token.expose_secret();
    let forged = RefreshToken::parse(&format!("{}AAAA", &real[..real.len() - 4]))?;
    ensure!(matches!(
        engine.refresh(&forged).await,
        Err(Error::InvalidGrant)
    ));
    let unknown_family = engine.create(new_session("heidi")).await?;
    engine.revoke(&unknown_family.session_token).await?;
    ensure!(matches!(
        engine.refresh(&unknown_family.refresh_token).await,
        Err(Error::InvalidGrant)
    ));
    let r = engine.refresh(&created.refresh_token).await?;
    ensure!(!r.replayed, "a forged token revoked nothing");
    Ok(())
}

async fn refreshed_session_never_outlives_family(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.refresh.ttl = Duration::from_secs(90))
        .await?;
    let created = engine.create(new_session("ivan")).await?;
    let r = engine.refresh(&created.refresh_token).await?;
    ensure!(
        r.refresh_expires_at == created.refresh_expires_at,
        "family expiry is absolute"
    );
    ensure!(r.absolute_expires_at <= r.refresh_expires_at);
    ensure!(r.expires_at <= r.refresh_expires_at);
    Ok(())
}

async fn expired_family_is_invalid_grant(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.refresh.ttl = Duration::from_millis(500))
        .await?;
    let created = engine.create(new_session("judy")).await?;
    ctx.wait_until(created.refresh_expires_at.0).await?;
    ensure!(matches!(
        engine.refresh(&created.refresh_token).await,
        Err(Error::InvalidGrant)
    ));
    let idle = ctx
        .engine_with(|c| c.refresh.idle_ttl = Some(Duration::from_millis(300)))
        .await?;
    let created = idle.create(new_session("judy")).await?;
    let r = idle.refresh(&created.refresh_token).await?;
    let used = ctx.redis_now().await?;
    ctx.wait_until(used + 300).await?;
    ensure!(
        matches!(
            idle.refresh(&r.refresh_token).await,
            Err(Error::InvalidGrant)
        ),
        "the idle limit ends the family"
    );
    Ok(())
}

async fn reuse_scope_user_revokes_every_session_of_the_user(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            c.refresh.reuse_scope = ReuseScope::User;
            c.refresh.grace = Duration::ZERO;
        })
        .await?;
    let victim = engine.create(new_session("ken")).await?;
    let laptop = engine.create(new_session("ken")).await?;
    let bystander = engine.create(new_session("leo")).await?;
    let r = engine.refresh(&victim.refresh_token).await?;
    let t = ctx.redis_now().await?;
    ctx.wait_until(t + 1).await?;
    ensure!(matches!(
        engine.refresh(&victim.refresh_token).await,
        Err(Error::ReuseDetected)
    ));
    ensure!(engine.get(&r.session_token, false).await.is_err());
    ensure!(engine.get(&laptop.session_token, false).await.is_err());
    ensure!(matches!(
        engine.refresh(&laptop.refresh_token).await,
        Err(Error::InvalidGrant)
    ));
    ensure!(engine.get(&bystander.session_token, false).await.is_ok());
    Ok(())
}

async fn refresh_needs_no_room_under_the_cap(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            short_lived(c);
            c.session.max_per_user = 2;
            c.session.cap_policy = sessiondb_engine::CapPolicy::Reject;
        })
        .await?;
    let a = engine.create(new_session("mallory")).await?;
    let r = engine.refresh(&a.refresh_token).await?;
    ctx.wait_until(r.expires_at.0).await?;
    let mut long = new_session("mallory");
    long.idle_ttl = Some(Duration::from_secs(600));
    engine.create(long).await?;
    let r = engine.refresh(&r.refresh_token).await?;
    ensure!(
        engine.get(&r.session_token, false).await.is_ok(),
        "the login already counts against the cap; its refresh needs no room"
    );
    ensure!(engine.list(&user("mallory")).await?.len() == 2);
    Ok(())
}
