//! Sign-out reaches the whole device login (session and refresh family) by any of its
//! credentials or its id, whatever refreshes, rotations or idle timeouts came before.

use anyhow::ensure;
use sessiondb_engine::{DeletionTarget, Engine, Error, RefreshToken};

use crate::cases;
use crate::support::{new_session, short_lived, user, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases![
        "signout";
        revoke_with_a_replaced_session_token_ends_the_family,
        revoke_by_id_after_a_refresh_ends_the_family,
        revoke_by_refresh_token_alone_ends_the_login,
        revoke_by_a_retired_refresh_token_ends_the_login,
        deletion_token_survives_a_refresh_and_an_idle_timeout,
        rotate_retires_the_refresh_token_too,
    ]
}

/// The login's current refresh token no longer refreshes.
async fn family_is_dead(engine: &Engine, token: &RefreshToken) -> anyhow::Result<bool> {
    Ok(matches!(
        engine.refresh(token).await,
        Err(Error::InvalidGrant)
    ))
}

async fn revoke_with_a_replaced_session_token_ends_the_family(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("alice")).await?;
    let r = engine.refresh(&created.refresh_token).await?;
    engine.revoke(&created.session_token).await?;
    ensure!(engine.get(&r.session_token, false).await.is_err());
    ensure!(
        family_is_dead(&engine, &r.refresh_token).await?,
        "the refresh family outlived a sign-out"
    );
    ensure!(matches!(
        engine.revoke(&created.session_token).await,
        Err(Error::SessionNotFound)
    ));
    Ok(())
}

async fn revoke_by_id_after_a_refresh_ends_the_family(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_lived).await?;
    let created = engine.create(new_session("bob")).await?;
    let r = engine.refresh(&created.refresh_token).await?;
    ctx.wait_until(r.expires_at.0).await?;
    engine
        .revoke_by_id(&user("bob"), &created.session_id)
        .await?;
    ensure!(family_is_dead(&engine, &r.refresh_token).await?);
    Ok(())
}

async fn revoke_by_refresh_token_alone_ends_the_login(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("carol")).await?;
    let other = engine.create(new_session("carol")).await?;
    engine
        .revoke_by_refresh_token(&created.refresh_token)
        .await?;
    ensure!(engine.get(&created.session_token, false).await.is_err());
    ensure!(family_is_dead(&engine, &created.refresh_token).await?);
    ensure!(engine.get(&other.session_token, false).await.is_ok());
    let real = other.refresh_token.expose_secret();
    let forged = RefreshToken::parse(&format!("{}AAAA", &real[..real.len() - 4]))?;
    ensure!(
        matches!(
            engine.revoke_by_refresh_token(&forged).await,
            Err(Error::SessionNotFound)
        ),
        "a token that never belonged to the login revokes nothing"
    );
    ensure!(engine.get(&other.session_token, false).await.is_ok());
    Ok(())
}

async fn revoke_by_a_retired_refresh_token_ends_the_login(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("dave")).await?;
    let r1 = engine.refresh(&created.refresh_token).await?;
    let r2 = engine.refresh(&r1.refresh_token).await?;
    engine
        .revoke_by_refresh_token(&created.refresh_token)
        .await?;
    ensure!(engine.get(&r2.session_token, false).await.is_err());
    ensure!(family_is_dead(&engine, &r2.refresh_token).await?);
    Ok(())
}

async fn deletion_token_survives_a_refresh_and_an_idle_timeout(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_lived).await?;
    let created = engine.create(new_session("erin")).await?;
    let issued = engine
        .issue_deletion_token(&DeletionTarget::Session {
            user_id: user("erin"),
            session_id: created.session_id.clone(),
        })
        .await?;
    let r = engine.refresh(&created.refresh_token).await?;
    ctx.wait_until(r.expires_at.0).await?;
    ensure!(engine.get(&r.session_token, false).await.is_err());
    let redeemed = engine.redeem_deletion_token(&issued.token).await?;
    ensure!(
        redeemed.revoked_sessions == vec![created.session_id.clone()]
            && redeemed.revoked_families == 1,
        "{redeemed:?}"
    );
    ensure!(
        family_is_dead(&engine, &r.refresh_token).await?,
        "the family outlived \"sign out this device\""
    );
    Ok(())
}

async fn rotate_retires_the_refresh_token_too(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("frank")).await?;
    let rotated = engine.rotate(&created.session_token).await?;
    ensure!(rotated.refresh_token.expose_secret() != created.refresh_token.expose_secret());
    let refreshed = engine.refresh(&rotated.refresh_token).await?;
    ensure!(engine.get(&refreshed.session_token, false).await.is_ok());

    let victim = engine.create(new_session("frank")).await?;
    let rotated = engine.rotate(&victim.session_token).await?;
    ensure!(
        matches!(
            engine.refresh(&victim.refresh_token).await,
            Err(Error::ReuseDetected)
        ),
        "the pre-rotation refresh token is reuse"
    );
    ensure!(
        engine.get(&rotated.session_token, false).await.is_err(),
        "reuse ended the rotated login"
    );
    Ok(())
}
