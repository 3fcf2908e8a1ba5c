//! Conversions into the engine's and the HTTP layer's configuration, and a printable
//! (redacted) view.

use std::time::Duration;

use secrecy::SecretString;
use sessiondb_engine::config::{
    CleanupConfig, ConnectionConfig, DeletionPolicy, Durability, EngineConfig, EventsConfig,
    ReadFrom, RefreshPolicy, SessionPolicy, TlsConfig, Topology,
};
use sessiondb_http::config::{ApiKeyConfig, HttpConfig, ListenerTls, RateLimit};

use crate::api_keys;
use crate::model::{DurabilityMode, NodeAddr, ReadFromMode, RedisMode, Settings};
use crate::schema::{EMPTY, NOT_SET, REDACTED};

/// Host used in standalone mode when `redis.host` is not set.
pub const DEFAULT_STANDALONE_HOST: &str = "127.0.0.1";

impl Settings {
    /// The engine's policies (sessions, refresh and deletion tokens, events, cleanup,
    /// write durability).
    pub fn engine_config(&self) -> EngineConfig {
        let secs = Duration::from_secs;
        let s = &self.session;
        EngineConfig {
            key_prefix: self.key_prefix.clone(),
            session: SessionPolicy {
                idle_ttl: secs(s.idle_ttl_seconds),
                min_idle_ttl: secs(s.min_idle_ttl_seconds),
                max_idle_ttl: secs(s.max_idle_ttl_seconds),
                absolute_ttl: secs(s.absolute_ttl_seconds),
                touch_interval: secs(s.touch_interval_seconds),
                max_per_user: s.max_per_user,
                cap_policy: s.cap_policy,
                max_data_bytes: s.max_data_bytes,
            },
            refresh: RefreshPolicy {
                ttl: secs(self.refresh.ttl_seconds),
                idle_ttl: self.refresh.idle_ttl_seconds.map(secs),
                grace: secs(self.refresh.grace_seconds),
                reuse_scope: self.refresh.reuse_scope,
            },
            deletion: DeletionPolicy {
                ttl: secs(self.deletion.ttl_seconds),
            },
            events: EventsConfig {
                enabled: self.events.enabled,
                max_len: self.events.max_len,
            },
            cleanup: CleanupConfig {
                batch_size: self.cleanup.batch_size,
                lease_ttl: secs(self.cleanup.lease_seconds),
            },
            durability: self.engine_durability(),
        }
    }

    /// The engine's write durability: `redis.durability`, with `redis.wait_replicas`
    /// and `redis.wait_timeout_ms` when it is `replicated`.
    fn engine_durability(&self) -> Durability {
        let r = &self.redis;
        match r.durability {
            DurabilityMode::Async => Durability::Async,
            DurabilityMode::Replicated => Durability::Replicated {
                replicas: r.wait_replicas,
                timeout: Duration::from_millis(r.wait_timeout_ms),
            },
        }
    }

    /// How to reach Redis; `None` in embedded mode, where `serve` starts its own
    /// `redis-server` and builds the connection to it.
    pub fn connection_config(&self) -> Option<ConnectionConfig> {
        let r = &self.redis;
        let nodes = |list: &[NodeAddr]| -> Vec<(String, u16)> {
            list.iter().map(|n| (n.host.clone(), n.port)).collect()
        };
        let topology = match r.mode {
            RedisMode::Embedded => return None,
            RedisMode::Standalone => Topology::Standalone {
                host: r
                    .host
                    .clone()
                    .unwrap_or_else(|| DEFAULT_STANDALONE_HOST.to_owned()),
                port: r.port,
            },
            RedisMode::Sentinel => Topology::Sentinel {
                sentinels: nodes(&r.sentinels),
                service_name: r.sentinel_service.clone(),
                sentinel_username: r.sentinel_username.clone(),
                sentinel_password: r.sentinel_password.clone(),
            },
            RedisMode::Cluster => Topology::Cluster {
                nodes: nodes(&r.cluster_nodes),
            },
        };
        let tls = r.tls.enabled.then(|| TlsConfig {
            ca_file: r.tls.ca_file.clone(),
            client_cert_file: r.tls.client_cert_file.clone(),
            client_key_file: r.tls.client_key_file.clone(),
            server_name: r.tls.server_name.clone(),
        });
        Some(ConnectionConfig {
            topology,
            username: r.username.clone(),
            password: r.password.clone(),
            database: r.db,
            tls,
            pool_size: r.pool_size,
            command_timeout: Duration::from_millis(r.command_timeout_ms),
            read_from: match r.read_from {
                ReadFromMode::Master => ReadFrom::Master,
                ReadFromMode::ReplicaPreferred => ReadFrom::ReplicaPreferred,
            },
        })
    }

