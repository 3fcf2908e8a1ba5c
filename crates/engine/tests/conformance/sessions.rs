//! Sessions: create, read with sliding expiry, update, rotate, revoke, list.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use fred::interfaces::{FunctionInterface as _, KeysInterface as _};
use futures::future::join_all;
use serde_json::json;
use sessiondb_engine::{Error, SessionMetadata, SessionToken, RESERVED_MEMBER};

use crate::cases;
use sessiondb_local::testkit::eventually_async;

use crate::support::{new_session, short_lived, user, Case, CaseResult, Ctx};

pub fn cases() -> Vec<Case> {
    cases![
        "sessions";
        create_returns_prefixed_tokens_and_consistent_expiries,
        get_returns_data_and_metadata,
        get_with_wrong_secret_is_not_found,
        get_with_touch_slides_idle_expiry_at_most_once_per_interval,
        get_without_touch_never_writes,
        idle_timeout_ends_the_session,
        absolute_timeout_is_never_extended,
        create_rejects_idle_ttl_outside_window,
        create_rejects_oversized_data_and_metadata,
        data_with_the_reserved_number_member_is_refused_by_every_write,
        update_replaces_data_and_increments_version,
        update_with_stale_version_conflicts_and_changes_nothing,
        merge_applies_json_merge_patch,
        concurrent_updates_with_same_expected_version_exactly_one_wins,
        concurrent_merges_without_version_lose_no_update,
        revoked_session_is_never_resurrected_by_update_or_touch,
        expired_session_is_never_resurrected_by_update_or_touch,
        rotate_invalidates_old_token_and_keeps_state,
        revoke_by_id_requires_the_owning_user,
        revoke_all_except_one_keeps_only_that_session,
        list_shows_only_live_sessions_without_tokens,
        list_from_replicas_converges_to_the_masters_listing,
        scripts_reload_after_function_flush,
        a_create_redis_refuses_fails_alone,
        a_login_refused_inside_one_create_call_does_not_stop_the_next,
    ]
}

async fn create_returns_prefixed_tokens_and_consistent_expiries(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("alice")).await?;
    ensure!(created.session_token.expose_secret().starts_with("sdb_s1_"));
    ensure!(created.refresh_token.expose_secret().starts_with("sdb_r1_"));
    let t = &created.times;
    ensure!(t.created_at == t.last_seen_at && t.version == 1);
    ensure!(
        t.expires_at.0 == t.created_at.0 + 3_600_000,
        "idle default 1 h: {t:?}"
    );
    ensure!(
        t.absolute_expires_at.0 == t.created_at.0 + 86_400_000,
        "absolute 24 h"
    );
    ensure!(
        created.refresh_expires_at.0 == t.created_at.0 + 7 * 86_400_000,
        "family 7 d"
    );
    ensure!(created.evicted.is_empty());
    Ok(())
}

async fn get_returns_data_and_metadata(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let mut req = new_session("bob");
    req.metadata = SessionMetadata {
        ip: Some("203.0.113.7".parse()?),
        user_agent: Some("curl/8".into()),
        device: Some("laptop".into()),
    };
    req.data.insert(
        "cart".into(),
        json!({"items": [1, 2, 3], "big": 12345678901234567u64}),
    );
    let created = engine.create(req.clone()).await?;
    let session = engine.get(&created.session_token, false).await?;
    ensure!(session.id == created.session_id);
    ensure!(session.user_id == user("bob"));
    ensure!(
        session.data == req.data,
        "data round-trips exactly: {:?}",
        session.data
    );
    ensure!(session.metadata == req.metadata);
    ensure!(session.times == created.times);
    Ok(())
}

async fn get_with_wrong_secret_is_not_found(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("carol")).await?;
    let real = created.session_token.expose_secret();
    let forged = format!("{}{}", &real[..real.len() - 4], "AAAA");
    let forged = SessionToken::parse(&forged)?;
    ensure!(matches!(
        engine.get(&forged, true).await,
        Err(Error::SessionNotFound)
    ));
    ensure!(matches!(
        engine.revoke(&forged).await,
        Err(Error::SessionNotFound)
    ));
    ensure!(
        engine.get(&created.session_token, false).await.is_ok(),
        "real token still works"
    );
    Ok(())
}

