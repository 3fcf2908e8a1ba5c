//! The typed settings.
//!
//! Every section denies unknown fields. The defaults are declared with each key in
//! `schema` and are the first layer [`Settings::load`](crate::Settings::load) merges, so
//! a config file may hold any subset of keys; [`Settings::default`] is that layer alone.
//! Values are checked by [`Settings::load`](crate::Settings::load) and
//! [`Settings::validate`].

mod serve;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use sessiondb_engine::config::{CapPolicy, ReuseScope};
use sessiondb_engine::named_enum;

/// Where listings are read (`redis.read_from`): the engine's own type.
pub use sessiondb_engine::config::ReadFrom as ReadFromMode;

pub use serve::{ApiKeySettings, EmbeddedSettings, Scope, ServerSettings};

/// All sessiondb settings. See `docs/configuration.md` for every key, its environment
/// variable, default and range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Prefix of every Redis key sessiondb writes (1-64 characters of `[A-Za-z0-9-_.:]`).
    pub key_prefix: String,
    /// How to reach Redis.
    pub redis: RedisSettings,
    /// The local `redis-server` that `serve` runs when `redis.mode = embedded`.
    pub embedded: EmbeddedSettings,
    /// Session lifetime and size rules.
    pub session: SessionSettings,
    /// Refresh-token family rules.
    pub refresh: RefreshSettings,
    /// Deletion-token rules.
    pub deletion: DeletionSettings,
    /// The cleanup pass.
    pub cleanup: CleanupSettings,
    /// The lifecycle event stream.
    pub events: EventsSettings,
    /// Logging.
    pub log: LogSettings,
    /// The HTTP layer: listeners, API keys, limits.
    pub server: ServerSettings,
    /// Passwords of the six Redis ACL roles (for `sessiondb acl generate`).
    pub acl: AclSettings,
}

/// Where Redis is and how to talk to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// The topology. When no layer sets it, [`Settings::load`](crate::Settings::load)
    /// infers it: `standalone` when `host` (or `url`) is set, `sentinel` when
    /// `sentinels` is, `cluster` when `cluster_nodes` is, else `embedded`.
    #[serde(deserialize_with = "by_name")]
    pub mode: RedisMode,
    /// Whether a layer set `mode` (rather than it being inferred). `serve` starts the
    /// embedded default where it cannot be a first run on a workstation only when asked
    /// for explicitly.
    #[serde(skip)]
    pub mode_explicit: bool,
    /// The URL as given (`redis://` or `rediss://`). Its parts were applied to `host`,
    /// `port`, `db`, `tls.enabled` and, when present, `username`/`password` at the
    /// layer that set it; later layers may have overridden them.
    pub url: Option<SecretString>,
    /// Standalone server host; `127.0.0.1` when unset in standalone mode.
    pub host: Option<String>,
    /// Standalone server port.
    pub port: u16,
    /// ACL user name for the data nodes (`None`: the default user).
    pub username: Option<String>,
    /// Password for the data nodes.
    pub password: Option<SecretString>,
    /// Logical database (must be 0 in cluster mode).
    pub db: u8,
    /// Sentinel addresses (sentinel mode).
    pub sentinels: Vec<NodeAddr>,
    /// The master's name in Sentinel (`sentinel monitor <name>`).
    pub sentinel_service: String,
    /// ACL user name for the Sentinels.
    pub sentinel_username: Option<String>,
    /// Password for the Sentinels.
    pub sentinel_password: Option<SecretString>,
    /// Cluster seed nodes (cluster mode).
    pub cluster_nodes: Vec<NodeAddr>,
    /// Connections in the pool (derived from `durability` when unset: 1 for async, 4 for
    /// replicated).
    pub pool_size: usize,
    /// How long one command may take, in milliseconds.
    pub command_timeout_ms: u64,
    /// When a write counts as done: on the master (`async`), or after `WAIT` confirmed
    /// it on `wait_replicas` replicas within `wait_timeout_ms` (`replicated`).
    #[serde(deserialize_with = "by_name")]
    pub durability: DurabilityMode,
    /// Replicas that must confirm each write when `durability = replicated`.
    pub wait_replicas: u32,
    /// How long a write waits for its replicas when `durability = replicated`, in
    /// milliseconds.
    pub wait_timeout_ms: u64,
    /// Where listings are read: `master`, or `replica_preferred` (a replica of the
    /// current master when one is in sync). Token checks and writes always use the
    /// master.
    #[serde(deserialize_with = "by_name")]
    pub read_from: ReadFromMode,
    /// TLS towards Redis and Sentinel.
    pub tls: TlsSettings,
}

/// How sessiondb reaches Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisMode {
    /// `sessiondb serve` starts and supervises its own local `redis-server`.
    Embedded,
    /// One Redis server at `host:port`.
    Standalone,
    /// A master discovered through the Sentinels in `sentinels`.
    Sentinel,
    /// A Redis Cluster seeded by `cluster_nodes`.
    Cluster,
}

named_enum!(RedisMode, "redis.mode", {
    Embedded = "embedded",
    Standalone = "standalone",
    Sentinel = "sentinel",
    Cluster = "cluster",
});

/// When a write is acknowledged (`redis.durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurabilityMode {
    /// As soon as the master applied it; a failover may lose the last writes.
    Async,
    /// After `WAIT` confirmed it on `redis.wait_replicas` replicas within
    /// `redis.wait_timeout_ms`; otherwise the write fails with the retryable
    /// `not_replicated` error. Not available with `redis.mode = embedded`.
    Replicated,
}

