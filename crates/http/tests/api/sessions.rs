//! The caller's own session: create, read, update, revoke, rotate.

use serde_json::{json, Value};
use sessiondb_engine::CapPolicy;

use crate::helpers::{assert_problem, assert_timestamp, raw_request, spawn_app, spawn_app_with};

#[tokio::test]
async fn create_returns_201_with_tokens_etag_and_rfc3339_timestamps() {
    let app = spawn_app().await;
    let response = app
        .create_session_with(json!({
            "user_id": "alice",
            "data": {"role": "member"},
            "metadata": {"ip": "203.0.113.7", "user_agent": "test/1.0", "device": "laptop"},
            "idle_ttl_seconds": 600
        }))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let body: Value = response.json().await.expect("json");
    assert!(body["session_token"]
        .as_str()
        .unwrap_or_default()
        .starts_with("sdb_s1_"));
    assert!(body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .starts_with("sdb_r1_"));
    assert_eq!(body["user_id"], "alice");
    assert_eq!(body["version"], 1);
    assert_eq!(body["evicted_session_ids"], json!([]));
    for field in [
        "created_at",
        "last_seen_at",
        "expires_at",
        "absolute_expires_at",
        "refresh_expires_at",
    ] {
        assert_timestamp(&body[field]);
    }
    assert_eq!(body["created_at"], body["last_seen_at"]);
}

#[tokio::test]
async fn get_returns_the_session_with_its_etag_data_and_metadata() {
    let app = spawn_app().await;
    let created: Value = app
        .create_session_with(json!({
            "user_id": "bob",
            "data": {"cart": [1, 2]},
            "metadata": {"device": "phone"}
        }))
        .await
        .json()
        .await
        .expect("json");
    let token = created["session_token"].as_str().expect("token");
    let response = app.get_session(token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["session_id"], created["session_id"]);
    assert_eq!(body["user_id"], "bob");
    assert_eq!(body["data"], json!({"cart": [1, 2]}));
    assert_eq!(body["metadata"], json!({"device": "phone"}));
    assert_eq!(body["version"], 1);
    assert!(
        body.get("session_token").is_none(),
        "a read never returns tokens"
    );
    assert_timestamp(&body["expires_at"]);

    let untouched = app
        .request(reqwest::Method::GET, "/v1/sessions/current?touch=false")
        .header("X-Session-Token", token)
        .send()
        .await
        .expect("request");
    assert_eq!(untouched.status(), 200);
}

#[tokio::test]
async fn session_token_header_problems_are_400_naming_the_header() {
    let app = spawn_app().await;
    let missing = app
        .request(reqwest::Method::GET, "/v1/sessions/current")
        .send()
        .await
        .expect("request");
    let body = assert_problem(missing, 400, "invalid_request").await;
    assert_eq!(body["field"], "X-Session-Token");

    let malformed = app.get_session("not-a-token").await;
    let body = assert_problem(malformed, 400, "invalid_request").await;
    assert_eq!(body["field"], "X-Session-Token");

    let overlong = app.get_session(&"a".repeat(600)).await;
    assert_problem(overlong, 400, "invalid_request").await;
}

#[tokio::test]
async fn unknown_or_revoked_token_is_404_session_not_found() {
    let app = spawn_app().await;
    let created = app.create_session("carol").await;
    // Same shape, different secret: matches nothing.
    let mut forged = created.session_token.clone();
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_problem(app.get_session(&forged).await, 404, "session_not_found").await;

    assert_eq!(
        app.delete_session(&created.session_token).await.status(),
        204
    );
    assert_problem(
        app.get_session(&created.session_token).await,
        404,
        "session_not_found",
    )
    .await;
    assert_problem(
        app.delete_session(&created.session_token).await,
        404,
        "session_not_found",
    )
    .await;
}

#[tokio::test]
async fn put_replaces_data_and_bumps_version_and_etag() {
    let app = spawn_app().await;
    let s = app.create_session("dave").await;
    assert_eq!((s.user_id.as_str(), s.version), ("dave", 1));
    let response = app
        .put_data(&s.session_token, json!({"role": "admin"}), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["version"], 2);
    assert_eq!(body["session_id"], s.session_id.as_str());
    let read: Value = app
        .get_session(&s.session_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["data"], json!({"role": "admin"}));
}

#[tokio::test]
async fn if_match_mismatch_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let s = app.create_session("erin").await;
    let ok = app
        .put_data(&s.session_token, json!({"step": 1}), Some("\"1\""))
        .await;
    assert_eq!(ok.status(), 200);
    let stale = app
        .put_data(&s.session_token, json!({"step": 99}), Some("\"1\""))
        .await;
    let body = assert_problem(stale, 412, "version_conflict").await;
    assert!(
        body["detail"].as_str().unwrap_or_default().contains('2'),
        "{body}"
    );
    let stale_patch = app
        .patch_data(&s.session_token, json!({"step": 99}), Some("\"1\""))
        .await;
    assert_problem(stale_patch, 412, "version_conflict").await;
    let read: Value = app
        .get_session(&s.session_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["data"], json!({"step": 1}));
    assert_eq!(read["version"], 2);

    let wildcard = app
        .put_data(&s.session_token, json!({"step": 3}), Some("*"))
        .await;
    assert_eq!(wildcard.status(), 200);
    let malformed = app
        .put_data(&s.session_token, json!({"step": 4}), Some("W/\"3\""))
        .await;
    let body = assert_problem(malformed, 400, "invalid_request").await;
    assert_eq!(body["field"], "If-Match");
}

