//! Layering: defaults, TOML file, environment (legacy and `SESSIONDB_`), overrides.

mod common;

use std::net::SocketAddr;

use common::{load, load_err};
use secrecy::ExposeSecret;
use sessiondb_engine::config::{CapPolicy, ReuseScope};
use sessiondb_settings::{
    keys, LoadOptions, LogFormat, LogLevel, Origin, RedisMode, Settings, SettingsError,
};

#[test]
fn defaults_validate_and_match_the_documented_defaults() {
    let defaults = Settings::default();
    defaults.validate().unwrap();
    defaults.engine_config().validate().unwrap();

    let loaded = Settings::load(&LoadOptions::default()).unwrap();
    assert_eq!(loaded.redis.mode, RedisMode::Embedded);
    assert!(loaded.connection_config().is_none());
    assert_eq!(loaded.key_prefix, "sdb");
    assert_eq!(loaded.session.idle_ttl_seconds, 3600);
    assert_eq!(loaded.cleanup.lease_seconds, 600);

    let values = loaded.redacted_values();
    let keys = keys();
    assert_eq!(values.len(), keys.len());
    for ((key, value), info) in values.iter().zip(&keys) {
        assert_eq!(*key, info.key);
        if info.key != "redis.mode" {
            assert_eq!(value, info.default, "documented default of {key}");
        }
    }
}

#[test]
fn defaults_agree_with_the_engine_defaults() {
    let ours = Settings::default().engine_config();
    let engine = sessiondb_engine::config::EngineConfig::default();
    assert_eq!(ours.key_prefix, engine.key_prefix);
    assert_eq!(ours.session.idle_ttl, engine.session.idle_ttl);
    assert_eq!(ours.session.min_idle_ttl, engine.session.min_idle_ttl);
    assert_eq!(ours.session.max_idle_ttl, engine.session.max_idle_ttl);
    assert_eq!(ours.session.absolute_ttl, engine.session.absolute_ttl);
    assert_eq!(ours.session.touch_interval, engine.session.touch_interval);
    assert_eq!(ours.session.max_per_user, engine.session.max_per_user);
    assert_eq!(ours.session.cap_policy, engine.session.cap_policy);
    assert_eq!(ours.session.max_data_bytes, engine.session.max_data_bytes);
    assert_eq!(ours.refresh.ttl, engine.refresh.ttl);
    assert_eq!(ours.refresh.grace, engine.refresh.grace);
    assert_eq!(ours.refresh.reuse_scope, engine.refresh.reuse_scope);
    assert_eq!(ours.deletion.ttl, engine.deletion.ttl);
    assert_eq!(ours.events.max_len, engine.events.max_len);
    assert_eq!(ours.cleanup.batch_size, engine.cleanup.batch_size);
    assert_eq!(ours.durability, engine.durability);
}

const FULL_TOML: &str = r#"
key_prefix = "app1"

[redis]
host = "redis.internal"
port = 6380
db = 3
pool_size = 16
command_timeout_ms = 500

[session]
idle_ttl_seconds = 1800
min_idle_ttl_seconds = 300
max_idle_ttl_seconds = 7200
absolute_ttl_seconds = 43200
touch_interval_seconds = 30
max_per_user = 1
cap_policy = "Reject"
max_data_bytes = 4096

[refresh]
ttl_seconds = 1209600
idle_ttl_seconds = 86400
grace_seconds = 5
reuse_scope = "user"

[deletion]
ttl_seconds = 3600

[cleanup]
enabled = false
interval_seconds = 60
batch_size = 1000

[events]
enabled = false
max_len = 5000

[log]
level = "DEBUG"
format = "json"

[server]
listen = "0.0.0.0:8000"
admin_listen = "[::1]:9000"
"#;

