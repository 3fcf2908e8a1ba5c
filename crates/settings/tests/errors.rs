//! Error messages: unknown keys and variables, types, ranges, cross-key rules.

mod common;

use common::{load, load_err};
use sessiondb_settings::SettingsError;

#[test]
fn unknown_toml_key_names_the_key_and_suggests_a_fix() {
    let msg = load_err(Some("[session]\nidle_ttl_second = 60\n"), &[], &[]);
    assert!(
        msg.contains("unknown setting `session.idle_ttl_second`"),
        "{msg}"
    );
    assert!(
        msg.contains("did you mean session.idle_ttl_seconds?"),
        "{msg}"
    );
    assert!(msg.contains("sessiondb.toml"), "names the file: {msg}");

    let msg = load_err(Some("[sesion]\nmax_per_user = 1\n"), &[], &[]);
    assert!(msg.contains("unknown setting `sesion`"), "{msg}");
    assert!(msg.contains("did you mean session?"), "{msg}");

    let msg = load_err(Some("[redis.tls]\nenable = true\n"), &[], &[]);
    assert!(msg.contains("`redis.tls.enable`"), "{msg}");

    let msg = load_err(Some("redis = 5\n"), &[], &[]);
    assert!(
        msg.contains("redis = integer is invalid: expected a table"),
        "{msg}"
    );
}

#[test]
fn unknown_sessiondb_env_var_is_an_error_naming_it() {
    let msg = load_err(None, &[("SESSIONDB_SESSION__IDLE_TTL", "60")], &[]);
    assert!(
        msg.contains("unknown environment variable SESSIONDB_SESSION__IDLE_TTL"),
        "{msg}"
    );
    let msg = load_err(None, &[("SESSIONDB_NOPE", "")], &[]);
    assert!(msg.contains("SESSIONDB_NOPE"), "{msg}");
    // Reserved and unrelated names are fine.
    load(
        None,
        &[("SESSIONDB_CONFIG", "/x.toml"), ("OTHER_APP_SETTING", "1")],
        &[],
    )
    .unwrap();
}

#[test]
fn unknown_or_malformed_overrides_are_errors() {
    let msg = load_err(None, &[], &["session.max_per_usr=1"]);
    assert!(msg.contains("unknown setting `session.max_per_usr` (set by command-line override)"));
    assert!(msg.contains("did you mean session.max_per_user?"), "{msg}");
    let msg = load_err(None, &[], &["log.level=info", "hunter2"]);
    assert_eq!(
        msg,
        "command-line override #2 is not of the form section.key=value"
    );
}

#[test]
fn out_of_range_errors_name_key_value_and_range() {
    let msg = load_err(None, &[("SESSION_TTL_SECONDS", "30")], &[]);
    assert_eq!(
        msg,
        "session.idle_ttl_seconds = 30 is out of range: allowed 60..=86400 \
         (set by environment variable SESSION_TTL_SECONDS)"
    );

    let msg = load_err(Some("[redis]\nport = 70000\n"), &[], &[]);
    assert!(
        msg.starts_with("redis.port = 70000 is out of range: allowed 1..=65535"),
        "{msg}"
    );

    let cases: &[(&str, &str)] = &[
        (
            "redis.db=16",
            "redis.db = 16 is out of range: allowed 0..=15",
        ),
        (
            "redis.pool_size=0",
            "redis.pool_size = 0 is out of range: allowed 1..=256",
        ),
        ("redis.command_timeout_ms=5", "allowed 10..=60000"),
        ("redis.wait_replicas=0", "allowed 1..=16"),
        ("redis.wait_timeout_ms=60001", "allowed 10..=60000"),
        ("session.max_per_user=1001", "allowed 1..=1000"),
        ("session.max_per_user=0", "allowed 1..=1000"),
        ("session.max_data_bytes=1", "allowed 2..=1048576"),
        ("session.touch_interval_seconds=3601", "allowed 0..=3600"),
        (
            "session.absolute_ttl_seconds=2592001",
            "allowed 60..=2592000",
        ),
        (
            "refresh.ttl_seconds=3600",
            "refresh.ttl_seconds = 3600 is out of range: allowed 86400..=2592000",
        ),
        ("refresh.grace_seconds=31", "allowed 0..=30"),
        ("deletion.ttl_seconds=299", "allowed 300..=604800"),
        ("cleanup.interval_seconds=5", "allowed 10..=86400"),
        ("cleanup.batch_size=0", "allowed 1..=10000"),
        ("cleanup.lease_seconds=5", "allowed 10..=86400"),
        ("events.max_len=1", "allowed 100..=100000000"),
    ];
    for (item, expected) in cases {
        let msg = load_err(None, &[], &[item]);
        assert!(msg.contains(expected), "{item}: {msg}");
    }
}

