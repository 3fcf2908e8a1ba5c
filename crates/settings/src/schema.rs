//! The table of every setting: its dotted key, its kind and static range, its default as
//! shown in the docs, and the environment variable derived from the key.
//!
//! The loader consults this table to reject unknown keys, to parse strings from the
//! environment and from overrides, and to check static ranges before deserializing;
//! `validate` reuses the ranges for settings built in code.

use std::fmt;

/// An inclusive range of allowed integers, printed as `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) min: u64,
    pub(crate) max: u64,
}

impl Range {
    const fn new(min: u64, max: u64) -> Self {
        Self { min, max }
    }

    pub(crate) fn contains(self, value: u64) -> bool {
        self.min <= value && value <= self.max
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

/// What kind of value a key holds, which decides how strings are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A non-empty string.
    Str,
    /// A non-empty string that is never printed.
    Secret,
    /// A `redis://` or `rediss://` URL; secret because it may hold a password.
    Url,
    /// A file path (relative paths in the config file are relative to that file).
    Path,
    /// `true`/`false` (from strings also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A non-negative integer within a static range.
    UInt(Range),
    /// One of a fixed set of names, case-insensitive.
    Enum(&'static [&'static str]),
    /// A list of `host:port` entries (a TOML array, or comma-separated in a string).
    NodeList,
    /// An IP address and port, e.g. `127.0.0.1:8080`.
    SocketAddr,
    /// A list of CORS origins, each `http://` or `https://` plus a host and optional
    /// port (a TOML array, or comma-separated in a string).
    OriginList,
    /// A list of IP addresses or CIDR networks, e.g. `10.0.0.0/8, 192.168.1.7` (a TOML
    /// array, or comma-separated in a string).
    NetworkList,
    /// A list of API keys: in TOML an array of `{ name, sha256, scopes }` tables, in a
    /// string `name:sha256:scope,scope;name2:...`. The hashes are never printed.
    ApiKeys,
}

impl Kind {
    /// Whether values of this kind must never be printed.
    pub(crate) fn is_secret(self) -> bool {
        matches!(self, Kind::Secret | Kind::Url)
    }

    /// Whether error messages must not repeat a value of this kind as given: secrets,
    /// and API key lists (their hashes are treated as secret-ish).
    pub(crate) fn hides_value(self) -> bool {
        self.is_secret() || matches!(self, Kind::ApiKeys)
    }

    /// What a value of this kind looks like, for "expected …" messages.
    pub(crate) fn expected(self) -> String {
        match self {
            Kind::Str | Kind::Secret | Kind::Path => "a non-empty string".to_owned(),
            Kind::Url => "a redis:// or rediss:// URL".to_owned(),
            Kind::Bool => "true or false".to_owned(),
            Kind::UInt(range) => format!("an integer in {range}"),
            Kind::Enum(names) => format!("one of {}", names.join(", ")),
            Kind::NodeList => "a list of host:port entries".to_owned(),
            Kind::SocketAddr => "an IP address and port, e.g. 127.0.0.1:8080".to_owned(),
            Kind::OriginList => "a list of http:// or https:// origins".to_owned(),
            Kind::NetworkList => "a list of IP addresses or CIDR networks".to_owned(),
            Kind::ApiKeys => "a list of API keys (name, sha256, scopes)".to_owned(),
        }
    }

    /// The allowed values, as written in the reference docs.
    pub(crate) fn allowed(self) -> String {
        match self {
            Kind::UInt(range) => range.to_string(),
            Kind::Enum(names) => names.join(", "),
            other => other.expected(),
        }
    }
}

/// One setting.
#[derive(Debug)]
pub(crate) struct KeySpec {
    /// Dotted key, e.g. `session.idle_ttl_seconds`.
    pub(crate) path: &'static str,
    /// How values are parsed and which static range applies.
    pub(crate) kind: Kind,
    /// The default, exactly as [`crate::Settings::redacted_values`] prints it.
    pub(crate) default: &'static str,
}

impl KeySpec {
    /// The `SESSIONDB_<SECTION>__<KEY>` environment variable for this key.
    pub(crate) fn env_var(&self) -> String {
        format!(
            "{ENV_PREFIX}{}",
            self.path.replace('.', "__").to_ascii_uppercase()
        )
    }
}

/// Prefix of every environment variable that names a setting.
pub(crate) const ENV_PREFIX: &str = "SESSIONDB_";

/// Value printed in place of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// Printed for an optional value that is not set.
pub(crate) const NOT_SET: &str = "(not set)";

/// Default of `embedded.data_dir`, relative to the working directory.
pub(crate) const DEFAULT_EMBEDDED_DATA_DIR: &str = ".sessiondb/embedded";

/// Printed for an empty list.
pub(crate) const EMPTY: &str = "(empty)";

const DAY: u64 = 24 * 3600;

