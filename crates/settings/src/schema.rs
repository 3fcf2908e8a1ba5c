//! The declaration of every setting, one entry each: its dotted key, its kind and static
//! range (which also say whether it is a secret), its default, whether it says where
//! Redis is or how to log in to it, and how to read its value from [`Settings`].
//!
//! Everything else is derived from this table: the built-in defaults
//! ([`Settings::default`]), the environment variable names, unknown-key errors, the
//! parsing of strings and TOML values (`value`), the static range checks and non-empty
//! checks of `validate`, the redacted listing ([`Settings::redacted_values`]), the
//! `--local` filtering of connection variables ([`crate::sets_connection`]) and the
//! reference-docs check ([`crate::keys`]).

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use sessiondb_engine::config::{CapPolicy, ReadFrom, ReuseScope};

use crate::model::{DurabilityMode, LogFormat, LogLevel, RedisMode, Settings};

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

/// A key's built-in default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Def {
    /// This value, written as in an environment variable and parsed like one.
    Value(&'static str),
    /// No value (an optional setting).
    Unset,
    /// An empty list.
    Empty,
    /// Inferred from other settings when no layer sets it (`redis.mode`); this value
    /// before that.
    Inferred(&'static str),
}

impl Def {
    /// The default as [`Settings::redacted_values`] prints it and the docs show it.
    pub(crate) fn shown(self) -> &'static str {
        match self {
            Def::Value(value) => value,
            Def::Unset => NOT_SET,
            Def::Empty => EMPTY,
            Def::Inferred(_) => INFERRED,
        }
    }

    /// The value to parse for [`Settings::default`], `None` for an unset option.
    pub(crate) fn value(self) -> Option<&'static str> {
        match self {
            Def::Value(value) | Def::Inferred(value) => Some(value),
            Def::Empty => Some(""),
            Def::Unset => None,
        }
    }
}

/// A key's current value, read from typed [`Settings`] for the listing and the checks.
pub(crate) enum Current {
    /// An integer (`None`: an unset option).
    Int(Option<u64>),
    /// A value printed as-is (`None`: an unset option).
    Text(Option<String>),
    /// A secret: only whether it is set.
    Secret(bool),
    /// A list, each entry as text.
    List(Vec<String>),
}

impl Current {
    /// The value as [`Settings::redacted_values`] prints it.
    pub(crate) fn shown(self) -> String {
        match self {
            Current::Int(Some(n)) => n.to_string(),
            Current::Text(Some(text)) => text,
            Current::Int(None) | Current::Text(None) | Current::Secret(false) => NOT_SET.to_owned(),
            Current::Secret(true) => REDACTED.to_owned(),
            Current::List(entries) if entries.is_empty() => EMPTY.to_owned(),
            Current::List(entries) => entries.join(","),
        }
    }
}

/// One setting.
pub(crate) struct KeySpec {
    /// Dotted key, e.g. `session.idle_ttl_seconds`.
    pub(crate) path: &'static str,
    /// How values are parsed, which static range applies, whether it is secret.
    pub(crate) kind: Kind,
    /// The built-in default.
    pub(crate) default: Def,
    /// Whether it says where Redis is or how to log in to it (the Redis address and
    /// credentials, TLS towards Redis, the role passwords): under `serve --local` only
    /// the stack sets these.
    pub(crate) connection: bool,
    /// Reads the key's value.
    pub(crate) get: fn(&Settings) -> Current,
}

impl fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySpec")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
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

/// Printed for an empty list.
pub(crate) const EMPTY: &str = "(empty)";

/// Printed as the default of a key derived from others.
const INFERRED: &str = "(inferred)";

const DAY: u64 = 24 * 3600;

/// Allowed idle timeouts (default and window bounds).
pub(crate) const IDLE_TTL: Range = Range::new(60, DAY);
/// Allowed absolute session lifetimes (the lower bound is also `idle_ttl_seconds`).
pub(crate) const ABSOLUTE_TTL: Range = Range::new(60, 30 * DAY);
/// Allowed touch intervals (the upper bound is also `idle_ttl_seconds`).
pub(crate) const TOUCH_INTERVAL: Range = Range::new(0, 3600);
/// Allowed refresh-family lifetimes.
const REFRESH_TTL: Range = Range::new(DAY, 30 * DAY);
/// Allowed refresh-family idle limits (the upper bound is also `refresh.ttl_seconds`).
pub(crate) const REFRESH_IDLE_TTL: Range = Range::new(60, 30 * DAY);
/// Allowed sustained rates of the HTTP rate limits, per minute.
const RATE_PER_MINUTE: Range = Range::new(1, 100_000);
/// Allowed bursts of the HTTP rate limits.
const RATE_BURST: Range = Range::new(1, 10_000);
/// The longest default cleanup lease (the default is twice the interval, at most this).
pub(crate) const DEFAULT_LEASE_CAP: u64 = 3600;

