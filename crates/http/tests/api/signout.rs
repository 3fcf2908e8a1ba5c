//! Sign-out over HTTP reaches the whole device login: by a refresh token alone, by a
//! session token a refresh replaced; rotation retires the refresh token; listings page.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn revoke_by_refresh_token_ends_the_login_and_is_404_after() {
    let app = spawn_app().await;
    let s = app.create_session("ursula").await;
    let revoke = |token: String| {
        app.request(Method::POST, "/v1/refresh-tokens/revoke")
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let response = revoke(s.refresh_token.clone()).await.expect("request");
    assert_eq!(response.status(), 204);
    assert_problem(
        app.get_session(&s.session_token).await,
        404,
        "session_not_found",
    )
    .await;
    assert_problem(app.refresh(&s.refresh_token).await, 400, "invalid_grant").await;
    let again = revoke(s.refresh_token.clone()).await.expect("request");
    assert_problem(again, 404, "session_not_found").await;
    let malformed = revoke("sdb_s1_not-a-refresh-token".to_owned())
        .await
        .expect("request");
    assert_problem(malformed, 422, "invalid_request").await;
}

#[tokio::test]
async fn delete_current_with_a_replaced_session_token_ends_the_family() {
    let app = spawn_app().await;
    let s = app.create_session("victor").await;
    let refreshed: Value = app
        .refresh(&s.refresh_token)
        .await
        .json()
        .await
        .expect("json");
    let response = app.delete_session(&s.session_token).await;
    assert_eq!(response.status(), 204, "the replaced token still signs out");
    let next = refreshed["refresh_token"].as_str().expect("token");
    assert_problem(app.refresh(next).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn rotate_returns_a_new_refresh_token_and_retires_the_old_one() {
    let app = spawn_app().await;
    let s = app.create_session("wendy").await;
    let rotated: Value = app
        .rotate(&s.session_token)
        .await
        .json()
        .await
        .expect("json");
    let new_refresh = rotated["refresh_token"].as_str().expect("refresh token");
    assert_ne!(new_refresh, s.refresh_token);
    assert_problem(app.refresh(&s.refresh_token).await, 400, "reuse_detected").await;
    assert_problem(app.refresh(new_refresh).await, 400, "reuse_detected").await;
}

#[tokio::test]
async fn listings_come_in_pages_with_a_cursor() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.create_session("xena").await;
    }
    let page = |query: String| {
        app.request(Method::GET, &format!("/v1/users/xena/sessions{query}"))
            .send()
    };
    let first: Value = page("?limit=2".to_owned())
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(first["sessions"].as_array().expect("array").len(), 2);
    let mut seen: Vec<String> = Vec::new();
    let mut body = first;
    loop {
        for s in body["sessions"].as_array().expect("array") {
            seen.push(s["session_id"].as_str().expect("id").to_owned());
        }
        let Some(cursor) = body["next_cursor"].as_str() else {
            break;
        };
        body = page(format!("?limit=2&cursor={cursor}"))
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every session on exactly one page: {seen:?}");
    let bad = page("?cursor=abc".to_owned()).await.expect("request");
    assert_problem(bad, 422, "invalid_request").await;
    let too_big = page("?limit=1001".to_owned()).await.expect("request");
    assert!(too_big.status().is_client_error(), "{}", too_big.status());
}
