//! Range and consistency checks on typed settings.
//!
//! The loader already checked each value's type and static range as it read it; these
//! checks repeat the static ranges (for settings built in code) and add the ones that
//! depend on other keys (the idle window, the absolute lifetime, the Redis mode, TLS
//! files) or that look inside lists (API keys, CORS origins, trusted proxies).

use std::path::Path;

use crate::api_keys;
use crate::error::{Origin, SettingsError};
use crate::load::Origins;
use crate::model::{DurabilityMode, RedisMode, Settings};
use crate::schema::{self, Range};
use crate::value::{check_cors_origin, check_network};

impl Settings {
    /// Checks every value against its allowed range and against the settings it
    /// depends on. [`Settings::load`] already does this; call it after changing
    /// settings in code.
    pub fn validate(&self) -> Result<(), SettingsError> {
        check(self, &Origins::new())
    }
}

/// Integer settings with a static range in the key table, and their values.
pub(crate) fn integers(s: &Settings) -> Vec<(&'static str, Option<u64>)> {
    let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    vec![
        ("redis.port", Some(u64::from(s.redis.port))),
        ("redis.db", Some(u64::from(s.redis.db))),
        ("redis.pool_size", Some(wide(s.redis.pool_size))),
        ("redis.command_timeout_ms", Some(s.redis.command_timeout_ms)),
        (
            "redis.wait_replicas",
            Some(u64::from(s.redis.wait_replicas)),
        ),
        ("redis.wait_timeout_ms", Some(s.redis.wait_timeout_ms)),
        ("embedded.port", Some(u64::from(s.embedded.port))),
        ("session.idle_ttl_seconds", Some(s.session.idle_ttl_seconds)),
        (
            "session.min_idle_ttl_seconds",
            Some(s.session.min_idle_ttl_seconds),
        ),
        (
            "session.max_idle_ttl_seconds",
            Some(s.session.max_idle_ttl_seconds),
        ),
        (
            "session.absolute_ttl_seconds",
            Some(s.session.absolute_ttl_seconds),
        ),
        (
            "session.touch_interval_seconds",
            Some(s.session.touch_interval_seconds),
        ),
        (
            "session.max_per_user",
            Some(u64::from(s.session.max_per_user)),
        ),
        (
            "session.max_data_bytes",
            Some(wide(s.session.max_data_bytes)),
        ),
        ("refresh.ttl_seconds", Some(s.refresh.ttl_seconds)),
        ("refresh.idle_ttl_seconds", s.refresh.idle_ttl_seconds),
        ("refresh.grace_seconds", Some(s.refresh.grace_seconds)),
        ("deletion.ttl_seconds", Some(s.deletion.ttl_seconds)),
        ("cleanup.interval_seconds", Some(s.cleanup.interval_seconds)),
        ("cleanup.batch_size", Some(u64::from(s.cleanup.batch_size))),
        ("cleanup.lease_seconds", Some(s.cleanup.lease_seconds)),
        ("events.max_len", Some(s.events.max_len)),
        ("server.max_body_bytes", Some(wide(s.server.max_body_bytes))),
        (
            "server.request_timeout_ms",
            Some(s.server.request_timeout_ms),
        ),
        (
            "server.shutdown_grace_seconds",
            Some(s.server.shutdown_grace_seconds),
        ),
        (
            "server.redeem_rate_per_minute",
            Some(u64::from(s.server.redeem_rate_per_minute)),
        ),
        (
            "server.redeem_burst",
            Some(u64::from(s.server.redeem_burst)),
        ),
        (
            "server.refresh_rate_per_minute",
            Some(u64::from(s.server.refresh_rate_per_minute)),
        ),
        (
            "server.refresh_burst",
            Some(u64::from(s.server.refresh_burst)),
        ),
    ]
}

/// All checks; `origins` says which layer set each key, for the messages.
pub(crate) fn check(s: &Settings, origins: &Origins) -> Result<(), SettingsError> {
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    let out_of_range = |key: &str, value: u64, allowed: String| SettingsError::OutOfRange {
        key: key.to_owned(),
        value: value.to_string(),
        allowed,
        origin: origin(key),
    };
    let within = |key: &str, value: u64, range: Range, why: &str| {
        if range.contains(value) {
            Ok(())
        } else {
            Err(out_of_range(key, value, format!("{range}{why}")))
        }
    };
    let invalid = |key: &str, value: String, reason: &str| SettingsError::InvalidValue {
        key: key.to_owned(),
        value,
        reason: reason.to_owned(),
        origin: origin(key),
    };

    for (key, value) in integers(s) {
        if let (Some(value), Some(range)) = (value, schema::range(key)) {
            within(key, value, range, "")?;
        }
    }

    let prefix = &s.key_prefix;
    if prefix.is_empty()
        || prefix.len() > 64
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(invalid(
            "key_prefix",
            format!("{prefix:?}"),
            "expected 1-64 characters of A-Z a-z 0-9 - _ . :",
        ));
    }

    // Session lifetimes.
    let ses = &s.session;
    let idle_min = schema::IDLE_TTL.min;
    within(
        "session.min_idle_ttl_seconds",
        ses.min_idle_ttl_seconds,
        Range {
            min: idle_min,
            max: ses.max_idle_ttl_seconds,
        },
        " (at most session.max_idle_ttl_seconds)",
    )?;
    within(
        "session.idle_ttl_seconds",
        ses.idle_ttl_seconds,
        Range {
            min: ses.min_idle_ttl_seconds,
            max: ses.max_idle_ttl_seconds,
        },
        " (session.min_idle_ttl_seconds..=session.max_idle_ttl_seconds)",
    )?;
    within(
        "session.absolute_ttl_seconds",
        ses.absolute_ttl_seconds,
        Range {
            min: ses.idle_ttl_seconds,
            max: schema::ABSOLUTE_TTL.max,
        },
        " (at least session.idle_ttl_seconds)",
    )?;
    within(
        "session.touch_interval_seconds",
        ses.touch_interval_seconds,
        Range {
            min: schema::TOUCH_INTERVAL.min,
            max: schema::TOUCH_INTERVAL.max.min(ses.idle_ttl_seconds),
        },
        " (at most session.idle_ttl_seconds)",
    )?;
    if let Some(idle) = s.refresh.idle_ttl_seconds {
        within(
            "refresh.idle_ttl_seconds",
            idle,
            Range {
                min: schema::REFRESH_IDLE_TTL.min,
                max: s.refresh.ttl_seconds,
            },
            " (at most refresh.ttl_seconds)",
        )?;
    }

    check_server(s, origins)?;
    check_redis(s, origins)?;
    check_embedded(s, origins)
}