async fn get_with_touch_slides_idle_expiry_at_most_once_per_interval(ctx: Ctx) -> CaseResult {
    let throttled = ctx.engine().await?;
    let created = throttled.create(new_session("dave")).await?;
    let before = created.times.expires_at;
    ctx.wait_until(created.times.created_at.0 + 5).await?;
    let read = throttled.get(&created.session_token, true).await?;
    ensure!(
        read.times.expires_at == before,
        "within the touch interval nothing is written"
    );

    let eager = ctx
        .engine_with(|c| c.session.touch_interval = Duration::ZERO)
        .await?;
    let read = eager.get(&created.session_token, true).await?;
    ensure!(
        read.times.expires_at > before,
        "touch slides the idle expiry"
    );
    ensure!(read.times.last_seen_at > created.times.last_seen_at);
    ensure!(read.times.expires_at.0 == read.times.last_seen_at.0 + 3_600_000);
    Ok(())
}

async fn get_without_touch_never_writes(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.session.touch_interval = Duration::ZERO)
        .await?;
    let created = engine.create(new_session("erin")).await?;
    let before = ctx.dump().await?;
    ctx.wait_until(created.times.created_at.0 + 5).await?;
    for _ in 0..5 {
        engine.get(&created.session_token, false).await?;
    }
    ensure!(ctx.dump().await? == before, "touch=false changed Redis");
    Ok(())
}

async fn idle_timeout_ends_the_session(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_lived).await?;
    let created = engine.create(new_session("frank")).await?;
    ensure!(engine.get(&created.session_token, false).await.is_ok());
    eventually_async(
        "the idle session expires",
        Duration::from_secs(10),
        || async {
            match engine.get(&created.session_token, false).await {
                Err(Error::SessionNotFound) => Ok(()),
                other => Err(format!("get returned {:?}", other.map(|_| "a session"))),
            }
        },
    )
    .await;
    ensure!(ctx.redis_now().await? >= created.times.expires_at.0);
    Ok(())
}

