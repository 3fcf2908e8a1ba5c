//! `sessiondb apikey new`.

use sha2::{Digest, Sha256};

use crate::support::sessiondb;

#[test]
fn apikey_new_prints_a_key_once_and_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let out = sessiondb(dir.path())
        .args([
            "apikey",
            "new",
            "--name",
            "checkout",
            "--scopes",
            "sessions:read",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v["key"].as_str().unwrap();
    assert!(key.starts_with("sdb_k1_") && key.len() > 40);
    let hash: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v["sha256"], hash);
    assert_eq!(v["scopes"], serde_json::json!(["sessions:read"]));

    let human = sessiondb(dir.path())
        .args(["apikey", "new"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("[[server.api_keys]]") && text.contains("SESSIONDB_SERVER__API_KEYS"));
}

#[test]
fn apikey_new_rejects_an_unknown_scope() {
    let dir = tempfile::tempdir().unwrap();
    let out = sessiondb(dir.path())
        .args(["apikey", "new", "--scopes", "sessions:everything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sessions:everything"));
}
