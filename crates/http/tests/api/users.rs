//! Per-user administration: list, revoke all (optionally but one), revoke one.

use serde_json::{json, Value};

use crate::helpers::{assert_problem, assert_timestamp, spawn_app};

#[tokio::test]
async fn list_returns_live_sessions_with_metadata_and_never_tokens() {
    let app = spawn_app().await;
    let a = app
        .create_session_with(json!({"user_id": "jane", "metadata": {"device": "phone"}}))
        .await;
    assert_eq!(a.status(), 201);
    let b = app.create_session("jane").await;
    app.create_session("someone-else").await;
    assert_eq!(app.delete_session(&b.session_token).await.status(), 204);

    let response = app.list_sessions("jane").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        !text.contains("sdb_s1_") && !text.contains("sdb_r1_"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).expect("json");
    let sessions = body["sessions"].as_array().expect("array");
    assert_eq!(sessions.len(), 1, "{body}");
    assert_eq!(sessions[0]["metadata"], json!({"device": "phone"}));
    assert_timestamp(&sessions[0]["last_seen_at"]);
    assert!(sessions[0].get("data").is_none());

    let empty: Value = app
        .list_sessions("nobody")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(empty, json!({"sessions": []}));
}

#[tokio::test]
async fn revoke_all_except_one_keeps_it_and_reports_what_was_revoked() {
    let app = spawn_app().await;
    let keep = app.create_session("kate").await;
    let gone1 = app.create_session("kate").await;
    let gone2 = app.create_session("kate").await;
    let response = app.revoke_all("kate", Some(&keep.session_id)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let mut revoked: Vec<String> =
        serde_json::from_value(body["revoked_session_ids"].clone()).expect("ids");
    revoked.sort();
    let mut expected = vec![gone1.session_id.clone(), gone2.session_id.clone()];
    expected.sort();
    assert_eq!(revoked, expected);
    assert_eq!(body["revoked_families"], 2);
    assert_eq!(app.get_session(&keep.session_token).await.status(), 200);
    assert_problem(
        app.get_session(&gone1.session_token).await,
        404,
        "session_not_found",
    )
    .await;
    assert_problem(
        app.refresh(&gone2.refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;

    let all: Value = app
        .revoke_all("kate", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(all["revoked_session_ids"], json!([keep.session_id]));
}

#[tokio::test]
async fn revoke_one_by_id_is_204_then_404() {
    let app = spawn_app().await;
    let s = app.create_session("liam").await;
    assert_eq!(app.revoke_one("liam", &s.session_id).await.status(), 204);
    assert_problem(
        app.get_session(&s.session_token).await,
        404,
        "session_not_found",
    )
    .await;
    assert_problem(
        app.revoke_one("liam", &s.session_id).await,
        404,
        "session_not_found",
    )
    .await;
}

#[tokio::test]
async fn invalid_path_and_query_values_are_422_naming_them() {
    let app = spawn_app().await;
    let long_user = "u".repeat(300);
    let body = assert_problem(app.list_sessions(&long_user).await, 422, "invalid_request").await;
    assert_eq!(body["field"], "user_id");
    let body = assert_problem(app.revoke_one("mia", "nope").await, 422, "invalid_request").await;
    assert_eq!(body["field"], "session_id");
    let body = assert_problem(
        app.revoke_all("mia", Some("nope")).await,
        422,
        "invalid_request",
    )
    .await;
    assert_eq!(body["field"], "except");
    let unknown_param = app
        .request(reqwest::Method::DELETE, "/v1/users/mia/sessions?exept=x")
        .send()
        .await
        .expect("request");
    assert_problem(unknown_param, 400, "invalid_request").await;
    let bad_escape = app
        .request(reqwest::Method::GET, "/v1/users/%FF%FE/sessions")
        .send()
        .await
        .expect("request");
    assert_problem(bad_escape, 400, "invalid_request").await;
}