#[test]
fn toml_layer_sets_every_section() {
    let s = load(Some(FULL_TOML), &[], &[]).unwrap();
    assert_eq!(s.key_prefix, "app1");
    assert_eq!(s.redis.mode, RedisMode::Standalone);
    assert_eq!(s.redis.host.as_deref(), Some("redis.internal"));
    assert_eq!((s.redis.port, s.redis.db, s.redis.pool_size), (6380, 3, 16));
    assert_eq!(s.session.idle_ttl_seconds, 1800);
    assert_eq!(s.session.max_per_user, 1);
    assert_eq!(s.session.cap_policy, CapPolicy::Reject);
    assert_eq!(s.refresh.idle_ttl_seconds, Some(86400));
    assert_eq!(s.refresh.reuse_scope, ReuseScope::User);
    assert_eq!(s.deletion.ttl_seconds, 3600);
    assert!(!s.cleanup.enabled);
    assert_eq!(s.cleanup.lease_seconds, 120, "derived: twice the interval");
    assert_eq!(s.events.max_len, 5000);
    assert_eq!(s.log.level, LogLevel::Debug);
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(
        s.server.admin_listen,
        "[::1]:9000".parse::<SocketAddr>().unwrap()
    );

    let engine = s.engine_config();
    engine.validate().unwrap();
    assert_eq!(engine.key_prefix, "app1");
    assert_eq!(engine.session.min_idle_ttl.as_secs(), 300);
    assert_eq!(engine.refresh.idle_ttl.map(|d| d.as_secs()), Some(86400));
    assert_eq!(engine.cleanup.lease_ttl.as_secs(), 120);
    let conn = s.connection_config().unwrap();
    assert_eq!(conn.database, 3);
    assert_eq!(conn.pool_size, 16);
    assert_eq!(conn.command_timeout.as_millis(), 500);
}