const fn uint(min: u64, max: u64) -> Kind {
    Kind::UInt(Range::new(min, max))
}

fn int(n: impl Into<u64>) -> Current {
    Current::Int(Some(n.into()))
}

fn size(n: usize) -> Current {
    int(u64::try_from(n).unwrap_or(u64::MAX))
}

fn text<T: ToString + ?Sized>(value: &T) -> Current {
    Current::Text(Some(value.to_string()))
}

fn opt(value: &Option<String>) -> Current {
    Current::Text(value.clone())
}

fn path(value: &std::path::Path) -> Current {
    text(&value.display())
}

fn opt_path(value: &Option<PathBuf>) -> Current {
    Current::Text(value.as_ref().map(|p| p.display().to_string()))
}

fn secret(value: &Option<SecretString>) -> Current {
    Current::Secret(value.is_some())
}

fn list<T: ToString>(entries: &[T]) -> Current {
    Current::List(entries.iter().map(ToString::to_string).collect())
}

use Def::{Empty, Inferred, Unset, Value as V};
use Kind::{Bool, NodeList, Path, Secret, Str, UInt};

/// Builds [`KEYS`]: `path, kind, default, [connection,] reader;` per line.
macro_rules! declare {
    ($($path:literal, $kind:expr, $default:expr, $($conn:ident,)? |$s:ident| $get:expr;)+) => {
        &[$(KeySpec {
            path: $path,
            kind: $kind,
            default: $default,
            connection: declare!(@conn $($conn)?),
            get: |$s| $get,
        }),+]
    };
    (@conn) => { false };
    (@conn connection) => { true };
}

