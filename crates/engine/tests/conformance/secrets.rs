//! Secrets are never stored in clear.

use std::time::Duration;

use anyhow::ensure;
use sessiondb_engine::DeletionTarget;

use crate::cases;
use crate::support::{new_session, user, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases!["secrets"; redis_holds_no_token_in_clear]
}

/// Runs every kind of operation, then reads every key and value under the prefix and
/// looks for any issued token, whole or its secret part.
async fn redis_holds_no_token_in_clear(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.session.touch_interval = Duration::ZERO)
        .await?;
    let mut secrets = Vec::new();
    for name in ["alice", "bob"] {
        let created = engine.create(new_session(name)).await?;
        engine.get(&created.session_token, true).await?;
        let rotated = engine.rotate(&created.session_token).await?;
        let refreshed = engine.refresh(&rotated.refresh_token).await?;
        let replayed = engine.refresh(&rotated.refresh_token).await?;
        let deletion = engine
            .issue_deletion_token(&DeletionTarget::User {
                user_id: user(name),
            })
            .await?;
        secrets.extend(
            [
                created.session_token.expose_secret(),
                created.refresh_token.expose_secret(),
                rotated.session_token.expose_secret(),
                rotated.refresh_token.expose_secret(),
                refreshed.session_token.expose_secret(),
                refreshed.refresh_token.expose_secret(),
                replayed.refresh_token.expose_secret(),
                deletion.token.expose_secret(),
            ]
            .map(str::to_owned),
        );
    }
    engine.flush_events().await;
    let dump = ctx.dump().await?;
    ensure!(
        dump.len() > 1000,
        "the dump saw the data: {} bytes",
        dump.len()
    );
    for secret in &secrets {
        let secret_part = &secret[secret.len() - 43..];
        ensure!(
            !dump.contains(secret_part),
            "a token secret is stored in clear"
        );
    }
    ensure!(!dump.contains("sdb_s1_") && !dump.contains("sdb_r1_") && !dump.contains("sdb_d1_"));
    Ok(())
}