#[tokio::test]
async fn patch_merges_a_merge_patch_and_rejects_non_objects() {
    let app = spawn_app().await;
    let s = app.create_session("frank").await;
    app.put_data(
        &s.session_token,
        json!({"a": 1, "b": {"c": 2, "d": 3}}),
        None,
    )
    .await;
    let response = app
        .patch_data(
            &s.session_token,
            json!({"a": null, "b": {"c": 5}}),
            Some("\"2\""),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"3\"");
    let read: Value = app
        .get_session(&s.session_token)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["data"], json!({"b": {"c": 5, "d": 3}}));

    let as_json = app
        .request(reqwest::Method::PATCH, "/v1/sessions/current")
        .header("X-Session-Token", &s.session_token)
        .json(&json!({"e": true}))
        .send()
        .await
        .expect("request");
    assert_eq!(as_json.status(), 200, "application/json is accepted too");

    let array = app.patch_data(&s.session_token, json!([1, 2]), None).await;
    assert_problem(array, 422, "invalid_request").await;
}

#[tokio::test]
async fn rotate_issues_a_new_token_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let s = app.create_session("grace").await;
    let response = app.rotate(&s.session_token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let new_token = body["session_token"].as_str().expect("token");
    assert_ne!(new_token, s.session_token);
    assert_timestamp(&body["expires_at"]);
    assert_problem(
        app.get_session(&s.session_token).await,
        404,
        "session_not_found",
    )
    .await;
    let read: Value = app.get_session(new_token).await.json().await.expect("json");
    assert_eq!(read["session_id"], s.session_id.as_str());
}

#[tokio::test]
async fn field_validation_is_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"user_id": ""}), "user_id"),
        (json!({"user_id": "x".repeat(257)}), "user_id"),
        (json!({"user_id": "a\u{7}b"}), "user_id"),
        (json!({"user_id": 42}), "user_id"),
        (json!({}), "user_id"),
        (
            json!({"user_id": "u", "metadata": {"user_agent": "x".repeat(513)}}),
            "metadata.user_agent",
        ),
        (
            json!({"user_id": "u", "metadata": {"device": "x".repeat(129)}}),
            "metadata.device",
        ),
        (
            json!({"user_id": "u", "metadata": {"ip": "not-an-ip"}}),
            "metadata.ip",
        ),
        (
            json!({"user_id": "u", "idle_ttl_seconds": 1}),
            "idle_ttl_seconds",
        ),
        (
            json!({"user_id": "u", "idle_ttl_seconds": -5}),
            "idle_ttl_seconds",
        ),
        (json!({"user_id": "u", "data": [1]}), "data"),
        (json!({"user_id": "u", "userid": "typo"}), "userid"),
    ];
    for (body, field) in cases {
        let response = app.create_session_with(body.clone()).await;
        let problem = assert_problem(response, 422, "invalid_request").await;
        assert_eq!(problem["field"], field, "{body} -> {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "detail names the field: {problem}"
        );
    }
    let problem = assert_problem(
        app.create_session_with(json!({"user_id": ""})).await,
        422,
        "invalid_request",
    )
    .await;
    assert_eq!(problem["detail"], "user_id must be 1-256 bytes of UTF-8");
}

#[tokio::test]
async fn malformed_json_and_wrong_content_type_are_400() {
    let app = spawn_app().await;
    let not_json = app
        .request(reqwest::Method::POST, "/v1/sessions")
        .header("Content-Type", "application/json")
        .body("{\"user_id\": ")
        .send()
        .await
        .expect("request");
    assert_problem(not_json, 400, "invalid_request").await;
    let text = app
        .request(reqwest::Method::POST, "/v1/sessions")
        .header("Content-Type", "text/plain")
        .body("{\"user_id\": \"u\"}")
        .send()
        .await
        .expect("request");
    let body = assert_problem(text, 400, "invalid_request").await;
    assert_eq!(body["field"], "Content-Type");
}

#[tokio::test]
async fn oversized_bodies_and_data_are_413() {
    let app = spawn_app_with(|http, _| http.max_body_bytes = 4096).await;
    let big = json!({"user_id": "u", "data": {"blob": "x".repeat(8000)}});
    assert_problem(app.create_session_with(big).await, 413, "payload_too_large").await;

    // Data over the engine's limit inside a body under the HTTP limit.
    let app = spawn_app_with(|_, engine| engine.session.max_data_bytes = 100).await;
    let over = json!({"user_id": "u", "data": {"blob": "x".repeat(200)}});
    let body = assert_problem(
        app.create_session_with(over).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(body["field"], "data");
}

#[tokio::test]
async fn streamed_body_over_the_limit_is_413() {
    let app = spawn_app_with(|http, _| http.max_body_bytes = 1024).await;
    // Chunked, no Content-Length: the limit is enforced while reading.
    let mut request = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n",
        app.keys.all
    )
    .into_bytes();
    let body = format!(
        "{{\"user_id\":\"u\",\"data\":{{\"x\":\"{}\"}}}}",
        "a".repeat(4096)
    );
    for chunk in body.as_bytes().chunks(512) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let response = raw_request(&app.address, &request).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{response}"
    );
}

#[tokio::test]
async fn cap_policy_reject_is_409_and_evict_lru_names_the_evicted_session() {
    let app = spawn_app_with(|_, engine| {
        engine.session.max_per_user = 1;
        engine.session.cap_policy = CapPolicy::Reject;
    })
    .await;
    app.create_session("henry").await;
    let second = app.create_session_with(json!({"user_id": "henry"})).await;
    assert_problem(second, 409, "session_limit_reached").await;

    let app = spawn_app_with(|_, engine| engine.session.max_per_user = 1).await;
    let first = app.create_session("iris").await;
    let second = app.create_session("iris").await;
    assert_eq!(second.evicted_session_ids, vec![first.session_id]);
    assert_problem(
        app.get_session(&first.session_token).await,
        404,
        "session_not_found",
    )
    .await;
}
