//! Refresh-token rotation over HTTP.

use serde_json::Value;
use sessiondb_http::config::RateLimit;

use crate::helpers::{assert_problem, assert_timestamp, spawn_app, spawn_app_with};

#[tokio::test]
async fn refresh_rotates_both_tokens_and_keeps_the_session_id() {
    let app = spawn_app().await;
    let s = app.create_session("quinn").await;
    let response = app.refresh(&s.refresh_token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_ne!(body["refresh_token"], s.refresh_token.as_str());
    assert_eq!(
        body["session_id"],
        s.session_id.as_str(),
        "one device login"
    );
    assert_eq!(body["replayed"], false);
    assert_timestamp(&body["refresh_expires_at"]);
    let new_token = body["session_token"].as_str().expect("token");
    let read: Value = app.get_session(new_token).await.json().await.expect("json");
    assert_eq!(
        read["data"],
        serde_json::json!({"role": "member"}),
        "data carried over"
    );
    assert_problem(
        app.get_session(&s.session_token).await,
        404,
        "session_not_found",
    )
    .await;

    // A retry with the same token inside the grace window gets the same answer.
    let replay: Value = app
        .refresh(&s.refresh_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["refresh_token"], body["refresh_token"]);
    assert_eq!(replay["session_token"], body["session_token"]);
}

#[tokio::test]
async fn an_older_refresh_token_is_reuse_and_revokes_the_family() {
    let app = spawn_app().await;
    let s = app.create_session("rosa").await;
    let r1: Value = app
        .refresh(&s.refresh_token)
        .await
        .json()
        .await
        .expect("json");
    let r2: Value = app
        .refresh(r1["refresh_token"].as_str().expect("token"))
        .await
        .json()
        .await
        .expect("json");
    // The first token is two generations old: theft.
    assert_problem(app.refresh(&s.refresh_token).await, 400, "reuse_detected").await;
    assert_problem(
        app.get_session(r2["session_token"].as_str().expect("token"))
            .await,
        404,
        "session_not_found",
    )
    .await;
    assert_problem(
        app.refresh(r2["refresh_token"].as_str().expect("token"))
            .await,
        400,
        "reuse_detected",
    )
    .await;
    assert!(app
        .metrics_text()
        .await
        .contains("sessiondb_refresh_reuse_detected_total 1"));
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens() {
    let app = spawn_app().await;
    let s = app.create_session("sam").await;
    let mut forged = s.refresh_token.clone();
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_problem(app.refresh(&forged).await, 400, "invalid_grant").await;
    // The real family is unaffected by a forged token.
    assert_eq!(app.refresh(&s.refresh_token).await.status(), 200);

    let body = assert_problem(app.refresh("sdb_r1_nope").await, 422, "invalid_request").await;
    assert_eq!(body["field"], "refresh_token");
}

#[tokio::test]
async fn refresh_is_rate_limited_per_family() {
    let app = spawn_app_with(|http, _| {
        http.refresh_rate = RateLimit {
            per_minute: 1,
            burst: 2,
        };
    })
    .await;
    let s = app.create_session("tina").await;
    let other = app.create_session("tina").await;
    let r1: Value = app
        .refresh(&s.refresh_token)
        .await
        .json()
        .await
        .expect("json");
    let r1_token = r1["refresh_token"].as_str().expect("token");
    assert_eq!(app.refresh(r1_token).await.status(), 200);
    let limited = app.refresh(r1_token).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, "rate_limited").await;
    // Another family of the same user has its own bucket.
    assert_eq!(app.refresh(&other.refresh_token).await.status(), 200);
    assert!(app
        .metrics_text()
        .await
        .contains("sessiondb_rate_limited_total{limit=\"refresh\"} 1"));
}