named_enum!(DurabilityMode, "redis.durability", { Async = "async", Replicated = "replicated" });

/// A `host:port` address of a Sentinel or Cluster node (IPv6 hosts in brackets:
/// `[::1]:26379`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct NodeAddr {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port (1-65535).
    pub port: u16,
}

impl FromStr for NodeAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| "expected host:port".to_owned())?;
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or_else(|| "unclosed [ in IPv6 address".to_owned())?,
            None if host.contains(':') => {
                return Err("write IPv6 addresses in brackets, e.g. [::1]:26379".to_owned())
            }
            None => host,
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err("expected host:port with a non-empty host".to_owned());
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| "the port must be a number in 1..=65535".to_owned())?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl TryFrom<String> for NodeAddr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// TLS towards Redis and Sentinel (rustls).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Whether to use TLS; set by a `rediss://` URL.
    pub enabled: bool,
    /// PEM CA certificates to trust; the system roots when unset.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (needs `client_key_file`).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (needs `client_cert_file`).
    pub client_key_file: Option<PathBuf>,
    /// Name to check the server certificate against, when it differs from the host.
    pub server_name: Option<String>,
}

/// Session lifetime and size rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Idle timeout used when a create does not ask for one.
    pub idle_ttl_seconds: u64,
    /// Shortest idle timeout a create may ask for.
    pub min_idle_ttl_seconds: u64,
    /// Longest idle timeout a create may ask for.
    pub max_idle_ttl_seconds: u64,
    /// No operation extends a session past its creation plus this.
    pub absolute_ttl_seconds: u64,
    /// A read extends the idle expiry at most once per this interval (0: every read).
    pub touch_interval_seconds: u64,
    /// Live sessions one user may hold; 0 means unlimited.
    pub max_per_user: u32,
    /// What a create does when the user is at the cap.
    #[serde(deserialize_with = "by_name")]
    pub cap_policy: CapPolicy,
    /// Largest serialized `data` object, in bytes.
    pub max_data_bytes: usize,
}

/// Refresh-token family rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshSettings {
    /// Absolute lifetime of a family, counted from its creation.
    pub ttl_seconds: u64,
    /// Optional idle limit: a family unused for this long stops refreshing.
    pub idle_ttl_seconds: Option<u64>,
    /// How long after a rotation the previous token still returns the same successor.
    pub grace_seconds: u64,
    /// What a detected reuse revokes besides the family.
    #[serde(deserialize_with = "by_name")]
    pub reuse_scope: ReuseScope,
}

/// Deletion-token rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionSettings {
    /// Lifetime of a deletion token.
    pub ttl_seconds: u64,
}

/// The cleanup pass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupSettings {
    /// Whether `serve` runs the cleanup loop.
    pub enabled: bool,
    /// Seconds between two cleanup passes.
    pub interval_seconds: u64,
    /// Most due index entries processed per script call.
    pub batch_size: u32,
    /// How long a cleanup lease is held before another instance may take over. When no
    /// layer sets it, [`Settings::load`](crate::Settings::load) derives it: twice
    /// `interval_seconds`, at most 3600.
    pub lease_seconds: u64,
}

/// The lifecycle event stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// Whether lifecycle events are appended to the stream.
    pub enabled: bool,
    /// Approximate maximum stream length (`XADD MAXLEN ~`).
    pub max_len: u64,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Least severe level written.
    #[serde(deserialize_with = "by_name")]
    pub level: LogLevel,
    /// Output format.
    #[serde(deserialize_with = "by_name")]
    pub format: LogFormat,
}

/// Log verbosity (case-insensitive in every layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Problems that were handled.
    Warn,
    /// Failures.
    Error,
}

named_enum!(LogLevel, "log.level", {
    Trace = "trace",
    Debug = "debug",
    Info = "info",
    Warn = "warn",
    Error = "error",
});

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

named_enum!(LogFormat, "log.format", { Text = "text", Json = "json" });

/// Passwords of the six Redis ACL roles; `sessiondb acl generate` turns them into a
/// `users.acl` file. Never printed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclSettings {
    /// The `admin` role (also the `default` user).
    pub admin_password: Option<SecretString>,
    /// The `sentinel` role, used by Sentinels to monitor and fail over the data nodes.
    pub sentinel_password: Option<SecretString>,
    /// The `app` role, used by the engine.
    pub app_password: Option<SecretString>,
    /// The `monitor` role, used by redis_exporter.
    pub monitor_password: Option<SecretString>,
    /// The `cleanup` role, used by `sessiondb cleanup`.
    pub cleanup_password: Option<SecretString>,
    /// The `backup` role, used by `sessiondb backup`.
    pub backup_password: Option<SecretString>,
}

impl AclSettings {
    /// The password of `role` (`None`: not set).
    pub fn password(&self, role: sessiondb_acl::Role) -> Option<&SecretString> {
        use sessiondb_acl::Role;
        match role {
            Role::Admin => self.admin_password.as_ref(),
            Role::Sentinel => self.sentinel_password.as_ref(),
            Role::App => self.app_password.as_ref(),
            Role::Monitor => self.monitor_password.as_ref(),
            Role::Cleanup => self.cleanup_password.as_ref(),
            Role::Backup => self.backup_password.as_ref(),
        }
    }
}

/// Deserializes a named value (an enum of settings or of the engine) through its
/// `FromStr`, the one place its names are spelled.
pub(crate) fn by_name<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}