async fn absolute_timeout_is_never_extended(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            short_lived(c);
            c.session.absolute_ttl = Duration::from_millis(1500);
            c.session.touch_interval = Duration::ZERO;
        })
        .await?;
    let created = engine.create(new_session("grace")).await?;
    let absolute = created.times.absolute_expires_at;
    loop {
        match engine.get(&created.session_token, true).await {
            Ok(s) => {
                ensure!(
                    s.times.expires_at <= absolute,
                    "idle expiry passed absolute"
                );
                ensure!(s.times.absolute_expires_at == absolute);
            }
            Err(Error::SessionNotFound) => break,
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = ctx.redis_now().await?;
    ensure!(
        now >= absolute.0,
        "ended at the absolute expiry, not before: {now} < {absolute:?}"
    );
    ensure!(
        engine.update_keeps_dead(&created.session_token).await,
        "no resurrection"
    );
    Ok(())
}

trait UpdateProbe {
    async fn update_keeps_dead(&self, token: &SessionToken) -> bool;
}

impl UpdateProbe for sessiondb_engine::Engine {
    /// True when neither an update nor a touch brings the session back.
    async fn update_keeps_dead(&self, token: &SessionToken) -> bool {
        let data = serde_json::Map::new();
        matches!(
            self.replace_data(token, &data, None).await,
            Err(Error::SessionNotFound)
        ) && matches!(self.get(token, true).await, Err(Error::SessionNotFound))
            && matches!(self.get(token, false).await, Err(Error::SessionNotFound))
    }
}

async fn create_rejects_idle_ttl_outside_window(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    for secs in [59, 86_401] {
        let mut req = new_session("heidi");
        req.idle_ttl = Some(Duration::from_secs(secs));
        match engine.create(req).await {
            Err(Error::InvalidInput(e)) => ensure!(e.field == "idle_ttl_seconds", "{e}"),
            other => anyhow::bail!("idle {secs}s accepted: {other:?}"),
        }
    }
    let mut req = new_session("heidi");
    req.idle_ttl = Some(Duration::from_secs(120));
    let created = engine.create(req).await?;
    ensure!(created.times.expires_at.0 - created.times.created_at.0 == 120_000);
    ensure!(
        engine.list(&user("heidi")).await?.len() == 1,
        "rejected creates wrote nothing"
    );
    Ok(())
}

async fn create_rejects_oversized_data_and_metadata(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(|c| c.session.max_data_bytes = 64).await?;
    let mut req = new_session("ivan");
    req.data.insert("pad".into(), "x".repeat(64).into());
    ensure!(matches!(
        engine.create(req).await,
        Err(Error::PayloadTooLarge { field: "data", .. })
    ));
    let mut req = new_session("ivan");
    req.metadata.user_agent = Some("u".repeat(513));
    match engine.create(req).await {
        Err(Error::InvalidInput(e)) => ensure!(e.field == "metadata.user_agent"),
        other => anyhow::bail!("long user agent accepted: {other:?}"),
    }
    let created = engine.create(new_session("ivan")).await?;
    let mut big = serde_json::Map::new();
    big.insert("pad".into(), "y".repeat(100).into());
    ensure!(matches!(
        engine
            .replace_data(&created.session_token, &big, None)
            .await,
        Err(Error::PayloadTooLarge { .. })
    ));
    ensure!(
        engine
            .get(&created.session_token, false)
            .await?
            .times
            .version
            == 1
    );
    Ok(())
}

async fn data_with_the_reserved_number_member_is_refused_by_every_write(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let reserved = |value: serde_json::Value| {
        let serde_json::Value::Object(data) = value else {
            unreachable!("an object literal")
        };
        data
    };
    let nested = reserved(json!({"l": [{"a": 1, (RESERVED_MEMBER): "1"}]}));
    let top = reserved(json!({"a": 1, (RESERVED_MEMBER): "1"}));
    for data in [&nested, &top] {
        let mut req = new_session("judy");
        req.data = data.clone();
        match engine.create(req).await {
            Err(Error::InvalidInput(e)) => ensure!(e.field == "data", "{e}"),
            other => anyhow::bail!("reserved member accepted by create: {other:?}"),
        }
    }
    let created = engine.create(new_session("judy")).await?;
    let token = &created.session_token;
    ensure!(matches!(
        engine.replace_data(token, &nested, None).await,
        Err(Error::InvalidInput(_))
    ));
    ensure!(matches!(
        engine
            .merge_data(token, &serde_json::Value::Object(top), None)
            .await,
        Err(Error::InvalidInput(_))
    ));
    ensure!(
        engine.get(token, false).await?.times.version == 1,
        "nothing written"
    );
    ensure!(engine.list(&user("judy")).await?.len() == 1);
    Ok(())
}

async fn update_replaces_data_and_increments_version(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("judy")).await?;
    let mut data = serde_json::Map::new();
    data.insert("theme".into(), "dark".into());
    let updated = engine
        .replace_data(&created.session_token, &data, None)
        .await?;
    ensure!(updated.version == 2);
    let updated = engine
        .replace_data(&created.session_token, &data, Some(2))
        .await?;
    ensure!(updated.version == 3);
    let read = engine.get(&created.session_token, false).await?;
    ensure!(read.data == data && read.times.version == 3);
    ensure!(updated.absolute_expires_at == created.times.absolute_expires_at);
    Ok(())
}

async fn update_with_stale_version_conflicts_and_changes_nothing(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("ken")).await?;
    let before = engine.get(&created.session_token, false).await?;
    let mut data = serde_json::Map::new();
    data.insert("x".into(), 1.into());
    match engine
        .replace_data(&created.session_token, &data, Some(7))
        .await
    {
        Err(Error::VersionConflict { current: 1 }) => {}
        other => anyhow::bail!("expected a conflict at version 1, got {other:?}"),
    }
    match engine
        .merge_data(&created.session_token, &json!({"x": 2}), Some(9))
        .await
    {
        Err(Error::VersionConflict { current: 1 }) => {}
        other => anyhow::bail!("expected a conflict at version 1, got {other:?}"),
    }
    ensure!(
        engine.get(&created.session_token, false).await? == before,
        "nothing changed"
    );
    Ok(())
}

async fn merge_applies_json_merge_patch(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let mut req = new_session("leo");
    req.data
        .insert("prefs".into(), json!({"lang": "en", "tz": "UTC"}));
    let created = engine.create(req).await?;
    let updated = engine
        .merge_data(
            &created.session_token,
            &json!({"prefs": {"tz": null, "lang": "fr"}, "n": 1}),
            Some(1),
        )
        .await?;
    ensure!(updated.version == 2);
    let read = engine.get(&created.session_token, false).await?;
    ensure!(
        serde_json::Value::Object(read.data)
            == json!({"role": "member", "prefs": {"lang": "fr"}, "n": 1})
    );
    ensure!(engine
        .merge_data(&created.session_token, &json!([1]), None)
        .await
        .is_err());
    Ok(())
}

