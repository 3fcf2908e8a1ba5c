//! `redis.durability`, `redis.wait_replicas` and `redis.wait_timeout_ms`: defaults,
//! layers, ranges, the embedded-mode rule, and the mapping to the engine's `Durability`.

mod common;

use std::time::Duration;

use common::{load, load_err};
use sessiondb_engine::Durability;
use sessiondb_settings::{DurabilityMode, Origin, RedisMode, Settings, SettingsError};

fn replicated(replicas: u32, timeout_ms: u64) -> Durability {
    Durability::Replicated {
        replicas,
        timeout: Duration::from_millis(timeout_ms),
    }
}

#[test]
fn defaults_are_async() {
    let defaults = Settings::default();
    assert_eq!(defaults.redis.durability, DurabilityMode::Async);
    assert_eq!(defaults.redis.wait_replicas, 1);
    assert_eq!(defaults.redis.wait_timeout_ms, 1000);
    assert_eq!(defaults.engine_config().durability, Durability::Async);
    assert_eq!(
        defaults.engine_config().durability,
        sessiondb_engine::config::EngineConfig::default().durability
    );

    let loaded = load(None, &[], &[]).unwrap();
    assert_eq!(loaded.engine_config().durability, Durability::Async);
    let loaded = load(None, &[("REDIS_HOST", "10.0.0.5")], &[]).unwrap();
    assert_eq!(loaded.engine_config().durability, Durability::Async);
}

#[test]
fn toml_sets_replicated_with_its_values() {
    let s = load(
        Some(
            "[redis]\n\
             sentinels = [\"10.0.0.1:26379\", \"10.0.0.2:26379\"]\n\
             durability = \"replicated\"\n\
             wait_replicas = 2\n\
             wait_timeout_ms = 250\n",
        ),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.mode, RedisMode::Sentinel);
    assert_eq!(s.redis.durability, DurabilityMode::Replicated);
    let engine = s.engine_config();
    engine.validate().unwrap();
    assert_eq!(engine.durability, replicated(2, 250));
    let values = s.redacted_values();
    let value = |key: &str| values.iter().find(|(k, _)| *k == key).unwrap().1.clone();
    assert_eq!(value("redis.durability"), "replicated");
    assert_eq!(value("redis.wait_replicas"), "2");
    assert_eq!(value("redis.wait_timeout_ms"), "250");
}

#[test]
fn env_sets_replicated_with_its_values_case_insensitively() {
    let s = load(
        None,
        &[
            ("SESSIONDB_REDIS__HOST", "redis.internal"),
            ("SESSIONDB_REDIS__DURABILITY", "Replicated"),
            ("SESSIONDB_REDIS__WAIT_REPLICAS", "3"),
            ("SESSIONDB_REDIS__WAIT_TIMEOUT_MS", "5000"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.mode, RedisMode::Standalone);
    assert_eq!(s.engine_config().durability, replicated(3, 5000));
}

#[test]
fn layers_apply_in_order_and_replicated_uses_the_default_wait() {
    let toml = "[redis]\nhost = \"h\"\ndurability = \"replicated\"\nwait_replicas = 4\n";
    let s = load(Some(toml), &[], &[]).unwrap();
    assert_eq!(s.engine_config().durability, replicated(4, 1000));

    let s = load(
        Some(toml),
        &[("SESSIONDB_REDIS__WAIT_REPLICAS", "2")],
        &["redis.wait_timeout_ms=20"],
    )
    .unwrap();
    assert_eq!(s.engine_config().durability, replicated(2, 20));

    let s = load(Some(toml), &[], &["redis.durability=async"]).unwrap();
    assert_eq!(
        s.engine_config().durability,
        Durability::Async,
        "wait_* are ignored in async mode"
    );
}

#[test]
fn out_of_range_values_name_key_and_range() {
    let msg = load_err(None, &[("SESSIONDB_REDIS__WAIT_REPLICAS", "0")], &[]);
    assert_eq!(
        msg,
        "redis.wait_replicas = 0 is out of range: allowed 1..=16 \
         (set by environment variable SESSIONDB_REDIS__WAIT_REPLICAS)"
    );
    let cases: &[(&str, &str)] = &[
        (
            "redis.wait_replicas=17",
            "redis.wait_replicas = 17 is out of range: allowed 1..=16",
        ),
        (
            "redis.wait_timeout_ms=9",
            "redis.wait_timeout_ms = 9 is out of range: allowed 10..=60000",
        ),
        (
            "redis.wait_timeout_ms=60001",
            "redis.wait_timeout_ms = 60001 is out of range: allowed 10..=60000",
        ),
    ];
    for (item, expected) in cases {
        let msg = load_err(None, &[], &[item]);
        assert!(msg.starts_with(expected), "{item}: {msg}");
    }
    let msg = load_err(Some("[redis]\nwait_timeout_ms = 100000\n"), &[], &[]);
    assert!(
        msg.starts_with("redis.wait_timeout_ms = 100000 is out of range: allowed 10..=60000"),
        "{msg}"
    );

    // Settings changed in code are checked by `validate`.
    let mut s = Settings::default();
    s.redis.wait_replicas = 0;
    match s.validate().unwrap_err() {
        SettingsError::OutOfRange { key, allowed, .. } => {
            assert_eq!(key, "redis.wait_replicas");
            assert_eq!(allowed, "1..=16");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn unknown_durability_names_the_choices() {
    let msg = load_err(Some("[redis]\ndurability = \"sync\"\n"), &[], &[]);
    assert!(
        msg.contains("redis.durability = \"sync\" is invalid: expected one of async, replicated"),
        "{msg}"
    );
}

#[test]
fn replicated_is_rejected_in_embedded_mode() {
    // Explicit embedded mode.
    let err = common::load(
        None,
        &[
            ("SESSIONDB_REDIS__MODE", "embedded"),
            ("SESSIONDB_REDIS__DURABILITY", "replicated"),
        ],
        &[],
    )
    .unwrap_err();
    match &err {
        SettingsError::InvalidValue { key, origin, .. } => {
            assert_eq!(key, "redis.durability");
            assert_eq!(
                *origin,
                Origin::Env("SESSIONDB_REDIS__DURABILITY".to_owned())
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("redis.durability = \"replicated\" is invalid:"),
        "{msg}"
    );
    assert!(msg.contains("redis.mode = embedded"), "{msg}");

    // Inferred embedded mode (no location set).
    let msg = load_err(None, &[], &["redis.durability=replicated"]);
    assert!(
        msg.starts_with("redis.durability = \"replicated\""),
        "{msg}"
    );
    assert!(msg.contains("embedded"), "{msg}");

    // Built in code.
    let mut s = Settings::default();
    s.redis.durability = DurabilityMode::Replicated;
    let msg = s.validate().unwrap_err().to_string();
    assert!(msg.starts_with("redis.durability = "), "{msg}");

    // Async in embedded mode is fine, and so is replicated elsewhere.
    load(None, &[], &["redis.durability=async"]).unwrap();
    load(
        None,
        &[],
        &[
            "redis.mode=cluster",
            "redis.cluster_nodes=a:7000",
            "redis.durability=replicated",
        ],
    )
    .unwrap();
}
