//! Range and consistency checks on typed settings.
//!
//! The loader already checked each value's type and static range as it read it; these
//! checks repeat the declared ones (static ranges, non-empty strings: for settings
//! changed in code) and add the ones that depend on other keys (the idle window, the
//! absolute lifetime, the Redis mode, TLS files) or that look inside lists (API keys,
//! CORS origins, trusted proxies).

use std::path::Path;

use crate::api_keys;
use crate::error::{Origin, SettingsError};
use crate::load::Origins;
use sessiondb_engine::config::{valid_key_prefix, KEY_PREFIX_RULE};

use crate::model::{DurabilityMode, RedisMode, Settings};
use crate::schema::{self, Current, Kind, Range, KEYS};
use crate::value::{check_cors_origin, check_network};

impl Settings {
    /// Checks every value against its allowed range and against the settings it
    /// depends on. [`Settings::load`] already does this; call it after changing
    /// settings in code.
    pub fn validate(&self) -> Result<(), SettingsError> {
        check(self, &Origins::new())
    }
}

/// All checks; `origins` says which layer set each key, for the messages.
pub(crate) fn check(s: &Settings, origins: &Origins) -> Result<(), SettingsError> {
    let c = Checks { origins };

    let prefix = &s.key_prefix;
    if !valid_key_prefix(prefix) {
        return Err(c.invalid(
            "key_prefix",
            format!("{prefix:?}"),
            format!("expected {KEY_PREFIX_RULE}"),
        ));
    }

    // What every key's declaration says: its static range, and that strings and
    // paths are not empty.
    for spec in KEYS {
        match ((spec.get)(s), spec.kind) {
            (Current::Int(Some(value)), Kind::UInt(range)) => {
                c.within(spec.path, value, range, "")?;
            }
            (Current::Text(Some(text)), Kind::Str | Kind::Path) if text.is_empty() => {
                return Err(c.invalid(spec.path, "\"\"".to_owned(), "must not be empty"))
            }
            _ => {}
        }
    }

    // Session lifetimes.
    let ses = &s.session;
    let idle_min = schema::IDLE_TTL.min;
    c.within(
        "session.min_idle_ttl_seconds",
        ses.min_idle_ttl_seconds,
        Range {
            min: idle_min,
            max: ses.max_idle_ttl_seconds,
        },
        " (at most session.max_idle_ttl_seconds)",
    )?;
    c.within(
        "session.idle_ttl_seconds",
        ses.idle_ttl_seconds,
        Range {
            min: ses.min_idle_ttl_seconds,
            max: ses.max_idle_ttl_seconds,
        },
        " (session.min_idle_ttl_seconds..=session.max_idle_ttl_seconds)",
    )?;
    c.within(
        "session.absolute_ttl_seconds",
        ses.absolute_ttl_seconds,
        Range {
            min: ses.idle_ttl_seconds,
            max: schema::ABSOLUTE_TTL.max,
        },
        " (at least session.idle_ttl_seconds)",
    )?;
    c.within(
        "session.touch_interval_seconds",
        ses.touch_interval_seconds,
        Range {
            min: schema::TOUCH_INTERVAL.min,
            max: schema::TOUCH_INTERVAL.max.min(ses.idle_ttl_seconds),
        },
        " (at most session.idle_ttl_seconds)",
    )?;
    if let Some(idle) = s.refresh.idle_ttl_seconds {
        c.within(
            "refresh.idle_ttl_seconds",
            idle,
            Range {
                min: schema::REFRESH_IDLE_TTL.min,
                max: s.refresh.ttl_seconds,
            },
            " (at most refresh.ttl_seconds)",
        )?;
    }

    check_server(s, &c)?;
    check_redis(s, &c)?;
    check_embedded(s, &c)
}

fn check_server(s: &Settings, c: &Checks<'_>) -> Result<(), SettingsError> {
    let srv = &s.server;
    if srv.listen == srv.admin_listen && srv.listen.port() != 0 {
        return Err(c.invalid(
            "server.admin_listen",
            format!("{:?}", srv.admin_listen.to_string()),
            "must differ from server.listen".to_owned(),
        ));
    }
    api_keys::check(&srv.api_keys).map_err(|p| p.into_error(c.origin("server.api_keys")))?;
    for entry in &srv.cors_origins {
        check_cors_origin(entry)
            .map_err(|reason| c.invalid("server.cors_origins", format!("{entry:?}"), reason))?;
    }
    for network in &srv.trusted_proxies {
        check_network(*network).map_err(|reason| {
            c.invalid(
                "server.trusted_proxies",
                format!("{:?}", network.to_string()),
                reason,
            )
        })?;
    }
    let tls = [
        ("server.tls_cert_file", &srv.tls_cert_file),
        ("server.tls_key_file", &srv.tls_key_file),
    ];
    let unpaired = match tls {
        [(key, Some(path)), (_, None)] | [(_, None), (key, Some(path))] => Some((key, path)),
        _ => None,
    };
    if let Some((key, path)) = unpaired {
        return Err(c.invalid(
            key,
            format!("{:?}", path.display().to_string()),
            "server.tls_cert_file and server.tls_key_file must be set together".to_owned(),
        ));
    }
    for (key, path) in tls {
        if let Some(path) = path {
            c.file(key, path)?;
        }
    }
    Ok(())
}

