//! Engine configuration: the policies the Lua scripts enforce and how to reach Redis.
//!
//! These are plain typed values. Loading them from files, environment variables and flags,
//! and checking them against the ranges operators may choose, is the job of the
//! `sessiondb-settings` crate; the engine only rejects values it cannot work with
//! (see [`EngineConfig::validate`]).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::error::{Error, InvalidInput};

/// Gives a field-less enum its one spelling per value: `NAMES`, a `const fn as_str`,
/// `FromStr` (trimmed, case-insensitive; the error names `$field`) and `Display`.
///
/// ```
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// enum Color { Red, DarkBlue }
/// sessiondb_engine::named_enum!(Color, "paint.color", { Red = "red", DarkBlue = "dark_blue" });
///
/// assert_eq!(Color::NAMES, ["red", "dark_blue"]);
/// assert_eq!(" Dark_Blue ".parse::<Color>().ok(), Some(Color::DarkBlue));
/// assert_eq!(Color::Red.to_string(), "red");
/// ```
#[macro_export]
macro_rules! named_enum {
    ($ty:ident, $field:literal, { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value's name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The value's name in settings, scripts and docs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::InvalidInput;

            /// Parses one of `NAMES`, ignoring case and surrounding blanks.
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                let s = s.trim();
                $(if s.eq_ignore_ascii_case($name) {
                    return Ok($ty::$variant);
                })+
                Err($crate::InvalidInput::new(
                    $field,
                    format!("expected one of {}", Self::NAMES.join(", ")),
                ))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Longest accepted key prefix.
pub const MAX_KEY_PREFIX_LEN: usize = 64;

/// What a key prefix may hold, for messages: the rule [`valid_key_prefix`] checks.
pub const KEY_PREFIX_RULE: &str = "1-64 characters of A-Z a-z 0-9 - _ . :";

/// Whether `prefix` can prefix the engine's keys: [`KEY_PREFIX_RULE`]. Braces, blanks
/// and other separators would break the key schema (`<prefix>:{<tag>}:…`).
pub fn valid_key_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= MAX_KEY_PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Everything the engine needs besides a connection.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Prefix of every key the engine writes (`<prefix>:{<tag>}:…`); lets several
    /// deployments or test cases share one Redis without seeing each other.
    pub key_prefix: String,
    /// Session lifetime rules.
    pub session: SessionPolicy,
    /// Refresh-token family rules.
    pub refresh: RefreshPolicy,
    /// Deletion-token rules.
    pub deletion: DeletionPolicy,
    /// The lifecycle event stream.
    pub events: EventsConfig,
    /// The cleanup pass.
    pub cleanup: CleanupConfig,
    /// When a write counts as done.
    pub durability: Durability,
}

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// As soon as the master applied it. A failover may lose the last writes.
    Async,
    /// After at least `replicas` replicas confirmed it (`WAIT`), within `timeout`;
    /// otherwise the write fails with a retryable error. With Redis's
    /// `min-replicas-to-write`, a failover then loses no acknowledged write.
    Replicated {
        /// Replicas that must confirm each write.
        replicas: u32,
        /// How long to wait for them.
        timeout: Duration,
    },
}

impl Durability {
    /// Connections to open when the pool size is not set (what `sessiondb serve` does):
    /// one when the master's acknowledgement is enough, since commands are pipelined and
    /// one connection lets Redis read and answer more of them per system call; four for
    /// replicated writes, since `WAIT` blocks the connection it is sent on until the
    /// replicas confirm, and writes should wait side by side.
    pub fn default_pool_size(&self) -> usize {
        match self {
            Durability::Async => 1,
            Durability::Replicated { .. } => 4,
        }
    }
}

/// Session lifetime and size rules.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// Idle timeout used when a create does not ask for one.
    pub idle_ttl: Duration,
    /// Shortest idle timeout a create may ask for.
    pub min_idle_ttl: Duration,
    /// Longest idle timeout a create may ask for.
    pub max_idle_ttl: Duration,
    /// No operation extends a session past `created_at + absolute_ttl`.
    pub absolute_ttl: Duration,
    /// A read extends the idle expiry at most once per this interval, so hot
    /// sessions are not rewritten on every request.
    pub touch_interval: Duration,
    /// Live device logins one user may hold (1..=[`MAX_SESSIONS_PER_USER`]): a login
    /// counts while its session or its refresh family is usable. There is no "unlimited":
    /// every per-user script loop stays bounded by this.
    pub max_per_user: u32,
    /// What a create does when the user is at the cap.
    pub cap_policy: CapPolicy,
    /// Largest serialized `data` object, in bytes.
    pub max_data_bytes: usize,
}

