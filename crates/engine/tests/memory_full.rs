//! A Redis that is out of memory (`maxmemory` reached under `noeviction`) refuses a new
//! login whole, with a retryable error and nothing written, while reads, sign-outs and
//! "sign out everywhere" still work: the functions that only delete are `allow-oom`
//! (ADR 0006), and a read whose touch is refused serves the session without sliding it.

#![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

use std::time::Duration;

use sessiondb_engine::{
    ConnectionConfig, Engine, EngineConfig, Error, NewSession, SessionPolicy, UserId,
};
use sessiondb_local::{RedisOptions, RedisServer};

fn login(user: &str) -> NewSession {
    let mut data = serde_json::Map::new();
    data.insert("role".into(), "member".into());
    NewSession {
        user_id: UserId::parse(user).unwrap(),
        data,
        metadata: Default::default(),
        idle_ttl: None,
    }
}

#[tokio::test]
async fn a_full_redis_refuses_new_logins_but_lets_users_sign_out() {
    let redis = RedisServer::start(RedisOptions::default()).unwrap();
    let mut connection = ConnectionConfig::standalone(redis.host(), redis.port());
    connection.command_timeout = Duration::from_secs(2);
    // Every read with touch slides the idle expiry, so every such read runs a write.
    let config = EngineConfig {
        session: SessionPolicy {
            touch_interval: Duration::ZERO,
            ..EngineConfig::default().session
        },
        ..EngineConfig::default()
    };
    let engine = Engine::connect(&connection, config).await.unwrap();
    let kept = engine.create(login("ada")).await.unwrap();
    let signed_out = engine.create(login("ada")).await.unwrap();
    let elsewhere = engine.create(login("bob")).await.unwrap();
    engine.flush_events().await;
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "maxmemory-policy"]).unwrap(),
        "maxmemory-policy\nnoeviction"
    );
    let keys = redis.cli(&["DBSIZE"]).unwrap();

    redis.cli(&["CONFIG", "SET", "maxmemory", "1"]).unwrap();
    let refused = engine.create(login("carol")).await.unwrap_err();
    let cause = std::error::Error::source(&refused).map(ToString::to_string);
    assert!(refused.is_retryable(), "{refused:?}");
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("OOM")),
        "refused for another reason: {cause:?}"
    );
    assert_eq!(
        redis.cli(&["DBSIZE"]).unwrap(),
        keys,
        "a refused login wrote nothing"
    );

    engine.get(&kept.session_token, false).await.unwrap();
    let served = engine.get(&kept.session_token, true).await.unwrap();
    assert_eq!(
        served.times.expires_at, kept.times.expires_at,
        "served, not slid"
    );
    engine.revoke(&signed_out.session_token).await.unwrap();
    assert!(matches!(
        engine.get(&signed_out.session_token, false).await,
        Err(Error::SessionNotFound)
    ));
    let bob = UserId::parse("bob").unwrap();
    engine.revoke_all(&bob, None).await.unwrap();
    assert!(matches!(
        engine.get(&elsewhere.session_token, false).await,
        Err(Error::SessionNotFound)
    ));

    redis.cli(&["CONFIG", "SET", "maxmemory", "0"]).unwrap();
    engine.create(login("carol")).await.unwrap();
    engine.get(&kept.session_token, false).await.unwrap();
    engine.shutdown().await.unwrap();
}