/// Allowed Redis database numbers outside Cluster.
pub(crate) const DB: Range = Range::new(0, 15);
/// Allowed idle timeouts (default and window bounds).
pub(crate) const IDLE_TTL: Range = Range::new(60, DAY);
/// Allowed absolute session lifetimes (the lower bound is also `idle_ttl_seconds`).
pub(crate) const ABSOLUTE_TTL: Range = Range::new(60, 30 * DAY);
/// Allowed touch intervals (the upper bound is also `idle_ttl_seconds`).
pub(crate) const TOUCH_INTERVAL: Range = Range::new(0, 3600);
/// Allowed refresh-family lifetimes.
pub(crate) const REFRESH_TTL: Range = Range::new(DAY, 30 * DAY);
/// Allowed refresh-family idle limits (the upper bound is also `refresh.ttl_seconds`).
pub(crate) const REFRESH_IDLE_TTL: Range = Range::new(60, 30 * DAY);
/// Allowed cleanup lease durations.
pub(crate) const CLEANUP_LEASE: Range = Range::new(10, DAY);
/// Allowed sustained rates of the HTTP rate limits, per minute.
pub(crate) const RATE_PER_MINUTE: Range = Range::new(1, 100_000);
/// Allowed bursts of the HTTP rate limits.
pub(crate) const RATE_BURST: Range = Range::new(1, 10_000);
/// The longest default cleanup lease (the default is twice the interval, at most this).
pub(crate) const DEFAULT_LEASE_CAP: u64 = 3600;

const MODES: &[&str] = &["embedded", "standalone", "sentinel", "cluster"];
const DURABILITIES: &[&str] = &["async", "replicated"];
const READ_FROM: &[&str] = &["master", "replica_preferred"];
const CAP_POLICIES: &[&str] = &["evict_lru", "reject"];
const REUSE_SCOPES: &[&str] = &["family", "user"];
const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];
const LOG_FORMATS: &[&str] = &["text", "json"];

const fn key(path: &'static str, kind: Kind, default: &'static str) -> KeySpec {
    KeySpec {
        path,
        kind,
        default,
    }
}

const fn uint(min: u64, max: u64) -> Kind {
    Kind::UInt(Range::new(min, max))
}

/// Every setting, in the order of the reference docs.
pub(crate) static KEYS: &[KeySpec] = &[
    key("key_prefix", Kind::Str, "sdb"),
    key("redis.mode", Kind::Enum(MODES), "(inferred)"),
    key("redis.url", Kind::Url, NOT_SET),
    key("redis.host", Kind::Str, NOT_SET),
    key("redis.port", uint(1, 65535), "6379"),
    key("redis.username", Kind::Str, NOT_SET),
    key("redis.password", Kind::Secret, NOT_SET),
    key("redis.db", Kind::UInt(DB), "0"),
    key("redis.sentinels", Kind::NodeList, EMPTY),
    key("redis.sentinel_service", Kind::Str, "sessiondb"),
    key("redis.sentinel_username", Kind::Str, NOT_SET),
    key("redis.sentinel_password", Kind::Secret, NOT_SET),
    key("redis.cluster_nodes", Kind::NodeList, EMPTY),
    key("redis.pool_size", uint(1, 256), "8"),
    key("redis.command_timeout_ms", uint(10, 60_000), "1000"),
    key("redis.durability", Kind::Enum(DURABILITIES), "async"),
    key("redis.wait_replicas", uint(1, 16), "1"),
    key("redis.wait_timeout_ms", uint(10, 60_000), "1000"),
    key("redis.read_from", Kind::Enum(READ_FROM), "master"),
    key("redis.tls.enabled", Kind::Bool, "false"),
    key("redis.tls.ca_file", Kind::Path, NOT_SET),
    key("redis.tls.client_cert_file", Kind::Path, NOT_SET),
    key("redis.tls.client_key_file", Kind::Path, NOT_SET),
    key("redis.tls.server_name", Kind::Str, NOT_SET),
    key("embedded.data_dir", Kind::Path, DEFAULT_EMBEDDED_DATA_DIR),
    key("embedded.redis_server", Kind::Path, NOT_SET),
    key("embedded.port", uint(0, 65535), "0"),
    key("session.idle_ttl_seconds", Kind::UInt(IDLE_TTL), "3600"),
    key("session.min_idle_ttl_seconds", Kind::UInt(IDLE_TTL), "60"),
    key(
        "session.max_idle_ttl_seconds",
        Kind::UInt(IDLE_TTL),
        "86400",
    ),
    key(
        "session.absolute_ttl_seconds",
        Kind::UInt(ABSOLUTE_TTL),
        "86400",
    ),
    key(
        "session.touch_interval_seconds",
        Kind::UInt(TOUCH_INTERVAL),
        "60",
    ),
    key("session.max_per_user", uint(1, 1_000), "5"),
    key("session.cap_policy", Kind::Enum(CAP_POLICIES), "evict_lru"),
    key("session.max_data_bytes", uint(2, 1_048_576), "16384"),
    key("refresh.ttl_seconds", Kind::UInt(REFRESH_TTL), "604800"),
    key(
        "refresh.idle_ttl_seconds",
        Kind::UInt(REFRESH_IDLE_TTL),
        NOT_SET,
    ),
    key("refresh.grace_seconds", uint(0, 30), "10"),
    key("refresh.reuse_scope", Kind::Enum(REUSE_SCOPES), "family"),
    key("deletion.ttl_seconds", uint(300, 7 * DAY), "86400"),
    key("cleanup.enabled", Kind::Bool, "true"),
    key("cleanup.interval_seconds", uint(10, DAY), "300"),
    key("cleanup.batch_size", uint(1, 10_000), "200"),
    key("cleanup.lease_seconds", Kind::UInt(CLEANUP_LEASE), "600"),
    key("events.enabled", Kind::Bool, "true"),
    key("events.max_len", uint(100, 100_000_000), "100000"),
    key("log.level", Kind::Enum(LOG_LEVELS), "info"),
    key("log.format", Kind::Enum(LOG_FORMATS), "text"),
    key("server.listen", Kind::SocketAddr, "127.0.0.1:8080"),
    key("server.admin_listen", Kind::SocketAddr, "127.0.0.1:9090"),
    key("server.api_keys", Kind::ApiKeys, EMPTY),
    key("server.max_body_bytes", uint(1024, 16_777_216), "65536"),
    key("server.request_timeout_ms", uint(100, 300_000), "10000"),
    key("server.shutdown_grace_seconds", uint(0, 600), "30"),
    key("server.trusted_proxies", Kind::NetworkList, EMPTY),
    key("server.cors_origins", Kind::OriginList, EMPTY),
    key(
        "server.redeem_rate_per_minute",
        Kind::UInt(RATE_PER_MINUTE),
        "10",
    ),
    key("server.redeem_burst", Kind::UInt(RATE_BURST), "5"),
    key(
        "server.refresh_rate_per_minute",
        Kind::UInt(RATE_PER_MINUTE),
        "60",
    ),
    key("server.refresh_burst", Kind::UInt(RATE_BURST), "10"),
    key("server.tls_cert_file", Kind::Path, NOT_SET),
    key("server.tls_key_file", Kind::Path, NOT_SET),
    key("acl.admin_password", Kind::Secret, NOT_SET),
    key("acl.sentinel_password", Kind::Secret, NOT_SET),
    key("acl.app_password", Kind::Secret, NOT_SET),
    key("acl.monitor_password", Kind::Secret, NOT_SET),
    key("acl.cleanup_password", Kind::Secret, NOT_SET),
    key("acl.backup_password", Kind::Secret, NOT_SET),
];