/// Highest accepted per-user cap.
pub const MAX_SESSIONS_PER_USER: u32 = 1000;

/// Longest accepted refresh grace window.
pub const MAX_REFRESH_GRACE: Duration = Duration::from_secs(30);

/// What a create does when the user already holds `max_per_user` live sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPolicy {
    /// Revoke the least recently used session (oldest `last_seen_at`) and its family.
    EvictLru,
    /// Fail with `session_limit_reached` and change nothing.
    Reject,
}

crate::named_enum!(CapPolicy, "session.cap_policy", { EvictLru = "evict_lru", Reject = "reject" });

/// What a detected refresh-token reuse revokes besides the login itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReuseScope {
    /// The login: its session and family.
    Family,
    /// Every session and family of the user.
    User,
}

crate::named_enum!(ReuseScope, "refresh.reuse_scope", { Family = "family", User = "user" });

/// Refresh-token family rules.
#[derive(Debug, Clone)]
pub struct RefreshPolicy {
    /// Absolute lifetime of a family, counted from its creation.
    pub ttl: Duration,
    /// Optional idle limit: a family unused for this long stops refreshing.
    pub idle_ttl: Option<Duration>,
    /// How long after a rotation the previous token still returns the same successor.
    pub grace: Duration,
    /// What a detected reuse revokes.
    pub reuse_scope: ReuseScope,
}

/// Deletion-token rules.
#[derive(Debug, Clone)]
pub struct DeletionPolicy {
    /// Lifetime of a deletion token (and of its "spent" marker).
    pub ttl: Duration,
}

/// The capped lifecycle event stream.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Whether lifecycle events are appended to the stream at all.
    pub enabled: bool,
    /// Approximate maximum stream length (`XADD MAXLEN ~`).
    pub max_len: u64,
}

/// The cleanup pass.
#[derive(Debug, Clone)]
pub struct CleanupConfig {
    /// Most ended index entries one cleanup script call removes (bounds how long one
    /// call holds Redis).
    pub batch_size: u32,
    /// How long a cleanup lease is held before another instance may take over.
    pub lease_ttl: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            key_prefix: "sdb".to_owned(),
            session: SessionPolicy {
                idle_ttl: Duration::from_secs(3600),
                min_idle_ttl: Duration::from_secs(60),
                max_idle_ttl: Duration::from_secs(24 * 3600),
                absolute_ttl: Duration::from_secs(24 * 3600),
                touch_interval: Duration::from_secs(60),
                max_per_user: 5,
                cap_policy: CapPolicy::EvictLru,
                max_data_bytes: 16 * 1024,
            },
            refresh: RefreshPolicy {
                ttl: Duration::from_secs(7 * 24 * 3600),
                idle_ttl: None,
                grace: Duration::from_secs(10),
                reuse_scope: ReuseScope::Family,
            },
            deletion: DeletionPolicy {
                ttl: Duration::from_secs(24 * 3600),
            },
            events: EventsConfig {
                enabled: true,
                max_len: 100_000,
            },
            cleanup: CleanupConfig {
                batch_size: 32,
                lease_ttl: Duration::from_secs(120),
            },
            durability: Durability::Async,
        }
    }
}

