//! `spawn_app()`: a real Redis (its own `redis-server`), an engine with its own key
//! prefix, and the HTTP server on free ports; plus typed request helpers.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use sessiondb_engine::{ConnectionConfig, EngineConfig};
use sessiondb_http::config::{ApiKeyConfig, HttpConfig, Scope};
use sessiondb_http::{generate_api_key, hash_api_key, App, AppConfig, HttpError, Metrics};
use sessiondb_local::{RedisOptions, RedisServer};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// API keys with different scopes.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `sessions:read` only.
    pub(crate) read: String,
    /// `sessions:write` only.
    pub(crate) write: String,
    /// `sessions:admin` only.
    pub(crate) admin: String,
    /// All three scopes.
    pub(crate) all: String,
}

/// A running server against its own Redis.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>` of the API listener.
    pub(crate) address: String,
    /// `http://127.0.0.1:<port>` of the admin listener.
    pub(crate) admin_address: String,
    pub(crate) client: Client,
    pub(crate) keys: Keys,
    /// The Redis fixture (stop/restart/cli from tests).
    pub(crate) redis: RedisServer,
    pub(crate) metrics: Arc<Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), HttpError>>>,
}

/// A created session as the API returns it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Created {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) session_token: String,
    pub(crate) refresh_token: String,
    pub(crate) version: u64,
    pub(crate) evicted_session_ids: Vec<String>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