#[test]
fn env_overrides_toml() {
    let s = load(
        Some(FULL_TOML),
        &[
            ("SESSIONDB_SESSION__IDLE_TTL_SECONDS", "3600"),
            ("SESSIONDB_REDIS__PORT", "7000"),
            ("SESSIONDB_LOG__LEVEL", "warn"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.session.idle_ttl_seconds, 3600);
    assert_eq!(s.redis.port, 7000);
    assert_eq!(s.log.level, LogLevel::Warn);
    assert_eq!(
        s.session.max_data_bytes, 4096,
        "untouched keys keep the file's value"
    );
}

#[test]
fn overrides_beat_env() {
    let s = load(
        Some(FULL_TOML),
        &[
            ("SESSIONDB_SESSION__MAX_PER_USER", "3"),
            ("LOG_LEVEL", "error"),
        ],
        &[
            "session.max_per_user=7",
            "log.level = trace",
            "session.max_per_user=8",
        ],
    )
    .unwrap();
    assert_eq!(s.session.max_per_user, 8, "the last override wins");
    assert_eq!(s.log.level, LogLevel::Trace);
}

#[test]
fn legacy_names_map_to_their_keys() {
    let s = load(
        None,
        &[
            ("REDIS_HOST", "legacy-host"),
            ("REDIS_PORT", "6390"),
            ("REDIS_PASSWORD", "admin-pw"),
            ("REDIS_DB", "4"),
            ("SESSION_TTL_SECONDS", "900"),
            ("MAX_SESSIONS_PER_USER", "10"),
            ("CLEANUP_INTERVAL_SECONDS", "120"),
            ("DELETION_TOKEN_TTL_SECONDS", "600"),
            ("LOG_LEVEL", "WARN"),
            ("SENTINEL_PASSWORD", "sentinel-pw"),
            ("APP_PASSWORD", "app-pw"),
            ("MONITOR_PASSWORD", "monitor-pw"),
            ("CLEANUP_PASSWORD", "cleanup-pw"),
            ("BACKUP_PASSWORD", "backup-pw"),
            ("UNRELATED_VARIABLE", "ignored"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.mode, RedisMode::Standalone);
    assert_eq!(s.redis.host.as_deref(), Some("legacy-host"));
    assert_eq!((s.redis.port, s.redis.db), (6390, 4));
    assert_eq!(s.session.idle_ttl_seconds, 900);
    assert_eq!(s.session.max_per_user, 10);
    assert_eq!(s.cleanup.interval_seconds, 120);
    assert_eq!(s.deletion.ttl_seconds, 600);
    assert_eq!(s.log.level, LogLevel::Warn);
    let secret = |v: &Option<secrecy::SecretString>| v.as_ref().unwrap().expose_secret().to_owned();
    assert_eq!(secret(&s.redis.password), "admin-pw");
    assert_eq!(secret(&s.acl.admin_password), "admin-pw");
    assert_eq!(secret(&s.acl.sentinel_password), "sentinel-pw");
    assert!(s.redis.sentinel_password.is_none());
    assert_eq!(secret(&s.acl.app_password), "app-pw");
    assert_eq!(secret(&s.acl.monitor_password), "monitor-pw");
    assert_eq!(secret(&s.acl.cleanup_password), "cleanup-pw");
    assert_eq!(secret(&s.acl.backup_password), "backup-pw");
}

#[test]
fn prefixed_names_win_over_legacy_names_in_any_order() {
    for env in [
        [
            ("SESSIONDB_SESSION__IDLE_TTL_SECONDS", "1200"),
            ("SESSION_TTL_SECONDS", "900"),
        ],
        [
            ("SESSION_TTL_SECONDS", "900"),
            ("SESSIONDB_SESSION__IDLE_TTL_SECONDS", "1200"),
        ],
    ] {
        let s = load(None, &env, &[]).unwrap();
        assert_eq!(s.session.idle_ttl_seconds, 1200);
    }
}

#[test]
fn empty_environment_values_count_as_unset() {
    let s = load(
        Some("[redis]\nhost = \"file-host\"\n"),
        &[
            ("REDIS_HOST", ""),
            ("REDIS_PASSWORD", ""),
            ("SESSIONDB_REDIS__PORT", ""),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.host.as_deref(), Some("file-host"));
    assert!(s.redis.password.is_none());
    assert_eq!(s.redis.port, 6379);
}

#[test]
fn cleanup_lease_is_derived_unless_set() {
    let lease = |env: &[(&str, &str)]| load(None, env, &[]).unwrap().cleanup.lease_seconds;
    assert_eq!(lease(&[("CLEANUP_INTERVAL_SECONDS", "10")]), 20);
    assert_eq!(lease(&[("CLEANUP_INTERVAL_SECONDS", "7200")]), 3600);
    assert_eq!(
        lease(&[
            ("CLEANUP_INTERVAL_SECONDS", "7200"),
            ("SESSIONDB_CLEANUP__LEASE_SECONDS", "30")
        ]),
        30
    );
}

#[test]
fn pool_size_follows_durability_unless_set() {
    let pool = |env: &[(&str, &str)]| load(None, env, &[]).unwrap().redis.pool_size;
    let sentinel = ("SESSIONDB_REDIS__SENTINELS", "10.0.0.1:26379");
    assert_eq!(pool(&[sentinel]), 1);
    assert_eq!(
        pool(&[sentinel, ("SESSIONDB_REDIS__DURABILITY", "replicated")]),
        4
    );
    assert_eq!(
        pool(&[
            sentinel,
            ("SESSIONDB_REDIS__DURABILITY", "replicated"),
            ("SESSIONDB_REDIS__POOL_SIZE", "2")
        ]),
        2
    );
    assert_eq!(pool(&[sentinel, ("SESSIONDB_REDIS__POOL_SIZE", "3")]), 3);
}

#[test]
fn origins_name_the_layer_that_set_the_value() {
    let err = Settings::load(&LoadOptions {
        env: common::env(&[("SESSION_TTL_SECONDS", "30")]),
        ..LoadOptions::default()
    })
    .unwrap_err();
    match err {
        SettingsError::OutOfRange {
            key,
            value,
            allowed,
            origin,
        } => {
            assert_eq!(key, "session.idle_ttl_seconds");
            assert_eq!(value, "30");
            assert_eq!(allowed, "60..=86400");
            assert_eq!(origin, Origin::Env("SESSION_TTL_SECONDS".to_owned()));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = load_err(None, &[], &["session.idle_ttl_seconds=30"]);
    assert!(msg.ends_with("(set by command-line override)"), "{msg}");
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let err = Settings::load(&LoadOptions {
        config_file: Some("/nonexistent/sessiondb.toml".into()),
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert!(matches!(err, SettingsError::ReadFile { .. }));
    assert!(
        err.to_string().contains("/nonexistent/sessiondb.toml"),
        "{err}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the I/O error is kept"
    );
}

#[test]
fn from_process_reads_only_relevant_variables() {
    let options = LoadOptions::from_process(Some("/etc/sessiondb.toml".into()), Vec::new());
    assert_eq!(
        options.config_file.as_deref(),
        Some("/etc/sessiondb.toml".as_ref())
    );
    assert!(options
        .env
        .iter()
        .all(|(name, _)| name.starts_with("SESSIONDB_")
            || sessiondb_settings::LEGACY_ENV_VARS
                .iter()
                .any(|(n, _)| n == name)));
}