impl EngineConfig {
    /// Rejects values the engine cannot work with (zero durations, an idle window that
    /// does not contain the default, a prefix that would break the key schema).
    ///
    /// Operator-facing ranges (e.g. idle TTL 60 s–24 h) are checked by the settings layer;
    /// this check is deliberately looser so tests can use short lifetimes.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid =
            |field: &'static str, reason: String| Err(InvalidInput::new(field, reason).into());
        if !valid_key_prefix(&self.key_prefix) {
            return invalid("key_prefix", format!("must be {KEY_PREFIX_RULE}"));
        }
        let s = &self.session;
        let positive = [
            ("session.idle_ttl", s.idle_ttl),
            ("session.min_idle_ttl", s.min_idle_ttl),
            ("session.absolute_ttl", s.absolute_ttl),
            ("refresh.ttl", self.refresh.ttl),
            ("deletion.ttl", self.deletion.ttl),
            ("cleanup.lease_ttl", self.cleanup.lease_ttl),
        ];
        for (field, value) in positive {
            if value.as_millis() == 0 {
                return invalid(field, "must be greater than zero".to_owned());
            }
        }
        if !(s.min_idle_ttl <= s.idle_ttl && s.idle_ttl <= s.max_idle_ttl) {
            return invalid(
                "session.idle_ttl",
                "must lie within [min_idle_ttl, max_idle_ttl]".to_owned(),
            );
        }
        if self.refresh.idle_ttl.is_some_and(|d| d.as_millis() == 0) {
            return invalid("refresh.idle_ttl", "must be greater than zero".to_owned());
        }
        if !(1..=MAX_SESSIONS_PER_USER).contains(&s.max_per_user) {
            return invalid(
                "session.max_per_user",
                format!("must be between 1 and {MAX_SESSIONS_PER_USER}"),
            );
        }
        if self.refresh.grace > MAX_REFRESH_GRACE {
            return invalid(
                "refresh.grace",
                format!("must be at most {} seconds", MAX_REFRESH_GRACE.as_secs()),
            );
        }
        if s.max_data_bytes == 0 {
            return invalid(
                "session.max_data_bytes",
                "must be greater than zero".to_owned(),
            );
        }
        if let Durability::Replicated { replicas, timeout } = self.durability {
            if replicas == 0 || timeout.as_millis() == 0 {
                return invalid(
                    "durability",
                    "replicated durability needs at least one replica and a timeout".to_owned(),
                );
            }
        }
        if self.cleanup.batch_size == 0 {
            return invalid("cleanup.batch_size", "must be greater than zero".to_owned());
        }
        Ok(())
    }
}

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Standalone, Sentinel-managed or Cluster.
    pub topology: Topology,
    /// ACL user name for the data nodes (`None`: the default user).
    pub username: Option<String>,
    /// Password for the data nodes.
    pub password: Option<SecretString>,
    /// Where `password` comes from, named when Redis refuses the login (a setting or
    /// environment variable, e.g. `APP_PASSWORD (acl.app_password)`; never the value).
    pub password_from: Option<String>,
    /// Logical database (standalone and Sentinel only; Cluster has only 0).
    pub database: u8,
    /// TLS towards the data nodes and Sentinels; `None` is plain TCP.
    pub tls: Option<TlsConfig>,
    /// Connections in the pool. Commands are pipelined, so one connection carries any
    /// number of concurrent requests, and the fewer connections, the more commands Redis
    /// reads and answers per system call. A write with replicated durability holds its
    /// connection until the replicas confirm it (`WAIT` blocks the connection it is sent
    /// on), so that mode wants several: see [`Durability::default_pool_size`].
    pub pool_size: usize,
    /// How long one command may take before it fails (and the caller gets
    /// `backend_unavailable`) instead of waiting.
    pub command_timeout: Duration,
    /// Where listings are read. Token checks, caps and every write always go to the
    /// master, whatever this says.
    pub read_from: ReadFrom,
}

/// Where reads that may be slightly stale (listings) go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadFrom {
    /// Every read goes to the master.
    #[default]
    Master,
    /// Listings go to a replica of the current master when one is connected and in
    /// sync, and to the master otherwise (or when the replica fails). A listing may then
    /// lag the master by the replication delay.
    ReplicaPreferred,
}

crate::named_enum!(ReadFrom, "redis.read_from", {
    Master = "master",
    ReplicaPreferred = "replica_preferred",
});

/// Where the data nodes are.
#[derive(Debug, Clone)]
pub enum Topology {
    /// One Redis server.
    Standalone {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A master discovered through Redis Sentinel.
    Sentinel {
        /// Addresses of the Sentinels (any subset that answers is enough).
        sentinels: Vec<(String, u16)>,
        /// The master's service name as configured in Sentinel (`sentinel monitor <name>`).
        service_name: String,
        /// ACL user name for the Sentinels.
        sentinel_username: Option<String>,
        /// Password for the Sentinels.
        sentinel_password: Option<SecretString>,
    },
    /// A Redis Cluster; any reachable node is enough to discover the others.
    Cluster {
        /// Seed nodes.
        nodes: Vec<(String, u16)>,
    },
}

/// TLS towards Redis and Sentinel.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// PEM file with the CA certificates to trust; `None` uses the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for servers that require client authentication.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key_file: Option<PathBuf>,
    /// Name to check the server certificate against, when it differs from the host.
    pub server_name: Option<String>,
}

impl ConnectionConfig {
    /// A standalone server at `host:port` with no authentication.
    pub fn standalone(host: impl Into<String>, port: u16) -> Self {
        Self {
            topology: Topology::Standalone {
                host: host.into(),
                port,
            },
            username: None,
            password: None,
            password_from: None,
            database: 0,
            tls: None,
            pool_size: 1,
            command_timeout: Duration::from_secs(1),
            read_from: ReadFrom::Master,
        }
    }
}