#[test]
fn rules_between_keys_are_checked_with_the_range_they_imply() {
    let msg = load_err(
        None,
        &[],
        &[
            "session.min_idle_ttl_seconds=600",
            "session.idle_ttl_seconds=300",
        ],
    );
    assert_eq!(
        msg,
        "session.idle_ttl_seconds = 300 is out of range: allowed 600..=86400 \
         (session.min_idle_ttl_seconds..=session.max_idle_ttl_seconds) \
         (set by command-line override)"
    );
    let msg = load_err(
        None,
        &[("SESSIONDB_SESSION__MIN_IDLE_TTL_SECONDS", "7200")],
        &["session.max_idle_ttl_seconds=3600"],
    );
    assert!(
        msg.starts_with("session.min_idle_ttl_seconds = 7200 is out of range: allowed 60..=3600"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["session.absolute_ttl_seconds=1800"]);
    assert!(
        msg.contains("allowed 3600..=2592000 (at least session.idle_ttl_seconds)"),
        "{msg}"
    );
    let msg = load_err(
        None,
        &[],
        &[
            "session.idle_ttl_seconds=120",
            "session.touch_interval_seconds=300",
        ],
    );
    assert!(
        msg.contains("touch_interval_seconds = 300 is out of range: allowed 0..=120"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["refresh.idle_ttl_seconds=1209600"]);
    assert!(
        msg.contains("allowed 60..=604800 (at most refresh.ttl_seconds)"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["server.admin_listen=127.0.0.1:8080"]);
    assert!(
        msg.contains("server.admin_listen = \"127.0.0.1:8080\" is invalid: must differ"),
        "{msg}"
    );
}

#[test]
fn wrong_types_and_names_are_rejected() {
    let msg = load_err(None, &[("LOG_LEVEL", "verbose")], &[]);
    assert_eq!(
        msg,
        "log.level = \"verbose\" is invalid: expected one of trace, debug, info, warn, error \
         (set by environment variable LOG_LEVEL)"
    );
    let msg = load_err(Some("[session]\ncap_policy = \"lru\"\n"), &[], &[]);
    assert!(
        msg.contains("session.cap_policy = \"lru\" is invalid: expected one of evict_lru, reject"),
        "{msg}"
    );
    let msg = load_err(Some("[session]\nidle_ttl_seconds = \"1h\"\n"), &[], &[]);
    assert!(
        msg.contains(
            "session.idle_ttl_seconds = \"1h\" is invalid: expected an integer in 60..=86400"
        ),
        "{msg}"
    );
    let msg = load_err(None, &[("SESSIONDB_CLEANUP__ENABLED", "maybe")], &[]);
    assert!(
        msg.contains("cleanup.enabled = \"maybe\" is invalid: expected true or false"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["server.listen=localhost:80"]);
    assert!(
        msg.contains("server.listen = \"localhost:80\" is invalid"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["key_prefix=a{b}"]);
    assert!(msg.contains("key_prefix = \"a{b}\" is invalid"), "{msg}");
}

#[test]
fn toml_syntax_errors_give_a_position() {
    let msg = load_err(Some("[session]\nidle_ttl_seconds = = 3\n"), &[], &[]);
    assert!(msg.contains("sessiondb.toml:2:"), "{msg}");
    assert!(msg.contains("invalid TOML"), "{msg}");
}

#[test]
fn errors_keep_their_sources() {
    let err = load(Some("[redis]\nurl = \"redis://h:99999\"\n"), &[], &[]).unwrap_err();
    assert!(
        matches!(
            err,
            SettingsError::InvalidUrl {
                source: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}
