//! The sections only `sessiondb serve` uses: the HTTP layer (`[server]`) and the
//! embedded Redis (`[embedded]`).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use sessiondb_http::config::Scope;

use crate::schema::DEFAULT_EMBEDDED_DATA_DIR;

/// The HTTP layer: listeners, API keys, limits, CORS and TLS.
/// [`Settings::http_config`](crate::Settings::http_config) turns it into the HTTP crate's
/// configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)),
            admin_listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9090)),
            api_keys: Vec::new(),
            max_body_bytes: 65_536,
            request_timeout_ms: 10_000,
            shutdown_grace_seconds: 30,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            redeem_rate_per_minute: 10,
            redeem_burst: 5,
            refresh_rate_per_minute: 60,
            refresh_burst: 10,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
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
        .map(|name| {
            Scope::parse(name).ok_or_else(|| D::Error::custom(format!("unknown scope {name:?}")))
        })
        .collect()
}

/// The local `redis-server` that `sessiondb serve` starts and supervises when
/// `redis.mode = embedded`; ignored in the other modes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedSettings {
    /// Directory for the server's data and log files; created when missing. The
    /// default, `.sessiondb/embedded`, is relative to the working directory.
    pub data_dir: PathBuf,
    /// The `redis-server` binary; `None`: found on `PATH`.
    pub redis_server: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_EMBEDDED_DATA_DIR),
            redis_server: None,
            port: 0,
        }
    }
}