fn check_server(s: &Settings, origins: &Origins) -> Result<(), SettingsError> {
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    let invalid = |key: &str, value: String, reason: String| SettingsError::InvalidValue {
        key: key.to_owned(),
        value,
        reason,
        origin: origin(key),
    };
    let srv = &s.server;
    if srv.listen == srv.admin_listen && srv.listen.port() != 0 {
        return Err(invalid(
            "server.admin_listen",
            format!("{:?}", srv.admin_listen.to_string()),
            "must differ from server.listen".to_owned(),
        ));
    }
    api_keys::check(&srv.api_keys).map_err(|p| p.into_error(origin("server.api_keys")))?;
    for entry in &srv.cors_origins {
        check_cors_origin(entry)
            .map_err(|reason| invalid("server.cors_origins", format!("{entry:?}"), reason))?;
    }
    for network in &srv.trusted_proxies {
        check_network(*network).map_err(|reason| {
            invalid(
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
        return Err(invalid(
            key,
            format!("{:?}", path.display().to_string()),
            "server.tls_cert_file and server.tls_key_file must be set together".to_owned(),
        ));
    }
    for (key, path) in tls {
        if let Some(path) = path {
            check_file(key, path, origins)?;
        }
    }
    Ok(())
}

fn check_redis(s: &Settings, origins: &Origins) -> Result<(), SettingsError> {
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    let invalid = |key: &str, value: String, reason: String| SettingsError::InvalidValue {
        key: key.to_owned(),
        value,
        reason,
        origin: origin(key),
    };
    let r = &s.redis;
    let non_empty = [
        ("redis.host", r.host.as_deref()),
        ("redis.username", r.username.as_deref()),
        ("redis.sentinel_service", Some(r.sentinel_service.as_str())),
        ("redis.sentinel_username", r.sentinel_username.as_deref()),
        ("redis.tls.server_name", r.tls.server_name.as_deref()),
    ];
    for (key, value) in non_empty {
        if value == Some("") {
            return Err(invalid(
                key,
                "\"\"".to_owned(),
                "must not be empty".to_owned(),
            ));
        }
    }
    match r.mode {
        RedisMode::Embedded if r.tls.enabled => {
            return Err(invalid(
                "redis.tls.enabled",
                "true".to_owned(),
                "TLS is not supported with redis.mode = embedded".to_owned(),
            ))
        }
        RedisMode::Embedded if r.durability == DurabilityMode::Replicated => {
            return Err(invalid(
                "redis.durability",
                format!("{:?}", r.durability.as_str()),
                "replicated durability is not supported with redis.mode = embedded \
                 (the embedded server has no replicas); use async"
                    .to_owned(),
            ))
        }
        RedisMode::Sentinel if r.sentinels.is_empty() => {
            return Err(invalid(
                "redis.sentinels",
                "[]".to_owned(),
                "list at least one host:port when redis.mode = sentinel".to_owned(),
            ))
        }
        RedisMode::Cluster if r.cluster_nodes.is_empty() => {
            return Err(invalid(
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
                origin: origin("redis.db"),
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
        return Err(invalid(
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
                check_file(key, path, origins)?;
            }
        }
    }
    Ok(())
}

/// The `[embedded]` section: a non-empty data directory, and (only in embedded mode,
/// the only one that uses it) an existing `redis-server` binary when one is named.
fn check_embedded(s: &Settings, origins: &Origins) -> Result<(), SettingsError> {
    let origin = |key: &str| origins.get(key).cloned().unwrap_or(Origin::Default);
    if s.embedded.data_dir.as_os_str().is_empty() {
        return Err(SettingsError::InvalidValue {
            key: "embedded.data_dir".to_owned(),
            value: "\"\"".to_owned(),
            reason: "must not be empty".to_owned(),
            origin: origin("embedded.data_dir"),
        });
    }
    if let (RedisMode::Embedded, Some(path)) = (s.redis.mode, &s.embedded.redis_server) {
        check_file("embedded.redis_server", path, origins)?;
    }
    Ok(())
}

/// `path`, the value of `key`, names an existing regular file.
fn check_file(key: &str, path: &Path, origins: &Origins) -> Result<(), SettingsError> {
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
        origin: origins.get(key).cloned().unwrap_or(Origin::Default),
        source,
    })
}
