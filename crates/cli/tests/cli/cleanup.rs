//! `sessiondb cleanup`.

use sessiondb_local::{RedisOptions, RedisServer};

use crate::support::sessiondb;

#[test]
fn cleanup_runs_one_pass_and_prints_a_summary() {
    let redis = RedisServer::start(RedisOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |json: bool| {
        let mut cmd = sessiondb(dir.path());
        cmd.env("REDIS_HOST", "127.0.0.1")
            .env("REDIS_PORT", redis.port().to_string())
            .arg("cleanup");
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("cleanup: ok, removed 0"), "{text}");
    let out = run(true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ran"], true);
    assert_eq!(v["removed"], 0);
}

#[test]
fn cleanup_without_redis_configured_exits_2_and_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = sessiondb(dir.path()).arg("cleanup").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("REDIS_HOST"));
}
