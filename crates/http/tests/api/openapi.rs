//! The served OpenAPI document equals the checked-in `docs/openapi.json` (for the default
//! configuration) and states the running server's configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[tokio::test]
async fn openapi_document_matches_the_checked_in_file() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.expect("body");
    assert_eq!(served, sessiondb_http::openapi_json());

    let path = checked_in();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == served,
        "docs/openapi.json differs from the served document; regenerate it with\n    \
         UPDATE_OPENAPI=1 cargo test -p sessiondb-http openapi\nand commit the result"
    );
}

#[test]
fn openapi_document_is_3_1_and_covers_every_route() {
    let doc: Value = serde_json::from_str(&sessiondb_http::openapi_json()).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in [
        ("/v1/sessions", &["post"][..]),
        ("/v1/sessions/current", &["get", "put", "patch", "delete"]),
        ("/v1/sessions/current/rotate", &["post"]),
        ("/v1/sessions/refresh", &["post"]),
        ("/v1/users/{user_id}/sessions", &["get", "delete"]),
        ("/v1/users/{user_id}/sessions/{session_id}", &["delete"]),
        ("/v1/users/{user_id}/deletion-tokens", &["post"]),
        ("/v1/deletion-tokens/redeem", &["post"]),
        ("/v1/openapi.json", &["get"]),
        ("/v1/refresh-tokens/revoke", &["post"]),
    ] {
        for method in methods {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} documented"
            );
        }
    }
    assert_eq!(paths.len(), 10, "only the API's paths: {:?}", paths.keys());
    // Links chain calls on real sessions, with OpenAPI's field names.
    let created = &doc["paths"]["/v1/sessions"]["post"]["responses"]["201"]["links"];
    assert_eq!(
        created["GetSession"],
        serde_json::json!({
            "operationId": "get_session",
            "parameters": {"header.X-Session-Token": "$response.body#/session_token"},
        })
    );
    assert_eq!(
        created["RefreshSession"]["requestBody"],
        serde_json::json!({"refresh_token": "$response.body#/refresh_token"})
    );
    let operation_ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    for (path, responses) in paths {
        for (method, op) in responses.as_object().into_iter().flatten() {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    let target = link["operationId"].as_str().unwrap_or_default();
                    assert!(
                        operation_ids.contains(&target),
                        "{method} {path} {status} link {name} -> {target}"
                    );
                }
            }
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    let unauthorized = &doc["components"]["responses"]["Unauthorized"];
    assert_eq!(
        unauthorized["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert_eq!(
        doc["paths"]["/v1/deletion-tokens/redeem"]["post"]["security"],
        serde_json::json!([{}]),
        "redeem needs no API key"
    );
}

#[tokio::test]
async fn the_served_document_states_this_servers_idle_window() {
    let app = spawn_app_with(|_, engine| {
        engine.session.min_idle_ttl = Duration::from_secs(120);
        engine.session.idle_ttl = Duration::from_secs(600);
        engine.session.max_idle_ttl = Duration::from_secs(7200);
    })
    .await;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let idle =
        &doc["components"]["schemas"]["CreateSessionRequest"]["properties"]["idle_ttl_seconds"];
    assert_eq!(
        (&idle["minimum"], &idle["maximum"]),
        (&json!(120), &json!(7200))
    );
    // The bounds are the server's: just outside is refused, the bounds themselves work.
    for (ttl, status) in [(119, 422), (120, 201), (7200, 201), (7201, 422)] {
        let response = app
            .create_session_with(json!({"user_id": "window", "idle_ttl_seconds": ttl}))
            .await;
        assert_eq!(response.status(), status, "idle_ttl_seconds {ttl}");
    }
}
