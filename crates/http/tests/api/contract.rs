//! The API contract as a client author reads it in `docs/api.md`: concurrent merges are
//! never lost.

use std::collections::BTreeSet;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

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
