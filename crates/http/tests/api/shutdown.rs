//! Graceful shutdown: stop accepting, finish what is in flight, then return.

use std::time::Duration;

use sessiondb_local::testkit::eventually_async;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_the_in_flight_request_and_run_returns() {
    let mut app = spawn_app().await;
    let s = app.create_session("zoe").await;
    // Every Redis command now waits 600 ms (under the 1 s command timeout): the next
    // request stays in flight while the shutdown begins.
    app.redis
        .cli(&["CLIENT", "PAUSE", "600", "ALL"])
        .expect("pause redis");
    let in_flight = {
        let client = app.client.clone();
        let url = app.url("/v1/sessions/current?touch=false");
        let key = app.keys.read.clone();
        let token = s.session_token.clone();
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(key)
                .header("X-Session-Token", token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    eventually_async(
        "the request is in flight",
        Duration::from_secs(5),
        || async {
            let metrics = app.metrics_text().await;
            metrics
                .contains("sessiondb_http_requests_in_flight 1")
                .then_some(())
                .ok_or_else(|| "no request in flight".to_owned())
        },
    )
    .await;

    app.trigger_shutdown();
    let status = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the in-flight request finishes")
        .expect("request task")
        .expect("the in-flight request gets a response");
    assert_eq!(status, 200);
    app.wait_for_exit().await.expect("run returns Ok");

    let fresh = reqwest::Client::new()
        .get(app.url("/v1/openapi.json"))
        .send()
        .await;
    assert!(fresh.is_err(), "no new connections after shutdown");
}
