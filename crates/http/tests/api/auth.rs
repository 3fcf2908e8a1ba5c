//! API keys: 401 without a valid key, 403 with a valid key lacking the route's scope.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

/// Every route that needs a key, and the one scope it needs.
const ROUTES: [(&str, &str, &str); 11] = [
    ("POST", "/v1/sessions", "write"),
    ("GET", "/v1/sessions/current", "read"),
    ("PUT", "/v1/sessions/current", "write"),
    ("PATCH", "/v1/sessions/current", "write"),
    ("DELETE", "/v1/sessions/current", "write"),
    ("POST", "/v1/sessions/current/rotate", "write"),
    ("POST", "/v1/sessions/refresh", "write"),
    ("GET", "/v1/users/u1/sessions", "admin"),
    ("DELETE", "/v1/users/u1/sessions", "admin"),
    (
        "DELETE",
        "/v1/users/u1/sessions/000AAAAAAAAAAAAAAAAAAAAAA",
        "admin",
    ),
    ("POST", "/v1/users/u1/deletion-tokens", "admin"),
];

#[tokio::test]
async fn every_route_enforces_its_scope_with_401_and_403() {
    let app = spawn_app().await;
    for (method, path, scope) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let send = |key: Option<&str>| {
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .json(&json!({}));
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            req.send()
        };
        let missing = send(None).await.expect("request");
        assert_eq!(
            missing.headers()["www-authenticate"],
            "Bearer realm=\"sessiondb\"",
            "{method} {path}"
        );
        assert_problem(missing, 401, "unauthorized").await;

        let unknown = send(Some("sdb_k1_not-a-configured-key"))
            .await
            .expect("request");
        assert!(unknown.headers()["www-authenticate"]
            .to_str()
            .unwrap_or_default()
            .contains("invalid_token"));
        assert_problem(unknown, 401, "unauthorized").await;

        let keys = [
            ("read", &app.keys.read),
            ("write", &app.keys.write),
            ("admin", &app.keys.admin),
        ];
        for (name, key) in keys {
            let response = send(Some(key)).await.expect("request");
            if name == scope {
                let status = response.status().as_u16();
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} with {name}: {status}"
                );
            } else {
                let www = response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(www.contains("insufficient_scope"), "{www}");
                let body = assert_problem(response, 403, "forbidden").await;
                assert!(
                    body["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(&format!("sessions:{scope}")),
                    "{body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn malformed_or_overlong_authorization_is_401() {
    let app = spawn_app().await;
    for value in [
        format!("Basic {}", app.keys.all),
        "Bearer".to_owned(),
        format!("Bearer {}", "k".repeat(600)),
        app.keys.all.clone(),
    ] {
        let response = app
            .client
            .get(app.url("/v1/users/u1/sessions"))
            .header("Authorization", value)
            .send()
            .await
            .expect("request");
        assert_problem(response, 401, "unauthorized").await;
    }
    let lower = app
        .client
        .get(app.url("/v1/users/u1/sessions"))
        .header("Authorization", format!("bearer {}", app.keys.all))
        .send()
        .await
        .expect("request");
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn redeem_and_openapi_need_no_key() {
    let app = spawn_app().await;
    let openapi = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(openapi.status(), 200);
    // A well-formed but unknown token: 404, not 401.
    let token = format!("sdb_d1_000{}{}", "A".repeat(22), "B".repeat(43));
    assert_problem(app.redeem(&token, None).await, 404, "token_not_found").await;
}