fn check_redis(s: &Settings, c: &Checks<'_>) -> Result<(), SettingsError> {
    let r = &s.redis;
    match r.mode {
        RedisMode::Embedded if r.tls.enabled => {
            return Err(c.invalid(
                "redis.tls.enabled",
                "true".to_owned(),
                "TLS is not supported with redis.mode = embedded".to_owned(),
            ))
        }
        RedisMode::Embedded if r.durability == DurabilityMode::Replicated => {
            return Err(c.invalid(
                "redis.durability",
                format!("{:?}", r.durability.as_str()),
                "replicated durability is not supported with redis.mode = embedded \
                 (the embedded server has no replicas); use async"
                    .to_owned(),
            ))
        }
        RedisMode::Sentinel if r.sentinels.is_empty() => {
            return Err(c.invalid(
                "redis.sentinels",
                "[]".to_owned(),
                "list at least one host:port when redis.mode = sentinel".to_owned(),
            ))
        }
        RedisMode::Cluster if r.cluster_nodes.is_empty() => {
            return Err(c.invalid(
                "redis.cluster_nodes",
                "[]".to_owned(),
                "list at least one host:port when redis.mode = cluster".to_owned(),
            ))
        }
        RedisMode::Cluster if r.db != 0 => {
            return Err(SettingsError::OutOfRange {
                key: "redis.db".to_owned(),
                value: r.db.to_string(),
                allowed: "0..=0 (Redis Cluster has only database 0)".to_owned(),
                origin: c.origin("redis.db"),
            })
        }
        _ => {}
    }
    let unpaired = match (&r.tls.client_cert_file, &r.tls.client_key_file) {
        (Some(cert), None) => Some(("redis.tls.client_cert_file", cert)),
        (None, Some(key)) => Some(("redis.tls.client_key_file", key)),
        _ => None,
    };
    if let Some((key, path)) = unpaired {
        return Err(c.invalid(
            key,
            format!("{:?}", path.display().to_string()),
            "redis.tls.client_cert_file and redis.tls.client_key_file must be set together"
                .to_owned(),
        ));
    }
    if r.tls.enabled {
        let files = [
            ("redis.tls.ca_file", &r.tls.ca_file),
            ("redis.tls.client_cert_file", &r.tls.client_cert_file),
            ("redis.tls.client_key_file", &r.tls.client_key_file),
        ];
        for (key, path) in files {
            if let Some(path) = path {
                c.file(key, path)?;
            }
        }
    }
    Ok(())
}

/// The `[embedded]` section: (only in embedded mode, the only one that uses it) an
/// existing `redis-server` binary when one is named.
fn check_embedded(s: &Settings, c: &Checks<'_>) -> Result<(), SettingsError> {
    if let (RedisMode::Embedded, Some(path)) = (s.redis.mode, &s.embedded.redis_server) {
        c.file("embedded.redis_server", path)?;
    }
    Ok(())
}

/// Builds the checks' errors, naming the layer that set each key.
struct Checks<'a> {
    origins: &'a Origins,
}

impl Checks<'_> {
    /// The layer that set `key` (the default when none did).
    fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// `key = value` is invalid for `reason`.
    fn invalid(&self, key: &str, value: String, reason: impl Into<String>) -> SettingsError {
        SettingsError::InvalidValue {
            key: key.to_owned(),
            value,
            reason: reason.into(),
            origin: self.origin(key),
        }
    }

    /// `value` of `key` lies in `range`; `why` follows the range in the message.
    fn within(&self, key: &str, value: u64, range: Range, why: &str) -> Result<(), SettingsError> {
        if range.contains(value) {
            return Ok(());
        }
        Err(SettingsError::OutOfRange {
            key: key.to_owned(),
            value: value.to_string(),
            allowed: format!("{range}{why}"),
            origin: self.origin(key),
        })
    }

    /// `path`, the value of `key`, names an existing regular file.
    fn file(&self, key: &str, path: &Path) -> Result<(), SettingsError> {
        let meta = std::fs::metadata(path).and_then(|meta| {
            if meta.is_file() {
                Ok(meta)
            } else {
                Err(std::io::Error::other("not a regular file"))
            }
        });
        meta.map(drop).map_err(|source| SettingsError::File {
            key: key.to_owned(),
            path: path.to_owned(),
            origin: self.origin(key),
            source,
        })
    }
}
