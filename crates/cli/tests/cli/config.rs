//! `sessiondb config check`: the shipped settings files load with the binary's own
//! validation; a bad value exits 2 naming the key.

use std::path::{Path, PathBuf};

use crate::support::sessiondb;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(dir: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = sessiondb(dir);
    cmd.args(["config", "check"]).arg(file).args(extra);
    cmd.output().unwrap()
}

#[test]
fn every_shipped_settings_file_passes_config_check() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "deploy/kubernetes/base/sessiondb.toml",
        "deploy/kubernetes/components/redis-ha/sessiondb.toml",
    ] {
        let out = check(dir.path(), &repo().join(file), &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("config: ok"), "{stdout}");
    }
    // The production file names the CA file its pod mounts: laid out the same way here.
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(dir.path().join("tls")).unwrap();
    std::fs::write(dir.path().join("tls/ca.crt"), "").unwrap();
    let production = conf.join("sessiondb.toml");
    std::fs::copy(
        repo().join("deploy/kubernetes/components/production/sessiondb.toml"),
        &production,
    )
    .unwrap();
    let out = check(dir.path(), &production, &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let durability = json["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "redis.durability")
        .unwrap();
    assert_eq!(durability["value"], "replicated");
}

#[test]
fn config_check_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[session]\nmax_per_user = 0\n").unwrap();
    let out = check(dir.path(), &file, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("session.max_per_user"), "{stderr}");
    assert!(out.stdout.is_empty());
}
