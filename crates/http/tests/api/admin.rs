//! The admin listener: liveness, readiness that follows Redis, metrics.

use std::time::Duration;

use sessiondb_local::testkit::eventually_async;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn healthz_is_200() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.admin_url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    // The admin routes are not on the API listener.
    let on_api = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(on_api.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_redis_without_restarting_the_server() {
    let mut app = spawn_app().await;
    let (client, url) = (app.client.clone(), app.admin_url("/readyz"));
    let ready = || async {
        client
            .get(&url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready().await, 200);

    tokio::task::block_in_place(|| app.redis.stop()).expect("stop redis");
    eventually_async("readyz reports 503", Duration::from_secs(10), || async {
        let status = ready().await;
        (status == 503)
            .then_some(())
            .ok_or(format!("status {status}"))
    })
    .await;
    let response = app
        .client
        .get(app.admin_url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "backend_unavailable").await;

    tokio::task::block_in_place(|| app.redis.restart()).expect("restart redis");
    eventually_async(
        "readyz reports 200 again",
        Duration::from_secs(15),
        || async {
            let status = ready().await;
            (status == 200)
                .then_some(())
                .ok_or(format!("status {status}"))
        },
    )
    .await;
    // And the API works again (scripts reloaded into the fresh server).
    let s = app.create_session("xena").await;
    assert_eq!(app.get_session(&s.session_token).await.status(), 200);
}

#[tokio::test]
async fn metrics_expose_http_store_and_session_counters_after_traffic() {
    let app = spawn_app().await;
    let s = app.create_session("yara").await;
    assert_eq!(app.get_session(&s.session_token).await.status(), 200);
    assert_eq!(app.delete_session(&s.session_token).await.status(), 204);
    let _ = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .expect("request");
    // What the binary's cleanup and backup loops report.
    app.metrics
        .record_cleanup(&Ok(sessiondb_engine::CleanupReport {
            ran: true,
            removed: 3,
            users_visited: 1,
            active_sessions: 42,
            duration: Duration::from_millis(5),
        }));
    app.metrics.record_backup_success(1_700_000_000);

    let response = app
        .client
        .get(app.admin_url("/metrics"))
        .send()
        .await
        .expect("request");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.expect("body");
    for expected in [
        "sessiondb_http_requests_total{route=\"/v1/sessions\",method=\"POST\",status=\"201\"} 1",
        "sessiondb_http_requests_total{route=\"/v1/sessions/current\",method=\"GET\",status=\"200\"} 1",
        "sessiondb_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
        "sessiondb_http_request_duration_seconds_bucket{",
        "sessiondb_store_operations_total{script=\"create\",result=\"ok\"} 1",
        "sessiondb_store_operation_duration_seconds_count{script=\"get\"} 1",
        "sessiondb_session_events_total{event=\"created\"} 1",
        "sessiondb_session_events_total{event=\"revoked\"} 1",
        "sessiondb_sessions_created_total 1",
        "sessiondb_sessions_revoked_total 1",
        "sessiondb_active_sessions 42",
        "sessiondb_cleanup_runs_total{result=\"success\"} 1",
        "sessiondb_cleanup_removed_total 3",
        "sessiondb_cleanup_last_success_timestamp_seconds ",
        "sessiondb_backup_last_success_timestamp_seconds 1700000000",
        "sessiondb_build_info{version=\"",
        "# EOF",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(
        !text.contains("/no/such/route"),
        "raw paths never become labels"
    );
    assert!(!text.contains("yara"), "user ids never become labels");
}
