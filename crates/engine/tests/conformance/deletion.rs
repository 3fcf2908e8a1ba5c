//! Deletion tokens: single use, session or user scope.

use std::time::Duration;

use anyhow::ensure;
use futures::future::join_all;
use sessiondb_engine::{DeletionScope, DeletionTarget, DeletionToken, Error};

use crate::cases;
use crate::support::{new_session, user, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases![
        "deletion";
        session_token_revokes_that_session_and_is_single_use,
        user_token_revokes_every_session_and_family,
        redeeming_after_target_is_gone_succeeds_with_zero_revoked,
        unknown_forged_and_expired_tokens_are_not_found,
        session_token_is_only_issued_for_a_live_session_of_the_user,
        concurrent_redemptions_consume_the_token_once,
    ]
}

async fn session_token_revokes_that_session_and_is_single_use(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let target = engine.create(new_session("alice")).await?;
    let other = engine.create(new_session("alice")).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::Session {
            user_id: user("alice"),
            session_id: target.session_id.clone(),
        })
        .await?;
    ensure!(issued.token.expose_secret().starts_with("sdb_d1_"));
    let redeemed = engine.redeem_deletion_token(&issued.token).await?;
    ensure!(redeemed.scope == DeletionScope::Session && redeemed.user_id == user("alice"));
    ensure!(redeemed.revoked_sessions == vec![target.session_id.clone()]);
    ensure!(redeemed.revoked_families == 1);
    ensure!(engine.get(&target.session_token, false).await.is_err());
    ensure!(matches!(
        engine.refresh(&target.refresh_token).await,
        Err(Error::InvalidGrant)
    ));
    ensure!(engine.get(&other.session_token, false).await.is_ok());
    ensure!(matches!(
        engine.redeem_deletion_token(&issued.token).await,
        Err(Error::TokenSpent)
    ));
    Ok(())
}

async fn user_token_revokes_every_session_and_family(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let a = engine.create(new_session("bob")).await?;
    let b = engine.create(new_session("bob")).await?;
    // A family whose session expired is still revoked.
    let c = engine.create(new_session("bob")).await?;
    engine.revoke(&c.session_token).await?;
    let d = engine.create(new_session("bob")).await?;
    let bystander = engine.create(new_session("carol")).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: user("bob"),
        })
        .await?;
    let redeemed = engine.redeem_deletion_token(&issued.token).await?;
    ensure!(redeemed.scope == DeletionScope::User);
    ensure!(redeemed.revoked_sessions.len() == 3, "{redeemed:?}");
    ensure!(redeemed.revoked_families == 3, "{redeemed:?}");
    for s in [&a, &b, &d] {
        ensure!(engine.get(&s.session_token, false).await.is_err());
        ensure!(matches!(
            engine.refresh(&s.refresh_token).await,
            Err(Error::InvalidGrant)
        ));
    }
    ensure!(engine.get(&bystander.session_token, false).await.is_ok());
    ensure!(matches!(
        engine.redeem_deletion_token(&issued.token).await,
        Err(Error::TokenSpent)
    ));
    Ok(())
}

async fn redeeming_after_target_is_gone_succeeds_with_zero_revoked(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let target = engine.create(new_session("dave")).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::Session {
            user_id: user("dave"),
            session_id: target.session_id.clone(),
        })
        .await?;
    engine.revoke(&target.session_token).await?;
    let redeemed = engine.redeem_deletion_token(&issued.token).await?;
    ensure!(redeemed.revoked_sessions.is_empty() && redeemed.revoked_families == 0);
    let for_user = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: user("nobody"),
        })
        .await?;
    let redeemed = engine.redeem_deletion_token(&for_user.token).await?;
    ensure!(redeemed.revoked_sessions.is_empty() && redeemed.revoked_families == 0);
    Ok(())
}

async fn unknown_forged_and_expired_tokens_are_not_found(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.deletion.ttl = Duration::from_millis(300))
        .await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: user("erin"),
        })
        .await?;
    let real = issued.token.expose_secret();
    let forged = DeletionToken::parse(&format!("{}AAAA", &real[..real.len() - 4]))?;
    ensure!(matches!(
        engine.redeem_deletion_token(&forged).await,
        Err(Error::TokenNotFound)
    ));
    ctx.wait_until(issued.expires_at.0).await?;
    ensure!(matches!(
        engine.redeem_deletion_token(&issued.token).await,
        Err(Error::TokenNotFound)
    ));
    Ok(())
}

async fn session_token_is_only_issued_for_a_live_session_of_the_user(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let s = engine.create(new_session("frank")).await?;
    let wrong_user = DeletionTarget::Session {
        user_id: user("grace"),
        session_id: s.session_id.clone(),
    };
    ensure!(matches!(
        engine.issue_deletion_token(&wrong_user).await,
        Err(Error::SessionNotFound)
    ));
    engine.revoke(&s.session_token).await?;
    let gone = DeletionTarget::Session {
        user_id: user("frank"),
        session_id: s.session_id.clone(),
    };
    ensure!(matches!(
        engine.issue_deletion_token(&gone).await,
        Err(Error::SessionNotFound)
    ));
    Ok(())
}

async fn concurrent_redemptions_consume_the_token_once(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    engine.create(new_session("heidi")).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: user("heidi"),
        })
        .await?;
    let results = join_all((0..20).map(|_| engine.redeem_deletion_token(&issued.token))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let spent = results
        .iter()
        .filter(|r| matches!(r, Err(Error::TokenSpent)))
        .count();
    ensure!(ok == 1 && spent == 19, "{ok} succeeded, {spent} spent");
    Ok(())
}