async fn concurrent_updates_with_same_expected_version_exactly_one_wins(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("mallory")).await?;
    let results = join_all((0..32).map(|i| {
        let engine = engine.clone();
        let token = created.session_token.clone();
        async move {
            let mut data = serde_json::Map::new();
            data.insert("writer".into(), i.into());
            engine.replace_data(&token, &data, Some(1)).await
        }
    }))
    .await;
    let winners: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(Error::VersionConflict { current: 2 })))
        .count();
    ensure!(winners.len() == 1, "{} winners", winners.len());
    ensure!(conflicts == 31, "{conflicts} conflicts");
    ensure!(
        engine
            .get(&created.session_token, false)
            .await?
            .times
            .version
            == 2
    );
    Ok(())
}

async fn concurrent_merges_without_version_lose_no_update(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("nina")).await?;
    let results = join_all((0..6).map(|i| {
        let engine = engine.clone();
        let token = created.session_token.clone();
        async move {
            engine
                .merge_data(&token, &json!({ format!("k{i}"): i }), None)
                .await
        }
    }))
    .await;
    for r in results {
        r?;
    }
    let read = engine.get(&created.session_token, false).await?;
    ensure!(
        read.times.version == 7,
        "six merges applied: version {}",
        read.times.version
    );
    ensure!(
        (0..6).all(|i| read.data.contains_key(&format!("k{i}"))),
        "{:?}",
        read.data
    );
    Ok(())
}

async fn revoked_session_is_never_resurrected_by_update_or_touch(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| c.session.touch_interval = Duration::ZERO)
        .await?;
    let created = engine.create(new_session("oscar")).await?;
    engine.revoke(&created.session_token).await?;
    ensure!(engine.update_keeps_dead(&created.session_token).await);
    ensure!(matches!(
        engine.rotate(&created.session_token).await,
        Err(Error::SessionNotFound)
    ));
    ensure!(matches!(
        engine.revoke(&created.session_token).await,
        Err(Error::SessionNotFound)
    ));
    ensure!(engine.list(&user("oscar")).await?.is_empty());
    Ok(())
}

async fn expired_session_is_never_resurrected_by_update_or_touch(ctx: Ctx) -> CaseResult {
    let engine = ctx
        .engine_with(|c| {
            short_lived(c);
            c.session.touch_interval = Duration::ZERO;
        })
        .await?;
    let created = engine.create(new_session("peggy")).await?;
    ctx.wait_until(created.times.expires_at.0).await?;
    ensure!(engine.update_keeps_dead(&created.session_token).await);
    ensure!(engine.list(&user("peggy")).await?.is_empty());
    Ok(())
}

async fn rotate_invalidates_old_token_and_keeps_state(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("quinn")).await?;
    let rotated = engine.rotate(&created.session_token).await?;
    ensure!(
        rotated.session_token.id() == created.session_token.id(),
        "same session"
    );
    ensure!(rotated.session_token.expose_secret() != created.session_token.expose_secret());
    ensure!(matches!(
        engine.get(&created.session_token, false).await,
        Err(Error::SessionNotFound)
    ));
    let read = engine.get(&rotated.session_token, false).await?;
    ensure!(read.times == created.times && read.data.contains_key("role"));
    Ok(())
}

async fn revoke_by_id_requires_the_owning_user(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("rupert")).await?;
    ensure!(matches!(
        engine
            .revoke_by_id(&user("sybil"), &created.session_id)
            .await,
        Err(Error::SessionNotFound)
    ));
    ensure!(engine.get(&created.session_token, false).await.is_ok());
    engine
        .revoke_by_id(&user("rupert"), &created.session_id)
        .await?;
    ensure!(engine.get(&created.session_token, false).await.is_err());
    ensure!(
        matches!(
            engine.refresh(&created.refresh_token).await,
            Err(Error::InvalidGrant)
        ),
        "the family died with the session"
    );
    Ok(())
}

async fn revoke_all_except_one_keeps_only_that_session(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let mut created = Vec::new();
    for _ in 0..4 {
        created.push(engine.create(new_session("trent")).await?);
    }
    let other_user = engine.create(new_session("ursula")).await?;
    let keep = &created[1];
    let revoked = engine
        .revoke_all(&user("trent"), Some(&keep.session_id))
        .await?;
    ensure!(
        revoked.sessions.len() == 3 && revoked.families == 3,
        "{revoked:?}"
    );
    for (i, c) in created.iter().enumerate() {
        ensure!(engine.get(&c.session_token, false).await.is_ok() == (i == 1));
    }
    ensure!(
        engine.refresh(&keep.refresh_token).await.is_ok(),
        "kept family works"
    );
    ensure!(matches!(
        engine.refresh(&created[0].refresh_token).await,
        Err(Error::InvalidGrant)
    ));
    ensure!(
        engine.get(&other_user.session_token, false).await.is_ok(),
        "other users untouched"
    );
    let all = engine.revoke_all(&user("trent"), None).await?;
    ensure!(all.sessions.len() == 1, "{all:?}");
    ensure!(engine.list(&user("trent")).await?.is_empty());
    Ok(())
}

