//! [`ApiClient`]: the few sessiondb API calls the drills make, each returning how
//! the request ended ([`Outcome`]), how long it took and the parsed body.
//!
//! Nothing here panics or returns an error on a failed request: failures are what
//! the drills measure.

use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{DrillError, POLL_INTERVAL};

/// How one HTTP request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer with a readable body: the operation was applied (acknowledged).
    Success(u16),
    /// A 4xx answer: refused, nothing changed. `code` is the problem's `code`.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The problem's stable error code (empty if the body was unreadable).
        code: String,
    },
    /// A 5xx answer (`backend_unavailable`, `not_replicated`, `request_timeout`):
    /// the operation may or may not have been applied.
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The problem's stable error code (empty if the body was unreadable).
        code: String,
    },
    /// No complete answer within the client timeout: may or may not have been applied.
    TimedOut,
    /// The connection failed (refused, reset): may or may not have been applied.
    Transport,
}

impl Outcome {
    /// A 2xx answer.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success(_))
    }

    /// The request may or may not have been applied (5xx, timeout, transport error).
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::TimedOut | Self::Transport
        )
    }

    /// The HTTP status, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Success(status)
            | Self::Rejected { status, .. }
            | Self::Unavailable { status, .. } => Some(*status),
            Self::TimedOut | Self::Transport => None,
        }
    }

    /// The problem code of a 4xx or 5xx answer.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } | Self::Unavailable { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// One request's result.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// How it ended.
    pub outcome: Outcome,
    /// From sending to the end of the answer (or the failure).
    pub latency: Duration,
    /// The parsed body of a 2xx answer.
    pub body: Option<T>,
}

/// `201` of `POST /v1/sessions`.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    /// Public session id.
    pub session_id: String,
    /// The session token (`X-Session-Token`).
    pub session_token: String,
    /// The family's first refresh token.
    pub refresh_token: String,
    /// Always 1.
    pub version: u64,
}

/// `200` of `GET /v1/sessions/current`.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionView {
    /// Public session id.
    pub session_id: String,
    /// The session's data.
    pub data: Map<String, Value>,
    /// Data version.
    pub version: u64,
}

impl SessionView {
    /// The `seq` counter the drills keep in the data (0 when absent).
    pub fn seq(&self) -> u64 {
        self.data.get("seq").and_then(Value::as_u64).unwrap_or(0)
    }
}

/// `200` of `PUT /v1/sessions/current`.
#[derive(Debug, Clone, Deserialize)]
pub struct Updated {
    /// The new data version.
    pub version: u64,
}

/// `200` of `POST /v1/sessions/refresh`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Refreshed {
    /// The replacement session's id.
    pub session_id: String,
    /// Its token.
    pub session_token: String,
    /// The family's next refresh token.
    pub refresh_token: String,
    /// True when this repeats an earlier answer inside the grace window.
    pub replayed: bool,
}

#[derive(Debug, Deserialize)]
struct Problem {
    code: String,
}

/// A client of one sessiondb server, with one API key holding every scope.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// Keep-alive connection pool, with the per-request timeout.
    client: Client,
    /// `http://127.0.0.1:<port>` of the API listener.
    api: String,
    /// `http://127.0.0.1:<port>` of the admin listener.
    admin: String,
    /// Bearer API key.
    key: String,
}

impl ApiClient {
    /// A client for the listeners at `api` and `admin` (`http://host:port`), giving
    /// every request at most `timeout` to complete.
    pub fn new(
        api: String,
        admin: String,
        key: String,
        timeout: Duration,
    ) -> Result<Self, DrillError> {
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(DrillError::Client)?;
        Ok(Self {
            client,
            api,
            admin,
            key,
        })
    }

    /// `POST /v1/sessions` for `user_id` with data `{"seq": 0}`.
    pub async fn create(&self, user_id: &str) -> Answer<Created> {
        let body = json!({"user_id": user_id, "data": {"seq": 0}});
        self.send(
            self.request(reqwest::Method::POST, "/v1/sessions")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/sessions/current?touch=false` (never writes).
    pub async fn get(&self, session_token: &str) -> Answer<SessionView> {
        let request = self
            .request(reqwest::Method::GET, "/v1/sessions/current?touch=false")
            .header("X-Session-Token", session_token);
        self.send(request).await
    }

    /// `PUT /v1/sessions/current` with data `{"seq": seq}`, unconditionally.
    pub async fn put(&self, session_token: &str, seq: u64) -> Answer<Updated> {
        let request = self
            .request(reqwest::Method::PUT, "/v1/sessions/current")
            .header("X-Session-Token", session_token)
            .json(&json!({"data": {"seq": seq}}));
        self.send(request).await
    }

    /// `POST /v1/sessions/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Answer<Refreshed> {
        let request = self
            .request(reqwest::Method::POST, "/v1/sessions/refresh")
            .json(&json!({"refresh_token": refresh_token}));
        self.send(request).await
    }

    /// `GET /readyz` on the admin listener.
    pub async fn readyz(&self) -> Answer<Value> {
        let url = format!("{}/readyz", self.admin);
        self.send(self.client.get(url)).await
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.key)
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Answer<T> {
        let started = Instant::now();
        let (outcome, body) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                if response.status().is_success() {
                    match response.json::<T>().await {
                        Ok(body) => (Outcome::Success(status), Some(body)),
                        Err(error) if error.is_timeout() => (Outcome::TimedOut, None),
                        Err(_) => (Outcome::Transport, None),
                    }
                } else {
                    let code = response
                        .json::<Problem>()
                        .await
                        .map(|p| p.code)
                        .unwrap_or_default();
                    if status < 500 {
                        (Outcome::Rejected { status, code }, None)
                    } else {
                        (Outcome::Unavailable { status, code }, None)
                    }
                }
            }
            Err(error) if error.is_timeout() => (Outcome::TimedOut, None),
            Err(_) => (Outcome::Transport, None),
        };
        Answer {
            outcome,
            latency: started.elapsed(),
            body,
        }
    }
}

/// Sends `request` until its answer is definitive (2xx or 4xx), pausing
/// [`POLL_INTERVAL`] after each 5xx, timeout or connection error; fails once `until`
/// has passed.
pub async fn definitive<T, F, Fut>(until: Instant, mut request: F) -> Result<Answer<T>, DrillError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer<T>>,
{
    let started = Instant::now();
    loop {
        let answer = request().await;
        if !answer.outcome.is_ambiguous() {
            return Ok(answer);
        }
        if Instant::now() >= until {
            return Err(DrillError::Timeout {
                what: "a definitive answer (2xx or 4xx)".to_owned(),
                waited: started.elapsed(),
                last: format!("{:?}", answer.outcome),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