/// Every setting, in the order of the reference docs (`docs/configuration.md`).
#[rustfmt::skip]
pub(crate) static KEYS: &[KeySpec] = declare![
    "key_prefix", Str, V("sdb"), |s| text(&s.key_prefix);
    "redis.mode", Kind::Enum(RedisMode::NAMES), Inferred("embedded"), connection,
        |s| text(&s.redis.mode);
    "redis.url", Kind::Url, Unset, connection, |s| secret(&s.redis.url);
    "redis.host", Str, Unset, connection, |s| opt(&s.redis.host);
    "redis.port", uint(1, 65535), V("6379"), connection, |s| int(s.redis.port);
    "redis.username", Str, Unset, connection, |s| opt(&s.redis.username);
    "redis.password", Secret, Unset, connection, |s| secret(&s.redis.password);
    "redis.db", uint(0, 15), V("0"), connection, |s| int(s.redis.db);
    "redis.sentinels", NodeList, Empty, connection, |s| list(&s.redis.sentinels);
    "redis.sentinel_service", Str, V("sessiondb"), connection,
        |s| text(&s.redis.sentinel_service);
    "redis.sentinel_username", Str, Unset, connection, |s| opt(&s.redis.sentinel_username);
    "redis.sentinel_password", Secret, Unset, connection,
        |s| secret(&s.redis.sentinel_password);
    "redis.cluster_nodes", NodeList, Empty, connection, |s| list(&s.redis.cluster_nodes);
    // Derived from `redis.durability` when unset; this is the value for its default.
    "redis.pool_size", uint(1, 256), V("1"), |s| size(s.redis.pool_size);
    "redis.command_timeout_ms", uint(10, 60_000), V("1000"), |s| int(s.redis.command_timeout_ms);
    "redis.durability", Kind::Enum(DurabilityMode::NAMES), V("async"),
        |s| text(&s.redis.durability);
    "redis.wait_replicas", uint(1, 16), V("1"), |s| int(s.redis.wait_replicas);
    "redis.wait_timeout_ms", uint(10, 60_000), V("1000"), |s| int(s.redis.wait_timeout_ms);
    "redis.read_from", Kind::Enum(ReadFrom::NAMES), V("master"), |s| text(&s.redis.read_from);
    "redis.tls.enabled", Bool, V("false"), connection, |s| text(&s.redis.tls.enabled);
    "redis.tls.ca_file", Path, Unset, connection, |s| opt_path(&s.redis.tls.ca_file);
    "redis.tls.client_cert_file", Path, Unset, connection,
        |s| opt_path(&s.redis.tls.client_cert_file);
    "redis.tls.client_key_file", Path, Unset, connection,
        |s| opt_path(&s.redis.tls.client_key_file);
    "redis.tls.server_name", Str, Unset, connection, |s| opt(&s.redis.tls.server_name);
    "embedded.data_dir", Path, V(".sessiondb/embedded"), |s| path(&s.embedded.data_dir);
    "embedded.redis_server", Path, Unset, |s| opt_path(&s.embedded.redis_server);
    "embedded.port", uint(0, 65535), V("0"), |s| int(s.embedded.port);
    "session.idle_ttl_seconds", UInt(IDLE_TTL), V("3600"), |s| int(s.session.idle_ttl_seconds);
    "session.min_idle_ttl_seconds", UInt(IDLE_TTL), V("60"),
        |s| int(s.session.min_idle_ttl_seconds);
    "session.max_idle_ttl_seconds", UInt(IDLE_TTL), V("86400"),
        |s| int(s.session.max_idle_ttl_seconds);
    "session.absolute_ttl_seconds", UInt(ABSOLUTE_TTL), V("86400"),
        |s| int(s.session.absolute_ttl_seconds);
    "session.touch_interval_seconds", UInt(TOUCH_INTERVAL), V("60"),
        |s| int(s.session.touch_interval_seconds);
    "session.max_per_user", uint(1, 1_000), V("5"), |s| int(s.session.max_per_user);
    "session.cap_policy", Kind::Enum(CapPolicy::NAMES), V("evict_lru"),
        |s| text(&s.session.cap_policy);
    "session.max_data_bytes", uint(2, 1_048_576), V("16384"), |s| size(s.session.max_data_bytes);
    "refresh.ttl_seconds", UInt(REFRESH_TTL), V("604800"), |s| int(s.refresh.ttl_seconds);
    "refresh.idle_ttl_seconds", UInt(REFRESH_IDLE_TTL), Unset,
        |s| Current::Int(s.refresh.idle_ttl_seconds);
    "refresh.grace_seconds", uint(0, 30), V("10"), |s| int(s.refresh.grace_seconds);
    "refresh.reuse_scope", Kind::Enum(ReuseScope::NAMES), V("family"),
        |s| text(&s.refresh.reuse_scope);
    "deletion.ttl_seconds", uint(300, 7 * DAY), V("86400"), |s| int(s.deletion.ttl_seconds);
    "cleanup.enabled", Bool, V("true"), |s| text(&s.cleanup.enabled);
    "cleanup.interval_seconds", uint(10, DAY), V("300"), |s| int(s.cleanup.interval_seconds);
    "cleanup.batch_size", uint(1, 10_000), V("32"), |s| int(s.cleanup.batch_size);
    // Derived from `cleanup.interval_seconds` when unset; this is the value for its default.
    "cleanup.lease_seconds", uint(10, DAY), V("600"), |s| int(s.cleanup.lease_seconds);
    "events.enabled", Bool, V("true"), |s| text(&s.events.enabled);
    "events.max_len", uint(100, 100_000_000), V("100000"), |s| int(s.events.max_len);
    "log.level", Kind::Enum(LogLevel::NAMES), V("info"), |s| text(&s.log.level);
    "log.format", Kind::Enum(LogFormat::NAMES), V("text"), |s| text(&s.log.format);
    "server.listen", Kind::SocketAddr, V("127.0.0.1:8080"), |s| text(&s.server.listen);
    "server.admin_listen", Kind::SocketAddr, V("127.0.0.1:9090"), |s| text(&s.server.admin_listen);
    "server.api_keys", Kind::ApiKeys, Empty,
        |s| text(&crate::api_keys::describe(&s.server.api_keys));
    "server.max_body_bytes", uint(1024, 16_777_216), V("65536"), |s| size(s.server.max_body_bytes);
    "server.request_timeout_ms", uint(100, 300_000), V("10000"),
        |s| int(s.server.request_timeout_ms);
    "server.shutdown_grace_seconds", uint(0, 600), V("30"),
        |s| int(s.server.shutdown_grace_seconds);
    "server.trusted_proxies", Kind::NetworkList, Empty, |s| list(&s.server.trusted_proxies);
    "server.cors_origins", Kind::OriginList, Empty, |s| list(&s.server.cors_origins);
    "server.redeem_rate_per_minute", UInt(RATE_PER_MINUTE), V("10"),
        |s| int(s.server.redeem_rate_per_minute);
    "server.redeem_burst", UInt(RATE_BURST), V("5"), |s| int(s.server.redeem_burst);
    "server.refresh_rate_per_minute", UInt(RATE_PER_MINUTE), V("60"),
        |s| int(s.server.refresh_rate_per_minute);
    "server.refresh_burst", UInt(RATE_BURST), V("10"), |s| int(s.server.refresh_burst);
    "server.tls_cert_file", Path, Unset, |s| opt_path(&s.server.tls_cert_file);
    "server.tls_key_file", Path, Unset, |s| opt_path(&s.server.tls_key_file);
    "server.worker_threads", uint(1, 1_024), Unset, |s| Current::Int(s.server.worker_threads);
    "acl.admin_password", Secret, Unset, connection, |s| secret(&s.acl.admin_password);
    "acl.sentinel_password", Secret, Unset, connection, |s| secret(&s.acl.sentinel_password);
    "acl.app_password", Secret, Unset, connection, |s| secret(&s.acl.app_password);
    "acl.monitor_password", Secret, Unset, connection, |s| secret(&s.acl.monitor_password);
    "acl.cleanup_password", Secret, Unset, connection, |s| secret(&s.acl.cleanup_password);
    "acl.backup_password", Secret, Unset, connection, |s| secret(&s.acl.backup_password);
];