async fn list_shows_only_live_sessions_without_tokens(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine_with(short_lived).await?;
    let mut long = new_session("victor");
    long.idle_ttl = Some(Duration::from_secs(600));
    long.metadata.device = Some("phone".into());
    let kept = engine.create(long.clone()).await?;
    let revoked = engine.create(long).await?;
    let short = engine.create(new_session("victor")).await?;
    engine.revoke(&revoked.session_token).await?;
    ctx.wait_until(short.times.expires_at.0).await?;
    let listed = engine.list(&user("victor")).await?;
    ensure!(
        listed.len() == 1 && listed[0].id == kept.session_id,
        "{listed:?}"
    );
    ensure!(listed[0].metadata.device.as_deref() == Some("phone"));
    let text = serde_json::to_string(&listed)?;
    ensure!(!text.contains(kept.session_token.expose_secret()));
    ensure!(!text.contains("sdb_s1_") && !text.contains("sdb_r1_"));
    Ok(())
}

/// `read_from = replica_preferred`: the listing (from a replica where the topology has
/// one) shows what the master's shows once replication caught up; token checks still
/// see every write at once.
async fn list_from_replicas_converges_to_the_masters_listing(ctx: Ctx) -> CaseResult {
    let on_master = ctx.engine_with(short_lived).await?;
    let preferring = ctx.engine_reading_from_replicas(short_lived).await?;
    let mut long = new_session("xavier");
    long.idle_ttl = Some(Duration::from_secs(600));
    long.metadata.device = Some("laptop".into());
    let kept = preferring.create(long.clone()).await?;
    let revoked = preferring.create(long).await?;
    let short = preferring.create(new_session("xavier")).await?;
    preferring.revoke(&revoked.session_token).await?;
    ctx.wait_until(short.times.expires_at.0).await?;

    let expected = serde_json::to_value(on_master.list(&user("xavier")).await?)?;
    ensure!(
        expected.as_array().map(Vec::len) == Some(1),
        "the master lists only the kept session: {expected}"
    );
    eventually_async("the listings agree", Duration::from_secs(10), || async {
        let listed = serde_json::to_value(preferring.list(&user("xavier")).await?)?;
        if listed == expected {
            Ok(())
        } else {
            Err(anyhow::anyhow!("the replica lists {listed}"))
        }
    })
    .await;

    let mut data = serde_json::Map::new();
    data.insert("step".into(), 2.into());
    let updated = preferring
        .replace_data(&kept.session_token, &data, None)
        .await?;
    let read = preferring.get(&kept.session_token, false).await?;
    ensure!(
        read.times.version == updated.version,
        "reads of a token see its writes at once"
    );
    ensure!(
        preferring.get(&revoked.session_token, false).await.is_err(),
        "a revoked token stays revoked"
    );
    Ok(())
}

async fn scripts_reload_after_function_flush(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    let created = engine.create(new_session("walter")).await?;
    let redis = ctx.redis().await?;
    let _: () = fred::interfaces::FunctionInterface::function_flush_cluster(&redis, false).await?;
    ensure!(
        engine.get(&created.session_token, false).await.is_ok(),
        "a read needs no script"
    );
    engine.create(new_session("walter")).await?;
    let _: () = fred::interfaces::FunctionInterface::function_flush_cluster(&redis, false).await?;
    engine.ready().await?;
    engine.create(new_session("walter")).await?;
    Ok(())
}

/// The key of `user`'s index (their only login index under the test's prefix).
fn index_key(ctx: &Ctx, keys: &[String]) -> anyhow::Result<String> {
    let mut indexes = keys.iter().filter(|k| k.contains("}:u:"));
    let (Some(index), None) = (indexes.next(), indexes.next()) else {
        anyhow::bail!("expected exactly one index key under {}", ctx.prefix);
    };
    Ok(index.clone())
}

