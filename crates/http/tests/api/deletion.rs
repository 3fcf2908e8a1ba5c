//! Deletion tokens: issue with `sessions:admin`, redeem with nothing but the token.

use serde_json::{json, Value};
use sessiondb_http::config::RateLimit;

use crate::helpers::{assert_problem, assert_timestamp, spawn_app, spawn_app_with, TestApp};

#[tokio::test]
async fn user_scope_token_revokes_everything_once_then_is_spent() {
    let app = spawn_app().await;
    let a = app.create_session("nina").await;
    let b = app.create_session("nina").await;
    let response = app
        .issue_deletion_token("nina", json!({"scope": "user"}))
        .await;
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.expect("json");
    let token = issued["deletion_token"].as_str().expect("token");
    assert!(token.starts_with("sdb_d1_"));
    assert_timestamp(&issued["expires_at"]);

    let response = app.redeem(token, None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["scope"], "user");
    assert_eq!(body["user_id"], "nina");
    assert_eq!(body["revoked_families"], 2);
    let mut revoked: Vec<String> =
        serde_json::from_value(body["revoked_session_ids"].clone()).expect("ids");
    revoked.sort();
    let mut expected = vec![a.session_id, b.session_id];
    expected.sort();
    assert_eq!(revoked, expected);
    assert_problem(
        app.get_session(&a.session_token).await,
        404,
        "session_not_found",
    )
    .await;

    assert_problem(app.redeem(token, None).await, 410, "token_spent").await;
}