/// The setting with this dotted key.
pub(crate) fn spec(path: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.path == path)
}

/// The static range of an integer key (`None` for other kinds or unknown keys).
pub(crate) fn range(path: &str) -> Option<Range> {
    match spec(path)?.kind {
        Kind::UInt(range) => Some(range),
        _ => None,
    }
}

/// Every section (TOML table).
pub(crate) const SECTIONS: [&str; 11] = [
    "redis",
    "redis.tls",
    "embedded",
    "session",
    "refresh",
    "deletion",
    "cleanup",
    "events",
    "log",
    "server",
    "acl",
];

/// Whether `path` names a section (a TOML table), e.g. `redis` or `redis.tls`.
pub(crate) fn is_section(path: &str) -> bool {
    KEYS.iter().any(|k| {
        k.path
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The known name closest to `unknown`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (unknown.len() / 4).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| {
            (
                edit_distance(&unknown.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_the_section_double_underscore_rule() {
        let names: Vec<String> = KEYS.iter().map(KeySpec::env_var).collect();
        assert!(names.contains(&"SESSIONDB_SESSION__IDLE_TTL_SECONDS".to_owned()));
        assert!(names.contains(&"SESSIONDB_REDIS__TLS__CA_FILE".to_owned()));
        assert!(names.contains(&"SESSIONDB_KEY_PREFIX".to_owned()));
    }

    #[test]
    fn keys_are_unique_and_sections_are_not_keys() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(KEYS[i + 1..].iter().all(|o| o.path != k.path), "{}", k.path);
            assert!(
                !is_section(k.path),
                "{} is both a key and a section",
                k.path
            );
        }
        assert!(is_section("redis") && is_section("redis.tls") && !is_section("red"));
        for section in SECTIONS {
            assert!(is_section(section), "{section}");
        }
        for k in KEYS {
            if let Some((section, _)) = k.path.rsplit_once('.') {
                assert!(
                    SECTIONS.contains(&section),
                    "{section} missing from SECTIONS"
                );
            }
        }
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let keys = KEYS.iter().map(|k| k.path);
        assert_eq!(
            suggest("session.idle_ttl_second", keys.clone()),
            Some("session.idle_ttl_seconds")
        );
        assert_eq!(suggest("completely.unrelated", keys), None);
    }
}