/// A create Redis refuses (its user's index key holds a string, so the create's first
/// command fails) fails alone: the creates made beside it, which the engine sends in
/// one call when they queue together, are all created and readable, and nothing is
/// written for the refused one.
async fn a_create_redis_refuses_fails_alone(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    engine.create(new_session("blocked")).await?;
    let index = index_key(&ctx, &ctx.keys()?)?;
    let redis = ctx.redis().await?;
    let _: () = redis.del(index.as_str()).await?;
    let _: () = redis
        .set(index.as_str(), "not an index", None, None, false)
        .await?;
    let users: Vec<String> = (0..31)
        .map(|i| match i {
            15 => "blocked".to_owned(),
            i => format!("beside{i}"),
        })
        .collect();
    let results = join_all(users.iter().map(|u| engine.create(new_session(u)))).await;
    for (u, result) in users.iter().zip(results) {
        match (u.as_str(), result) {
            ("blocked", Err(Error::Backend(_))) => {}
            ("blocked", other) => anyhow::bail!("the refused create answered {other:?}"),
            (_, Ok(created)) => {
                let read = engine.get(&created.session_token, false).await?;
                ensure!(read.user_id.as_str() == u, "{u}'s session reads back");
            }
            (_, Err(e)) => anyhow::bail!("{u}'s create failed beside the refused one: {e}"),
        }
    }
    let records = ctx.keys()?.iter().filter(|k| k.contains("}:s:")).count();
    ensure!(
        records == 31,
        "{records} records: the first login and 30 beside"
    );
    let kept: Option<String> = redis.get(index.as_str()).await?;
    ensure!(kept.as_deref() == Some("not an index"));
    Ok(())
}

/// Inside one call of the create function, a login Redis refuses answers `fail` with
/// Redis's message and the login after it is still created.
async fn a_login_refused_inside_one_create_call_does_not_stop_the_next(ctx: Ctx) -> CaseResult {
    let engine = ctx.engine().await?;
    engine.create(new_session("alpha")).await?;
    let index = index_key(&ctx, &ctx.keys()?)?;
    // Both logins in alpha's bucket, so on a Cluster the call's keys share one slot.
    let base = &index[..index.find("}:u:").context("a bucket tag")? + 2];
    let redis = ctx.redis().await?;
    let listed: fred::types::Value =
        fred::interfaces::FunctionInterface::function_list(&redis, Some("sessiondb_*"), false)
            .await?;
    let function = strings(&listed)
        .into_iter()
        .find(|name| name.starts_with("sdb_") && name.ends_with("_create"))
        .context("the create function is listed")?;
    let refused = format!("{base}u:refused");
    let _: () = redis
        .set(refused.as_str(), "not an index", None, None, false)
        .await?;
    let login = |uh: &str, sid: &str| -> Vec<String> {
        [
            base,
            uh,
            uh,
            sid,
            "0123456789abcdef",
            "",
            "60000",
            "600000",
            "600000",
            "0",
            "5",
            "evict_lru",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let args = [login("refused", "sid-a"), login("accepted", "sid-b")].concat();
    let keys = vec![refused.clone(), format!("{base}u:accepted")];
    let reply: Vec<Vec<fred::types::Value>> = redis.fcall(function, keys, args).await?;
    let words = |i: usize| strings(&fred::types::Value::Array(reply[i].clone()));
    ensure!(reply.len() == 2, "one reply per login: {reply:?}");
    let failed = words(0);
    ensure!(
        failed.len() == 2 && failed[0] == "fail" && failed[1].starts_with("WRONGTYPE"),
        "{failed:?}"
    );
    ensure!(words(1).first().map(String::as_str) == Some("ok"));
    let exists = |sid: &str| {
        let key = format!("{base}s:{sid}");
        let redis = redis.clone();
        async move { redis.exists::<u64, _>(key).await }
    };
    ensure!(
        exists("sid-a").await? == 0,
        "nothing written for the refused login"
    );
    ensure!(
        exists("sid-b").await? == 1,
        "the login after it was created"
    );
    Ok(())
}

/// Every string inside `value`, depth first.
fn strings(value: &fred::types::Value) -> Vec<String> {
    match value {
        fred::types::Value::Array(items) => items.iter().flat_map(strings).collect(),
        fred::types::Value::Map(map) => map
            .iter()
            .flat_map(|(k, v)| k.as_str().map(str::to_owned).into_iter().chain(strings(v)))
            .collect(),
        other => other.as_string().into_iter().collect(),
    }
}
