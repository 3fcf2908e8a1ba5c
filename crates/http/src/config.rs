//! HTTP-layer configuration: listeners, API keys, limits. Built from the `[server]`
//! settings ([`HttpConfig::from_settings`]), which the settings crate loads from files,
//! environment and flags and validates; tests may also build it directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
/// The API scopes an [`ApiKeyConfig`] grants (declared with the `server.api_keys` setting).
pub use sessiondb_settings::Scope;
use sessiondb_settings::{ServerSettings, Settings};

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

impl HttpConfig {
    /// The configuration the `[server]` settings describe: listeners, API keys, limits,
    /// CORS origins, listener TLS (both files set) and shutdown grace.
    pub fn from_settings(srv: &ServerSettings) -> Self {
        let tls = match (&srv.tls_cert_file, &srv.tls_key_file) {
            (Some(cert), Some(key)) => Some(ListenerTls {
                cert_file: cert.clone(),
                key_file: key.clone(),
            }),
            _ => None,
        };
        HttpConfig {
            listen: srv.listen,
            admin_listen: srv.admin_listen,
            api_keys: srv
                .api_keys
                .iter()
                .map(|k| ApiKeyConfig {
                    name: k.name.clone(),
                    sha256_hex: k.sha256.clone(),
                    scopes: k.scopes.clone(),
                })
                .collect(),
            max_body_bytes: srv.max_body_bytes,
            request_timeout: Duration::from_millis(srv.request_timeout_ms),
            redeem_rate: RateLimit {
                per_minute: srv.redeem_rate_per_minute,
                burst: srv.redeem_burst,
            },
            refresh_rate: RateLimit {
                per_minute: srv.refresh_rate_per_minute,
                burst: srv.refresh_burst,
            },
            trusted_proxies: srv.trusted_proxies.clone(),
            cors_origins: srv.cors_origins.clone(),
            tls,
            shutdown_grace: Duration::from_secs(srv.shutdown_grace_seconds),
        }
    }
}

impl Default for HttpConfig {
    /// The configuration of the built-in `[server]` defaults.
    fn default() -> Self {
        Self::from_settings(&Settings::default().server)
    }
}

#[cfg(test)]
mod tests {
    use sessiondb_settings::LoadOptions;

    use super::*;

    const HASH: &str = "87759acdc00ef80a40ea646f5cd0a29a7eaaef082084b05149ab1324c228efa4";

    #[test]
    fn the_defaults_are_the_documented_ones_and_what_loading_nothing_gives() {
        let config = HttpConfig::default();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(
            config.admin_listen,
            SocketAddr::from(([127, 0, 0, 1], 9090))
        );
        assert_eq!(config.max_body_bytes, 64 * 1024);
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(
            (config.redeem_rate, config.refresh_rate),
            (
                RateLimit {
                    per_minute: 10,
                    burst: 5
                },
                RateLimit {
                    per_minute: 60,
                    burst: 10
                }
            )
        );
        assert_eq!(config.shutdown_grace, Duration::from_secs(30));
        assert!(config.tls.is_none() && config.api_keys.is_empty());
        assert!(config.cors_origins.is_empty() && config.trusted_proxies.is_empty());

        let loaded = Settings::load(&LoadOptions::default()).unwrap();
        // `HttpConfig` has no `PartialEq`; its `Debug` output covers every field.
        assert_eq!(
            format!("{:?}", HttpConfig::from_settings(&loaded.server)),
            format!("{config:?}")
        );
    }

    #[test]
    fn every_server_setting_reaches_the_http_config() {
        let settings = Settings::load(&LoadOptions {
            env: vec![(
                "SESSIONDB_SERVER__API_KEYS".to_owned(),
                format!("checkout:{HASH}:sessions:read,SESSIONS:WRITE"),
            )],
            overrides: [
                "server.max_body_bytes=16777216",
                "server.request_timeout_ms=100",
                "server.shutdown_grace_seconds=0",
                "server.trusted_proxies=192.168.1.7",
                "server.cors_origins=https://app.example.com",
                "server.redeem_rate_per_minute=100000",
                "server.redeem_burst=10000",
                "server.refresh_rate_per_minute=1",
                "server.refresh_burst=1",
            ]
            .map(str::to_owned)
            .to_vec(),
            ..LoadOptions::default()
        })
        .unwrap();
        let http = HttpConfig::from_settings(&settings.server);
        assert_eq!(http.max_body_bytes, 16_777_216);
        assert_eq!(http.request_timeout, Duration::from_millis(100));
        assert_eq!(http.shutdown_grace, Duration::ZERO);
        assert_eq!(
            http.trusted_proxies,
            vec!["192.168.1.7/32".parse::<IpNet>().unwrap()]
        );
        assert_eq!(http.cors_origins, vec!["https://app.example.com"]);
        assert_eq!(
            (http.redeem_rate, http.refresh_rate),
            (
                RateLimit {
                    per_minute: 100_000,
                    burst: 10_000
                },
                RateLimit {
                    per_minute: 1,
                    burst: 1
                }
            )
        );
        assert_eq!(
            http.api_keys,
            vec![ApiKeyConfig {
                name: "checkout".into(),
                sha256_hex: HASH.into(),
                scopes: vec![Scope::SessionsRead, Scope::SessionsWrite],
            }]
        );
    }

    #[test]
    fn listener_tls_needs_both_files() {
        let mut server = Settings::default().server;
        server.tls_cert_file = Some(PathBuf::from("/etc/api.pem"));
        assert!(HttpConfig::from_settings(&server).tls.is_none());
        server.tls_key_file = Some(PathBuf::from("/etc/api.key"));
        let tls = HttpConfig::from_settings(&server).tls.unwrap();
        assert_eq!(
            (tls.cert_file, tls.key_file),
            (PathBuf::from("/etc/api.pem"), PathBuf::from("/etc/api.key"))
        );
    }
}
