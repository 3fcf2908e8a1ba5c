//! The API contract as a client author reads it in `docs/api.md`: concurrent merges are
//! never lost, bodies and nested objects must be JSON objects, bad path encoding is a
//! 400, numbers in `data` come back exactly as written, and the member name that carries
//! them is refused.

use std::collections::BTreeSet;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, raw_request, spawn_app, TestApp};

/// Concurrent `PATCH`es without `If-Match`, each adding its own key.
const CONCURRENT_MERGES: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unconditioned_merges_all_succeed_and_are_all_applied() {
    let app = spawn_app().await;
    let s = app.create_session("merge-crowd").await;
    let patches = (0..CONCURRENT_MERGES).map(|i| {
        let app = &app;
        let token = s.session_token.clone();
        async move {
            let response = app
                .patch_data(&token, json!({ format!("k{i}"): i }), None)
                .await;
            let status = response.status().as_u16();
            (i, status, response.text().await.unwrap_or_default())
        }
    });
    let results = join_all(patches).await;
    let failed: Vec<_> = results.iter().filter(|(_, s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "merges without If-Match failed: {failed:?}"
    );

    let read: Value = app
        .get_session(&s.session_token)
        .await
        .json()
        .await
        .expect("json");
    let data = read["data"].as_object().expect("data object");
    let keys: BTreeSet<&str> = data.keys().map(String::as_str).collect();
    for i in 0..CONCURRENT_MERGES {
        assert!(
            keys.contains(format!("k{i}").as_str()),
            "k{i} was lost: {keys:?}"
        );
    }
    // role (from create) plus one key per merge; version 1 plus one per merge.
    assert_eq!(data.len(), CONCURRENT_MERGES + 1, "{read}");
    assert_eq!(read["version"], json!(CONCURRENT_MERGES as u64 + 1));

    // A conditioned merge naming a stale version still fails and changes nothing.
    let stale = app
        .patch_data(&s.session_token, json!({"late": true}), Some("\"1\""))
        .await;
    assert_problem(stale, 412, "version_conflict").await;
}

async fn post_raw(app: &TestApp, path: &str, body: &str) -> reqwest::Response {
    app.request(Method::POST, path)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

/// `PUT /v1/sessions/current` with `body` sent as written (not through a parsed value,
/// which would change exact numbers and reserved member names).
async fn put_raw(app: &TestApp, token: &str, body: &str) -> reqwest::Response {
    app.with_token(Method::PUT, "/v1/sessions/current", token)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

/// `PATCH /v1/sessions/current` with the merge patch `body` sent as written.
async fn patch_raw(app: &TestApp, token: &str, body: &str) -> reqwest::Response {
    app.with_token(Method::PATCH, "/v1/sessions/current", token)
        .header("Content-Type", "application/merge-patch+json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

/// Numbers as sent and as returned: an f64 round trip changes the first two, the next
/// two do not fit 64 bits; only the exponent's spelling is normalised.
const NUMBERS: [(&str, &str); 8] = [
    ("123456789.12345679", "123456789.12345679"),
    ("-2.54918626616217e-231", "-2.54918626616217e-231"),
    (
        "123456789012345678901234567890",
        "123456789012345678901234567890",
    ),
    ("-98765432109876543210", "-98765432109876543210"),
    ("1.0", "1.0"),
    ("-0", "-0"),
    ("1E+2", "1e+2"),
    ("25E2", "25e+2"),
];

fn data_with_numbers() -> String {
    let members: Vec<String> = NUMBERS
        .iter()
        .enumerate()
        .map(|(i, (sent, _))| format!("\"n{i}\": {sent}"))
        .collect();
    format!("{{{}}}", members.join(", "))
}

fn assert_numbers_exact(text: &str) {
    for (i, (sent, returned)) in NUMBERS.iter().enumerate() {
        assert!(
            text.contains(&format!("\"n{i}\":{returned}")),
            "n{i} = {sent} changed: {text}"
        );
    }
}

#[tokio::test]
async fn numbers_in_data_round_trip_exactly() {
    let app = spawn_app().await;
    let data = data_with_numbers();
    let created = post_raw(
        &app,
        "/v1/sessions",
        &format!(r#"{{"user_id": "numbers", "data": {data}}}"#),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let token = created["session_token"].as_str().expect("token").to_owned();
    let read = app.get_session(&token).await.text().await.expect("body");
    assert_numbers_exact(&read);

    let put = put_raw(&app, &token, &format!(r#"{{"data": {data}}}"#)).await;
    assert_eq!(put.status(), 200);
    assert_numbers_exact(&app.get_session(&token).await.text().await.expect("body"));

    // A merge rewrites the whole object: the untouched numbers must survive it, and
    // the patched ones arrive exactly.
    let patch = patch_raw(
        &app,
        &token,
        r#"{"extra": 0.1000000000000000055511151231257827}"#,
    )
    .await;
    assert_eq!(patch.status(), 200);
    let read = app.get_session(&token).await.text().await.expect("body");
    assert_numbers_exact(&read);
    assert!(
        read.contains("\"extra\":0.1000000000000000055511151231257827"),
        "{read}"
    );
}

/// serde_json's member name for an exact number carried through a map.
const RESERVED: &str = "$serde_json::private::Number";

#[tokio::test]
async fn data_with_the_reserved_number_member_among_others_is_refused_on_every_write() {
    let app = spawn_app().await;
    let nested = format!(r#"{{"x": {{"a": 1, "{RESERVED}": "1"}}}}"#);
    let top = format!(r#"{{"a": 1, "{RESERVED}": "12"}}"#);
    let in_array = format!(r#"{{"l": [{{"b": 2, "{RESERVED}": "3"}}]}}"#);
    for data in [&nested, &top, &in_array] {
        let created = post_raw(
            &app,
            "/v1/sessions",
            &format!(r#"{{"user_id": "reserved", "data": {data}}}"#),
        )
        .await;
        let problem = assert_problem(created, 422, "invalid_request").await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(RESERVED)),
            "{data}: {problem}"
        );
    }

    // Alone in its object the member is the number its string holds, as documented.
    let created = post_raw(
        &app,
        "/v1/sessions",
        &format!(r#"{{"user_id": "reserved", "data": {{"x": {{"{RESERVED}": "1e2"}}}}}}"#),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let token = created["session_token"].as_str().expect("token").to_owned();
    let read = app.get_session(&token).await.text().await.expect("body");
    assert!(read.contains(r#""data":{"x":1e+2}"#), "{read}");

    let put = put_raw(&app, &token, &format!(r#"{{"data": {nested}}}"#)).await;
    assert_problem(put, 422, "invalid_request").await;
    let patch = patch_raw(&app, &token, &in_array).await;
    assert_problem(patch, 422, "invalid_request").await;

    // Nothing was written: the data is as created, and a merge still works on it.
    let patch = patch_raw(&app, &token, r#"{"y": true}"#).await;
    assert_eq!(patch.status(), 200);
    let read = app.get_session(&token).await.text().await.expect("body");
    assert!(read.contains(r#""data":{"x":1e+2,"y":true}"#), "{read}");
}

#[tokio::test]
async fn bodies_and_nested_objects_must_be_json_objects() {
    let app = spawn_app().await;
    let s = app.create_session("shape").await;
    let issued: Value = app
        .issue_deletion_token("shape", json!({"scope": "user"}))
        .await
        .json()
        .await
        .expect("json");
    let deletion_token = issued["deletion_token"].as_str().expect("token").to_owned();

    // Arrays (and other non-objects) where the document says `type: object`.
    let top_level = [
        ("/v1/sessions", r#"["array-user", {}, {}, 600]"#.to_owned()),
        ("/v1/sessions", "\"user\"".to_owned()),
        ("/v1/sessions", "42".to_owned()),
        (
            "/v1/users/shape/deletion-tokens",
            r#"["user", null]"#.to_owned(),
        ),
        (
            "/v1/deletion-tokens/redeem",
            format!(r#"["{deletion_token}"]"#),
        ),
        (
            "/v1/sessions/refresh",
            format!(r#"["{}"]"#, s.refresh_token),
        ),
    ];
    for (path, body) in &top_level {
        let problem =
            assert_problem(post_raw(&app, path, body).await, 422, "invalid_request").await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("JSON object")),
            "{path} {body}: {problem}"
        );
    }
    let put = put_raw(&app, &s.session_token, r#"[{"role": "admin"}]"#).await;
    assert_problem(put, 422, "invalid_request").await;

    let nested = [
        r#"{"user_id": "a", "metadata": ["203.0.113.7", "UA", "dev"]}"#,
        r#"{"user_id": "a", "metadata": [null, null, null, null]}"#,
        r#"{"metadata": [null, null, null, null]}"#,
        r#"{"user_id": "a", "metadata": "dev"}"#,
    ];
    for body in nested {
        let problem = assert_problem(
            post_raw(&app, "/v1/sessions", body).await,
            422,
            "invalid_request",
        )
        .await;
        assert_eq!(problem["field"], "metadata", "{body}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("metadata: ")),
            "{body}: {problem}"
        );
    }
    let scope_as_object = app
        .issue_deletion_token("shape", json!({"scope": {"user": null}}))
        .await;
    let problem = assert_problem(scope_as_object, 422, "invalid_request").await;
    assert_eq!(problem["field"], "scope", "{problem}");

    // Nothing was created, issued or redeemed by any of these.
    let listed: Value = app
        .list_sessions("array-user")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed, json!({"sessions": []}));
    let listed: Value = app.list_sessions("a").await.json().await.expect("json");
    assert_eq!(listed, json!({"sessions": []}));
    assert_eq!(app.get_session(&s.session_token).await.status(), 200);
    assert_eq!(app.redeem(&deletion_token, None).await.status(), 200);
}

#[tokio::test]
async fn invalid_percent_encoding_in_the_path_is_400() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/v1/users/%ZZ/sessions"),
        ("GET", "/v1/users/%zz/sessions"),
        ("GET", "/v1/users/a%2/sessions"),
        ("DELETE", "/v1/users/a%/sessions"),
        ("DELETE", "/v1/users/u/sessions/%G0"),
    ] {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            app.keys.all
        );
        let response = raw_request(&app.address, request.as_bytes()).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{path}: {response}");
        assert!(
            response.contains("application/problem+json")
                && response.contains("\"code\":\"invalid_request\"")
                && response.contains("\"field\":\"path\""),
            "{path}: {response}"
        );
    }
    // Well-formed encoding still works, including an encoded '%'.
    let ok = app.list_sessions("user%2542").await;
    assert_eq!(ok.status(), 200);
    let query = app
        .request(Method::DELETE, "/v1/users/u/sessions?except=%ZZ")
        .send()
        .await
        .expect("request");
    let problem = assert_problem(query, 400, "invalid_request").await;
    assert_eq!(problem["field"], "query", "{problem}");
}

/// 25 bytes like an id, with a two-byte character across the tag's end (byte 3).
fn non_ascii_id() -> String {
    format!("ab\u{e9}{}", "x".repeat(21))
}

#[tokio::test]
async fn ids_and_tokens_with_non_ascii_characters_are_422() {
    let app = spawn_app().await;
    let id = non_ascii_id();
    assert_eq!(id.len(), 25);
    let token = |prefix: &str| format!("{prefix}{id}{}", "x".repeat(43));

    let by_id = app
        .request(
            Method::DELETE,
            &format!("/v1/users/u/sessions/{}", urlencode(&id)),
        )
        .send()
        .await
        .expect("request");
    let problem = assert_problem(by_id, 422, "invalid_request").await;
    assert_eq!(problem["field"], "session_id");
    let except = app
        .request(
            Method::DELETE,
            &format!("/v1/users/u/sessions?except={}", urlencode(&id)),
        )
        .send()
        .await
        .expect("request");
    let problem = assert_problem(except, 422, "invalid_request").await;
    assert_eq!(problem["field"], "except");
    let issue = app
        .issue_deletion_token("u", json!({"scope": "session", "session_id": id}))
        .await;
    let problem = assert_problem(issue, 422, "invalid_request").await;
    assert_eq!(problem["field"], "session_id");
    let refresh = app.refresh(&token("sdb_r1_")).await;
    let problem = assert_problem(refresh, 422, "invalid_request").await;
    assert_eq!(problem["field"], "refresh_token");
    let redeem = app.redeem(&token("sdb_d1_"), None).await;
    let problem = assert_problem(redeem, 422, "invalid_request").await;
    assert_eq!(problem["field"], "deletion_token");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn integers_may_be_written_with_a_zero_fraction_as_json_schema_allows() {
    let app = spawn_app().await;
    for (ttl, status) in [("600.0", 201), ("6e2", 201), ("6.0E2", 201), ("600.5", 422)] {
        let response = post_raw(
            &app,
            "/v1/sessions",
            &format!(r#"{{"user_id": "integral", "idle_ttl_seconds": {ttl}}}"#),
        )
        .await;
        assert_eq!(response.status(), status, "idle_ttl_seconds {ttl}");
    }
}
