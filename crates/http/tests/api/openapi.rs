//! The served OpenAPI document equals the checked-in `docs/openapi.json`.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::spawn_app;

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
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/metrics", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} documented"
            );
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