/// Spawns the app after `adjust` changed the defaults (fast-to-test rate limits are set
/// here: the defaults would be too generous to hit in a test).
pub(crate) async fn spawn_app_with(
    adjust: impl FnOnce(&mut HttpConfig, &mut EngineConfig),
) -> TestApp {
    let redis = tokio::task::spawn_blocking(|| RedisServer::start(RedisOptions::default()))
        .await
        .expect("redis start task")
        .expect("redis-server starts");
    let (host, port) = redis.addr();
    let keys = Keys {
        read: generate_api_key(),
        write: generate_api_key(),
        admin: generate_api_key(),
        all: generate_api_key(),
    };
    let key = |name: &str, key: &str, scopes: &[Scope]| ApiKeyConfig {
        name: name.to_owned(),
        sha256_hex: hash_api_key(key),
        scopes: scopes.to_vec(),
    };
    let mut http = HttpConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        admin_listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![
            key("reader", &keys.read, &[Scope::SessionsRead]),
            key("writer", &keys.write, &[Scope::SessionsWrite]),
            key("admin", &keys.admin, &[Scope::SessionsAdmin]),
            key(
                "all",
                &keys.all,
                &[
                    Scope::SessionsRead,
                    Scope::SessionsWrite,
                    Scope::SessionsAdmin,
                ],
            ),
        ],
        shutdown_grace: Duration::from_secs(10),
        ..HttpConfig::default()
    };
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut engine_config = EngineConfig {
        key_prefix: format!("http-t{n}"),
        ..EngineConfig::default()
    };
    adjust(&mut http, &mut engine_config);

    let app = App::build(AppConfig {
        connection: ConnectionConfig::standalone(host, port),
        engine: engine_config,
        http,
        cleanup_every: None,
    })
    .await
    .expect("the app starts");
    let address = format!("http://{}", app.local_addr());
    let admin_address = format!("http://{}", app.admin_addr());
    let metrics = app.metrics().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        admin_address,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        keys,
        redis,
        metrics,
        shutdown: Some(tx),
        server: Some(handle),
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) fn admin_url(&self, path: &str) -> String {
        format!("{}{path}", self.admin_address)
    }

    /// A request with the all-scopes key.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.keys.all)
    }

    pub(crate) async fn create_session_with(&self, body: Value) -> Response {
        self.request(reqwest::Method::POST, "/v1/sessions")
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a session for `user` with data `{"role": "member"}`.
    pub(crate) async fn create_session(&self, user: &str) -> Created {
        let response = self
            .create_session_with(json!({"user_id": user, "data": {"role": "member"}}))
            .await;
        assert_eq!(response.status(), 201, "create for {user}");
        response.json().await.expect("created body")
    }

    pub(crate) fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> RequestBuilder {
        self.request(method, path).header("X-Session-Token", token)
    }

    pub(crate) async fn get_session(&self, token: &str) -> Response {
        self.with_token(reqwest::Method::GET, "/v1/sessions/current", token)
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn put_data(
        &self,
        token: &str,
        data: Value,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self
            .with_token(reqwest::Method::PUT, "/v1/sessions/current", token)
            .json(&json!({ "data": data }));
        if let Some(v) = if_match {
            req = req.header("If-Match", v);
        }
        req.send().await.expect("request")
    }

    pub(crate) async fn patch_data(
        &self,
        token: &str,
        patch: Value,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self
            .with_token(reqwest::Method::PATCH, "/v1/sessions/current", token)
            .header("Content-Type", "application/merge-patch+json")
            .body(patch.to_string());
        if let Some(v) = if_match {
            req = req.header("If-Match", v);
        }
        req.send().await.expect("request")
    }

    pub(crate) async fn delete_session(&self, token: &str) -> Response {
        self.with_token(reqwest::Method::DELETE, "/v1/sessions/current", token)
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn rotate(&self, token: &str) -> Response {
        self.with_token(reqwest::Method::POST, "/v1/sessions/current/rotate", token)
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Response {
        self.request(reqwest::Method::POST, "/v1/sessions/refresh")
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn list_sessions(&self, user: &str) -> Response {
        self.request(reqwest::Method::GET, &format!("/v1/users/{user}/sessions"))
            .send()
            .await
            .expect("request")
    }

    pub(crate) async fn revoke_all(&self, user: &str, except: Option<&str>) -> Response {
        let mut req = self.request(
            reqwest::Method::DELETE,
            &format!("/v1/users/{user}/sessions"),
        );
        if let Some(id) = except {
            req = req.query(&[("except", id)]);
        }
        req.send().await.expect("request")
    }

    pub(crate) async fn revoke_one(&self, user: &str, session_id: &str) -> Response {
        self.request(
            reqwest::Method::DELETE,
            &format!("/v1/users/{user}/sessions/{session_id}"),
        )
        .send()
        .await
        .expect("request")
    }

    pub(crate) async fn issue_deletion_token(&self, user: &str, body: Value) -> Response {
        self.request(
            reqwest::Method::POST,
            &format!("/v1/users/{user}/deletion-tokens"),
        )
        .json(&body)
        .send()
        .await
        .expect("request")
    }

    /// Redeems without an API key, optionally as a client behind a proxy.
    pub(crate) async fn redeem(&self, token: &str, forwarded_for: Option<&str>) -> Response {
        let mut req = self
            .client
            .post(self.url("/v1/deletion-tokens/redeem"))
            .json(&json!({ "deletion_token": token }));
        if let Some(ip) = forwarded_for {
            req = req.header("X-Forwarded-For", ip);
        }
        req.send().await.expect("request")
    }

    pub(crate) async fn metrics_text(&self) -> String {
        self.client
            .get(self.admin_url("/metrics"))
            .send()
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics body")
    }

    pub(crate) fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub(crate) async fn wait_for_exit(&mut self) -> Result<(), HttpError> {
        let handle = self.server.take().expect("server still running");
        tokio::time::timeout(Duration::from_secs(15), handle)
            .await
            .expect("run returns within the deadline")
            .expect("server task did not panic")
    }
}

/// Asserts a problem+json response and returns its body.
pub(crate) async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let header_request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(
        body["type"],
        format!("urn:sessiondb:problem:{code}"),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(!header_request_id.is_empty(), "X-Request-Id header");
    assert_eq!(body["request_id"], header_request_id, "{body}");
    body
}

/// Checks the RFC 3339 UTC millisecond format: `2025-01-31T23:59:59.123Z`.
pub(crate) fn assert_timestamp(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp string: {value}"));
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    assert!(
        b.len() == 24
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && b[19] == b'.'
            && digits(20..23)
            && b[23] == b'Z',
        "not RFC 3339 UTC with milliseconds: {s}"
    );
}

/// Sends raw bytes to `address` (`http://host:port`) and reads until the server closes.
pub(crate) async fn raw_request(address: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before reading everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}
