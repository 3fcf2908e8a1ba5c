//! The sections only `sessiondb serve` uses: the HTTP layer (`[server]`) and the
//! embedded Redis (`[embedded]`).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use sessiondb_engine::named_enum;

/// The HTTP layer: listeners, API keys, limits, CORS and TLS. The HTTP crate turns it
/// into its configuration (`HttpConfig::from_settings`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address of the API listener.
    pub listen: SocketAddr,
    /// Address of the admin listener (health, metrics); must differ from `listen`.
    pub admin_listen: SocketAddr,
    /// The API keys the API listener accepts, as hashes, with their scopes.
    pub api_keys: Vec<ApiKeySettings>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// How long one request may take, in milliseconds.
    pub request_timeout_ms: u64,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace_seconds: u64,
    /// Proxies (IP addresses or CIDR networks) whose `X-Forwarded-For` entries are
    /// believed; empty: the peer address is the client address.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed by CORS (`https://app.example.com`); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Sustained deletion-token redemptions per client address, per minute.
    pub redeem_rate_per_minute: u32,
    /// Redemptions allowed in a burst above the sustained rate.
    pub redeem_burst: u32,
    /// Sustained refreshes per refresh-token family, per minute.
    pub refresh_rate_per_minute: u32,
    /// Refreshes allowed in a burst above the sustained rate.
    pub refresh_burst: u32,
    /// PEM certificate chain of the API listener (needs `tls_key_file`); plain HTTP
    /// when unset.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the API listener (needs `tls_cert_file`).
    pub tls_key_file: Option<PathBuf>,
    /// Threads of the async runtime that serves requests; unset: one per CPU, less one
    /// left to Redis when it runs on this host ([`Settings::worker_threads`]).
    ///
    /// [`Settings::worker_threads`]: crate::Settings::worker_threads
    pub worker_threads: Option<u64>,
}

/// One API key: a name, the SHA-256 of the key (never the key itself) and its scopes.
///
/// `Debug` does not print the hash.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// Label for logs and metrics: 1-64 characters of `A-Z a-z 0-9 _ . -`, unique.
    pub name: String,
    /// Lowercase hex SHA-256 of the key (64 characters), as printed by
    /// `sessiondb apikey new`.
    pub sha256: String,
    /// Granted scopes; at least one.
    #[serde(deserialize_with = "scopes")]
    pub scopes: Vec<Scope>,
}

impl fmt::Debug for ApiKeySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeySettings")
            .field("name", &self.name)
            .field("sha256", &crate::schema::REDACTED)
            .field("scopes", &self.scopes)
            .finish()
    }
}

fn scopes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Scope>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read sessions (`sessions:read`).
    SessionsRead,
    /// Create, update, rotate, refresh and revoke sessions (`sessions:write`).
    SessionsWrite,
    /// Per-user operations: list, revoke all, revoke by id, issue deletion tokens
    /// (`sessions:admin`).
    SessionsAdmin,
}

named_enum!(Scope, "server.api_keys", {
    SessionsRead = "sessions:read",
    SessionsWrite = "sessions:write",
    SessionsAdmin = "sessions:admin",
});

/// The local `redis-server` that `sessiondb serve` starts and supervises when
/// `redis.mode = embedded`; ignored in the other modes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedSettings {
    /// Directory for the server's data and log files; created when missing. The
    /// default, `.sessiondb/embedded`, is relative to the working directory.
    pub data_dir: PathBuf,
    /// The `redis-server` binary; `None`: found on `PATH`.
    pub redis_server: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
}
