//! Cross-cutting HTTP behaviour: problem shape for unknown routes and methods, security
//! headers, request ids, CORS, timeouts and an unavailable backend.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, raw_request, spawn_app, spawn_app_with};

const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'"),
];

fn assert_security_headers(response: &reqwest::Response) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on {}",
            response.url()
        );
    }
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v2/nothing"))
        .send()
        .await
        .expect("request");
    assert_security_headers(&response);
    assert_problem(response, 404, "not_found").await;
    let admin = app
        .client
        .get(app.admin_url("/nothing"))
        .send()
        .await
        .expect("request");
    assert_problem(admin, 404, "not_found").await;
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let response = app
        .request(Method::PUT, "/v1/sessions")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app().await;
    let s = app.create_session("uma").await;
    assert_security_headers(&app.get_session(&s.session_token).await);
    assert_security_headers(
        &app.client
            .get(app.url("/v1/sessions/current"))
            .send()
            .await
            .expect("r"),
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_security_headers(&app.client.get(app.admin_url(path)).send().await.expect("r"));
    }
}

#[tokio::test]
async fn request_ids_are_propagated_or_generated() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/sessions/current"))
        .header("X-Request-Id", "trace-abc.123")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["x-request-id"], "trace-abc.123");
    let body = assert_problem(response, 401, "unauthorized").await;
    assert_eq!(body["request_id"], "trace-abc.123");

    let generated = app
        .client
        .get(app.url("/v1/openapi.json"))
        .header("X-Request-Id", "has spaces and is not acceptable")
        .send()
        .await
        .expect("request");
    let id = generated.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(id.len(), 32, "{id}");
}

#[tokio::test]
async fn no_cors_headers_unless_configured() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/openapi.json"))
        .header("Origin", "https://app.example")
        .send()
        .await
        .expect("request");
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let app =
        spawn_app_with(|http, _| http.cors_origins = vec!["https://app.example".to_owned()]).await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/v1/sessions/current"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "PATCH")
        .header(
            "Access-Control-Request-Headers",
            "x-session-token, if-match",
        )
        .send()
        .await
        .expect("request");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let other = app
        .client
        .get(app.url("/v1/openapi.json"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_503_problem() {
    let app = spawn_app_with(|http, _| http.request_timeout = Duration::from_millis(300)).await;
    let s = app.create_session("vera").await;
    app.redis
        .cli(&["CLIENT", "PAUSE", "1000", "ALL"])
        .expect("pause");
    let response = app.get_session(&s.session_token).await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "request_timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backend_is_a_503_problem_with_retry_after() {
    let mut app = spawn_app().await;
    let s = app.create_session("walt").await;
    tokio::task::block_in_place(|| app.redis.stop()).expect("stop redis");
    let response = app.get_session(&s.session_token).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let body = assert_problem(response, 503, "backend_unavailable").await;
    assert!(
        !body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1"),
        "{body}"
    );
    let create = app.create_session_with(json!({"user_id": "walt"})).await;
    assert_problem(create, 503, "backend_unavailable").await;
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let app = spawn_app().await;
    let request = format!(
        "GET /v1/openapi.json HTTP/1.1\r\nHost: test\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "p".repeat(20 * 1024)
    );
    let response = raw_request(&app.address, request.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");

    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request =
        format!("GET /v1/openapi.json HTTP/1.1\r\nHost: test\r\n{many}Connection: close\r\n\r\n");
    let response = raw_request(&app.address, request.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
}

/// Sends raw bytes and returns the raw answer, bytes as received.
async fn raw_bytes(address: &str, request: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .expect("connect");
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    out
}

/// What docs/api.md says about requests the HTTP/1.1 parser refuses: those it cannot
/// parse get its own bare 400; everything it parses reaches the API and gets a problem.
#[tokio::test]
async fn unparsable_requests_get_the_parsers_bare_400_parsable_ones_a_problem() {
    let app = spawn_app().await;
    let request = |target: &[u8], header: &[u8]| {
        [
            b"GET ".as_slice(),
            target,
            b" HTTP/1.1\r\nHost: test\r\nX-Session-Token: ",
            header,
            b"\r\nConnection: close\r\n\r\n",
        ]
        .concat()
    };
    // Refused by the parser before any handler exists: control bytes in a header value,
    // control bytes or bytes that are not UTF-8 in the request target.
    for raw in [
        request(b"/v1/sessions/current", b"a\x01b"),
        request(b"/v1/sessions/current", b"a\x7fb"),
        request(b"/v1/users/\xff\xfe/sessions", b"x"),
        request(b"/v1/users/a\x01b/sessions", b"x"),
    ] {
        let answer = String::from_utf8_lossy(&raw_bytes(&app.address, &raw).await).into_owned();
        let sent = String::from_utf8_lossy(&raw);
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{sent:?}: {answer}"
        );
        assert!(
            answer.contains("content-length: 0\r\n"),
            "{sent:?}: {answer}"
        );
    }
    // Parsed (bytes 0x80-0xFF are obs-text in a header value): a problem naming the header.
    let answer = raw_bytes(
        &app.address,
        &request(b"/v1/sessions/current", b"sdb_s1_\xe9\xff"),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let with_key = [
        b"GET /v1/sessions/current HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ".as_slice(),
        app.keys.read.as_bytes(),
        b"\r\nX-Session-Token: sdb_s1_\xe9\xff\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let answer = String::from_utf8_lossy(&raw_bytes(&app.address, &with_key).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("application/problem+json")
            && answer.contains("\"field\":\"X-Session-Token\""),
        "{answer}"
    );
    // UTF-8 in the request target is parsed, and read as if percent-encoded.
    let utf8 = [
        "GET /v1/users/zoë/sessions HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ".as_bytes(),
        app.keys.admin.as_bytes(),
        b"\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let answer = String::from_utf8_lossy(&raw_bytes(&app.address, &utf8).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
