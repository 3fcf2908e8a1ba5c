//! Conversions into the engine's configuration, and a printable (redacted) view. The
//! HTTP layer builds its own configuration from [`ServerSettings`](crate::ServerSettings).

use std::time::Duration;

use sessiondb_engine::config::{
    CleanupConfig, ConnectionConfig, DeletionPolicy, Durability, EngineConfig, EventsConfig,
    RefreshPolicy, SessionPolicy, TlsConfig, Topology,
};

use crate::model::{DurabilityMode, NodeAddr, RedisMode, Settings};
use crate::schema::KEYS;

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
    pub(crate) fn engine_durability(&self) -> Durability {
        let r = &self.redis;
        match r.durability {
            DurabilityMode::Async => Durability::Async,
            DurabilityMode::Replicated => Durability::Replicated {
                replicas: r.wait_replicas,
                timeout: Duration::from_millis(r.wait_timeout_ms),
            },
        }
    }

    /// Threads of `serve`'s async runtime on a machine with `cpus` CPUs:
    /// `server.worker_threads` when set; else one per CPU, less one left to Redis when
    /// it runs on this host ([`Settings::redis_on_this_host`]), and at least one. A Redis
    /// on the same CPUs runs on one thread of its own; runtime threads beyond the other
    /// CPUs only take turns with it and with each other (measured in docs/benchmarks.md,
    /// "One core left to Redis").
    pub fn worker_threads(&self, cpus: usize) -> usize {
        match self.server.worker_threads {
            Some(threads) => usize::try_from(threads).unwrap_or(usize::MAX),
            None if self.redis_on_this_host() => cpus.saturating_sub(1).max(1),
            None => cpus.max(1),
        }
    }

    /// Whether the Redis this instance uses runs on this host: the embedded one, or
    /// every configured address is a loopback one (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn redis_on_this_host(&self) -> bool {
        let r = &self.redis;
        let loopback = |host: &str| {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        };
        match r.mode {
            RedisMode::Embedded => true,
            RedisMode::Standalone => loopback(r.host.as_deref().unwrap_or(DEFAULT_STANDALONE_HOST)),
            RedisMode::Sentinel => r.sentinels.iter().all(|n| loopback(&n.host)),
            RedisMode::Cluster => r.cluster_nodes.iter().all(|n| loopback(&n.host)),
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
            password_from: Some("redis.password".to_owned()),
            database: r.db,
            tls,
            pool_size: r.pool_size,
            command_timeout: Duration::from_millis(r.command_timeout_ms),
            read_from: r.read_from,
        })
    }

    /// Every key with its current value as text, in the order of the reference docs,
    /// for `status`-style output: secrets print as `<redacted>` when set, unset
    /// optional values as `(not set)`, empty lists as `(empty)`; API keys show their
    /// names and scopes, never their hashes.
    pub fn redacted_values(&self) -> Vec<(&'static str, String)> {
        KEYS.iter()
            .map(|k| (k.path, (k.get)(self).shown()))
            .collect()
    }
}