/// The setting with this dotted key.
pub(crate) fn spec(path: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.path == path)
}

/// The setting a `SESSIONDB_<SECTION>__<KEY>` variable names.
pub(crate) fn spec_by_env_var(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.env_var() == name)
}

/// Every section (TOML table), derived from the keys: `redis`, `redis.tls`, ….
pub(crate) fn sections() -> Vec<&'static str> {
    let mut sections: Vec<&'static str> = Vec::new();
    for k in KEYS {
        let mut path = k.path;
        while let Some((section, _)) = path.rsplit_once('.') {
            if !sections.contains(&section) {
                sections.push(section);
            }
            path = section;
        }
    }
    sections
}

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
        let sections = sections();
        assert_eq!(sections.len(), 11, "{sections:?}");
        for section in sections {
            assert!(is_section(section), "{section}");
        }
    }

    #[test]
    fn the_lease_default_is_the_one_derived_from_the_default_interval() {
        let value = |key: &str| spec(key).and_then(|k| k.default.value()).unwrap();
        let interval: u64 = value("cleanup.interval_seconds").parse().unwrap();
        let lease: u64 = value("cleanup.lease_seconds").parse().unwrap();
        assert_eq!(lease, (2 * interval).min(DEFAULT_LEASE_CAP));
    }

    #[test]
    fn the_pool_default_is_the_one_derived_from_the_default_durability() {
        let value = |key: &str| spec(key).and_then(|k| k.default.value()).unwrap();
        let durability: DurabilityMode = value("redis.durability").parse().unwrap();
        assert_eq!(durability, DurabilityMode::Async);
        let pool: usize = value("redis.pool_size").parse().unwrap();
        assert_eq!(
            pool,
            sessiondb_engine::config::Durability::Async.default_pool_size()
        );
    }

    #[test]
    fn connection_keys_are_the_redis_address_credentials_tls_and_role_passwords() {
        let connection: Vec<&str> = KEYS
            .iter()
            .filter(|k| k.connection)
            .map(|k| k.path)
            .collect();
        assert!(connection.contains(&"redis.sentinel_service"));
        assert!(connection.contains(&"redis.tls.enabled"));
        assert!(connection.contains(&"acl.backup_password"));
        assert!(!connection.contains(&"redis.pool_size"));
        assert!(!connection.contains(&"redis.durability"));
        assert!(!connection.contains(&"redis.wait_replicas"));
        assert_eq!(connection.len(), 23, "{connection:?}");
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
