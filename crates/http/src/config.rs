//! HTTP-layer configuration: listeners, API keys, limits. Built by the settings crate
//! from files, environment and flags; validated there.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// Everything the HTTP layer needs besides the engine.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The public API listener.
    pub listen: SocketAddr,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`); kept apart so it can stay
    /// on a private interface.
    pub admin_listen: SocketAddr,
    /// Accepted API keys (as hashes) and their scopes.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Largest accepted request body, in bytes (larger bodies get 413).
    pub max_body_bytes: usize,
    /// A request taking longer than this is answered 503 and abandoned.
    pub request_timeout: Duration,
    /// Deletion-token redemptions per client address.
    pub redeem_rate: RateLimit,
    /// Refreshes per refresh-token family.
    pub refresh_rate: RateLimit,
    /// Proxies (addresses or networks) whose `X-Forwarded-For` entries are believed:
    /// behind them the client address is the rightmost `X-Forwarded-For` hop that is not
    /// one of them. Empty: the peer address is always the client address.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed by CORS; empty means no CORS headers at all.
    pub cors_origins: Vec<String>,
    /// TLS on the public listener; `None` is plain HTTP (behind a TLS-terminating proxy).
    pub tls: Option<ListenerTls>,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

/// One API key: the SHA-256 of the key (never the key itself) and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyConfig {
    /// A label for logs and metrics (e.g. the calling service's name).
    pub name: String,
    /// Lowercase hex SHA-256 of the key, as printed by `sessiondb apikey new`.
    pub sha256_hex: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
}

/// API scopes.
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

impl Scope {
    /// The scope's name in configuration and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
            Scope::SessionsAdmin => "sessions:admin",
        }
    }

    /// Parses `sessions:read`, `sessions:write` or `sessions:admin`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sessions:read" => Some(Scope::SessionsRead),
            "sessions:write" => Some(Scope::SessionsWrite),
            "sessions:admin" => Some(Scope::SessionsAdmin),
            _ => None,
        }
    }
}

/// A token-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: u32,
}

/// Certificate and key for the public listener.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            api_keys: Vec::new(),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            redeem_rate: RateLimit {
                per_minute: 10,
                burst: 5,
            },
            refresh_rate: RateLimit {
                per_minute: 60,
                burst: 10,
            },
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            tls: None,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}