    /// The HTTP layer's configuration (listeners, API keys, limits, CORS, TLS). With
    /// the built-in defaults it equals [`HttpConfig::default`].
    pub fn http_config(&self) -> HttpConfig {
        let srv = &self.server;
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

    /// Every key with its current value as text, in the order of the reference docs,
    /// for `status`-style output: secrets print as `<redacted>` when set, unset
    /// optional values as `(not set)`, empty lists as `(empty)`; API keys show their
    /// names and scopes, never their hashes.
    pub fn redacted_values(&self) -> Vec<(&'static str, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| NOT_SET.to_owned());
        let secret =
            |v: &Option<SecretString>| if v.is_some() { REDACTED } else { NOT_SET }.to_owned();
        let path = |v: &Option<std::path::PathBuf>| {
            v.as_ref()
                .map_or_else(|| NOT_SET.to_owned(), |p| p.display().to_string())
        };
        fn list<T: ToString>(v: &[T]) -> String {
            if v.is_empty() {
                EMPTY.to_owned()
            } else {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        let (r, s, c) = (&self.redis, &self.session, &self.cleanup);
        let (a, e, srv) = (&self.acl, &self.embedded, &self.server);
        vec![
            ("key_prefix", self.key_prefix.clone()),
            ("redis.mode", r.mode.to_string()),
            ("redis.url", secret(&r.url)),
            ("redis.host", opt(&r.host)),
            ("redis.port", r.port.to_string()),
            ("redis.username", opt(&r.username)),
            ("redis.password", secret(&r.password)),
            ("redis.db", r.db.to_string()),
            ("redis.sentinels", list(&r.sentinels)),
            ("redis.sentinel_service", r.sentinel_service.clone()),
            ("redis.sentinel_username", opt(&r.sentinel_username)),
            ("redis.sentinel_password", secret(&r.sentinel_password)),
            ("redis.cluster_nodes", list(&r.cluster_nodes)),
            ("redis.pool_size", r.pool_size.to_string()),
            ("redis.command_timeout_ms", r.command_timeout_ms.to_string()),
            ("redis.durability", r.durability.to_string()),
            ("redis.wait_replicas", r.wait_replicas.to_string()),
            ("redis.wait_timeout_ms", r.wait_timeout_ms.to_string()),
            ("redis.read_from", r.read_from.to_string()),
            ("redis.tls.enabled", r.tls.enabled.to_string()),
            ("redis.tls.ca_file", path(&r.tls.ca_file)),
            ("redis.tls.client_cert_file", path(&r.tls.client_cert_file)),
            ("redis.tls.client_key_file", path(&r.tls.client_key_file)),
            ("redis.tls.server_name", opt(&r.tls.server_name)),
            ("embedded.data_dir", e.data_dir.display().to_string()),
            ("embedded.redis_server", path(&e.redis_server)),
            ("embedded.port", e.port.to_string()),
            ("session.idle_ttl_seconds", s.idle_ttl_seconds.to_string()),
            (
                "session.min_idle_ttl_seconds",
                s.min_idle_ttl_seconds.to_string(),
            ),
            (
                "session.max_idle_ttl_seconds",
                s.max_idle_ttl_seconds.to_string(),
            ),
            (
                "session.absolute_ttl_seconds",
                s.absolute_ttl_seconds.to_string(),
            ),
            (
                "session.touch_interval_seconds",
                s.touch_interval_seconds.to_string(),
            ),
            ("session.max_per_user", s.max_per_user.to_string()),
            (
                "session.cap_policy",
                cap_policy_name(s.cap_policy).to_owned(),
            ),
            ("session.max_data_bytes", s.max_data_bytes.to_string()),
            ("refresh.ttl_seconds", self.refresh.ttl_seconds.to_string()),
            (
                "refresh.idle_ttl_seconds",
                opt(&self.refresh.idle_ttl_seconds.map(|n| n.to_string())),
            ),
            (
                "refresh.grace_seconds",
                self.refresh.grace_seconds.to_string(),
            ),
            (
                "refresh.reuse_scope",
                reuse_scope_name(self.refresh.reuse_scope).to_owned(),
            ),
            (
                "deletion.ttl_seconds",
                self.deletion.ttl_seconds.to_string(),
            ),
            ("cleanup.enabled", c.enabled.to_string()),
            ("cleanup.interval_seconds", c.interval_seconds.to_string()),
            ("cleanup.batch_size", c.batch_size.to_string()),
            ("cleanup.lease_seconds", c.lease_seconds.to_string()),
            ("events.enabled", self.events.enabled.to_string()),
            ("events.max_len", self.events.max_len.to_string()),
            ("log.level", self.log.level.to_string()),
            ("log.format", self.log.format.to_string()),
            ("server.listen", self.server.listen.to_string()),
            ("server.admin_listen", self.server.admin_listen.to_string()),
            ("server.api_keys", api_keys::describe(&srv.api_keys)),
            ("server.max_body_bytes", srv.max_body_bytes.to_string()),
            (
                "server.request_timeout_ms",
                srv.request_timeout_ms.to_string(),
            ),
            (
                "server.shutdown_grace_seconds",
                srv.shutdown_grace_seconds.to_string(),
            ),
            ("server.trusted_proxies", list(&srv.trusted_proxies)),
            ("server.cors_origins", list(&srv.cors_origins)),
            (
                "server.redeem_rate_per_minute",
                srv.redeem_rate_per_minute.to_string(),
            ),
            ("server.redeem_burst", srv.redeem_burst.to_string()),
            (
                "server.refresh_rate_per_minute",
                srv.refresh_rate_per_minute.to_string(),
            ),
            ("server.refresh_burst", srv.refresh_burst.to_string()),
            ("server.tls_cert_file", path(&srv.tls_cert_file)),
            ("server.tls_key_file", path(&srv.tls_key_file)),
            ("acl.admin_password", secret(&a.admin_password)),
            ("acl.sentinel_password", secret(&a.sentinel_password)),
            ("acl.app_password", secret(&a.app_password)),
            ("acl.monitor_password", secret(&a.monitor_password)),
            ("acl.cleanup_password", secret(&a.cleanup_password)),
            ("acl.backup_password", secret(&a.backup_password)),
        ]
    }
}

fn cap_policy_name(p: sessiondb_engine::config::CapPolicy) -> &'static str {
    match p {
        sessiondb_engine::config::CapPolicy::EvictLru => "evict_lru",
        sessiondb_engine::config::CapPolicy::Reject => "reject",
    }
}

fn reuse_scope_name(s: sessiondb_engine::config::ReuseScope) -> &'static str {
    match s {
        sessiondb_engine::config::ReuseScope::Family => "family",
        sessiondb_engine::config::ReuseScope::User => "user",
    }
}