#[tokio::test]
async fn session_scope_token_revokes_just_that_session() {
    let app = spawn_app().await;
    let keep = app.create_session("oscar").await;
    let target = app.create_session("oscar").await;
    let issued: Value = app
        .issue_deletion_token(
            "oscar",
            json!({"scope": "session", "session_id": target.session_id}),
        )
        .await
        .json()
        .await
        .expect("json");
    let body: Value = app
        .redeem(issued["deletion_token"].as_str().expect("token"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["scope"], "session");
    assert_eq!(body["revoked_session_ids"], json!([target.session_id]));
    assert_eq!(app.get_session(&keep.session_token).await.status(), 200);
}

#[tokio::test]
async fn issue_validates_scope_and_session_id() {
    let app = spawn_app().await;
    let s = app.create_session("paul").await;
    let cases = [
        (json!({"scope": "session"}), "session_id"),
        (
            json!({"scope": "user", "session_id": s.session_id}),
            "session_id",
        ),
        (json!({"scope": "device"}), "scope"),
        (
            json!({"scope": "session", "session_id": "short"}),
            "session_id",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_problem(
            app.issue_deletion_token("paul", body.clone()).await,
            422,
            "invalid_request",
        )
        .await;
        assert_eq!(problem["field"], field, "{body}");
    }
    assert_eq!(app.revoke_one("paul", &s.session_id).await.status(), 204);
    let gone = app
        .issue_deletion_token(
            "paul",
            json!({"scope": "session", "session_id": s.session_id}),
        )
        .await;
    assert_problem(gone, 404, "session_not_found").await;
}

#[tokio::test]
async fn unknown_and_malformed_tokens() {
    let app = spawn_app().await;
    let unknown = format!("sdb_d1_0a1{}{}", "x".repeat(22), "y".repeat(43));
    assert_problem(app.redeem(&unknown, None).await, 404, "token_not_found").await;
    let body = assert_problem(
        app.redeem("sdb_d1_short", None).await,
        422,
        "invalid_request",
    )
    .await;
    assert_eq!(body["field"], "deletion_token");
}

/// A token that is well-formed but unknown: each redemption is a 404 that costs one
/// attempt.
fn unknown_token() -> String {
    format!("sdb_d1_0a1{}{}", "x".repeat(22), "y".repeat(43))
}

/// Spawns the app with a redeem limit of `burst` attempts (refilled once a minute),
/// behind proxies at `trusted_proxies` (the test client connects from 127.0.0.1).
async fn spawn_limited(burst: u32, trusted_proxies: &[&str]) -> TestApp {
    let trusted_proxies = trusted_proxies
        .iter()
        .map(|net| net.parse().expect("network"))
        .collect();
    spawn_app_with(|http, _| {
        http.redeem_rate = RateLimit {
            per_minute: 1,
            burst,
        };
        http.trusted_proxies = trusted_proxies;
    })
    .await
}

#[tokio::test]
async fn redeem_is_rate_limited_per_client_address() {
    let app = spawn_limited(3, &["127.0.0.1/32"]).await;
    let token = unknown_token();
    for _ in 0..3 {
        let response = app.redeem(&token, Some("198.51.100.1")).await;
        assert_eq!(response.status(), 404);
    }
    // A spoofed leftmost entry does not choose the bucket: the rightmost hop the proxy
    // did not add itself does.
    let limited = app.redeem(&token, Some("203.0.113.66, 198.51.100.1")).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(limited, 429, "rate_limited").await;
    // Malformed bodies count too: the limit comes before the body is read.
    assert_problem(
        app.redeem("garbage", Some("198.51.100.1")).await,
        429,
        "rate_limited",
    )
    .await;
    // Another client address has its own bucket.
    assert_eq!(app.redeem(&token, Some("198.51.100.2")).await.status(), 404);
    assert!(app
        .metrics_text()
        .await
        .contains("sessiondb_rate_limited_total{limit=\"redeem\"} 2"));
}

#[tokio::test]
async fn trusted_hops_are_skipped_and_garbage_falls_back_to_the_last_trusted_one() {
    let app = spawn_limited(1, &["127.0.0.1/32", "10.0.0.0/8"]).await;
    let token = unknown_token();
    // 10.1.2.3 is a trusted proxy in the chain: 198.51.100.1 is the client.
    assert_eq!(
        app.redeem(&token, Some("198.51.100.1, 10.1.2.3"))
            .await
            .status(),
        404
    );
    assert_problem(
        app.redeem(&token, Some("203.0.113.66, 198.51.100.1")).await,
        429,
        "rate_limited",
    )
    .await;
    // An entry that is no address stops the walk at the last trusted hop (10.1.2.3),
    // whatever is written left of it.
    assert_eq!(
        app.redeem(&token, Some("198.51.100.7, not-an-ip, 10.1.2.3"))
            .await
            .status(),
        404
    );
    assert_problem(
        app.redeem(&token, Some("198.51.100.8, unknown, 10.1.2.3"))
            .await,
        429,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    for trusted in [&[][..], &["10.0.0.0/8", "::1/128"][..]] {
        let app = spawn_limited(1, trusted).await;
        let token = unknown_token();
        assert_eq!(app.redeem(&token, Some("198.51.100.1")).await.status(), 404);
        // A different claimed address does not escape the peer's bucket.
        assert_problem(
            app.redeem(&token, Some("198.51.100.2")).await,
            429,
            "rate_limited",
        )
        .await;
        assert_problem(app.redeem(&token, None).await, 429, "rate_limited").await;
    }
}

#[tokio::test]
async fn ipv6_clients_share_a_bucket_per_64() {
    let app = spawn_limited(1, &["127.0.0.1/32"]).await;
    let token = unknown_token();
    assert_eq!(
        app.redeem(&token, Some("2001:db8:1:2::1")).await.status(),
        404
    );
    // Another address in the same /64 (as a host picks freely) draws from that bucket.
    assert_problem(
        app.redeem(&token, Some("2001:db8:1:2:a:b:c:d")).await,
        429,
        "rate_limited",
    )
    .await;
    // The neighbouring /64 is another client.
    assert_eq!(
        app.redeem(&token, Some("2001:db8:1:3::1")).await.status(),
        404
    );
    // An IPv4-mapped IPv6 address is its IPv4 address.
    assert_eq!(app.redeem(&token, Some("198.51.100.9")).await.status(), 404);
    assert_problem(
        app.redeem(&token, Some("::ffff:198.51.100.9")).await,
        429,
        "rate_limited",
    )
    .await;
}
