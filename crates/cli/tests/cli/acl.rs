//! `sessiondb acl generate` and `sessiondb acl verify` on a live redis-server.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use sessiondb_local::{RedisOptions, RedisServer};

use crate::support::sessiondb;

const PASSWORDS: [(&str, &str); 6] = [
    ("REDIS_PASSWORD", "admin-pw-7c1"),
    ("SENTINEL_PASSWORD", "sentinel-pw-7c1"),
    ("APP_PASSWORD", "app-pw-7c1"),
    ("MONITOR_PASSWORD", "monitor-pw-7c1"),
    ("CLEANUP_PASSWORD", "cleanup-pw-7c1"),
    ("BACKUP_PASSWORD", "backup-pw-7c1"),
];

fn with_passwords(mut cmd: Command, leave_out: &str) -> Command {
    for (name, value) in PASSWORDS {
        if name != leave_out {
            cmd.env(name, value);
        }
    }
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A redis-server loaded with the file `acl generate` wrote into `dir`.
fn server_with_generated_acl(dir: &Path) -> RedisServer {
    let out = with_passwords(sessiondb(dir), "")
        .args(["acl", "generate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let generated = std::fs::read_to_string(dir.join("users.acl")).unwrap();
    let acl = dir.join("server.acl");
    // An open default user until the server is up, then the generated users.
    std::fs::write(&acl, "user default on nopass ~* &* +@all\n").unwrap();
    let server = RedisServer::start(RedisOptions {
        extra_args: vec!["--aclfile".into(), acl.display().to_string()],
        ..RedisOptions::default()
    })
    .unwrap();
    std::fs::write(&acl, generated).unwrap();
    server.cli(&["ACL", "LOAD"]).unwrap();
    server
}

fn verify(dir: &Path, server: &RedisServer, leave_out: &str, extra: &[&str]) -> Output {
    let mut cmd = with_passwords(sessiondb(dir), leave_out);
    cmd.env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", server.port().to_string())
        .args(["acl", "verify"])
        .args(extra);
    cmd.output().unwrap()
}

/// Runs one ACL command as the admin user.
fn as_admin(server: &RedisServer, args: &[&str]) {
    let out = Command::new("redis-cli")
        .args(["-p", &server.port().to_string(), "--no-auth-warning"])
        .args(["--user", "admin"])
        .args(args)
        .env("REDISCLI_AUTH", PASSWORDS[0].1)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
}

#[test]
fn generate_writes_hashes_only_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_passwords(sessiondb(dir.path()), "")
        .args(["acl", "generate", "--out", "roles.acl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let path = dir.path().join("roles.acl");
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(file.starts_with("user default off "), "{file}");
    for (_, password) in PASSWORDS {
        assert!(!file.contains(password), "a password in clear: {file}");
        assert!(!text(&out).contains(password));
    }
    for user in ["admin", "sentinel", "app", "monitor", "cleanup", "backup"] {
        assert!(file.contains(&format!("\nuser {user} on #")), "{file}");
    }
    assert!(file.contains("~sdb:*"), "the default key prefix: {file}");
    assert!(text(&out).contains("wrote roles.acl"), "{}", text(&out));

    let out = with_passwords(sessiondb(dir.path()), "")
        .args(["acl", "generate", "--out", "-", "--default-user", "admin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(first.starts_with("user default on resetpass #"), "{first}");
    assert!(first.ends_with(" +@all ~* &*"), "{first}");
}

#[test]
fn generate_reads_an_env_file_and_refuses_a_missing_password() {
    let dir = tempfile::tempdir().unwrap();
    let env_file: String = PASSWORDS
        .iter()
        .filter(|(name, _)| *name != "BACKUP_PASSWORD")
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    std::fs::write(dir.path().join(".env"), env_file).unwrap();
    let out = sessiondb(dir.path())
        .args(["acl", "generate", "--env-file", ".env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BACKUP_PASSWORD"), "{err}");
    assert!(err.contains("`backup`"), "{err}");
    assert!(!dir.path().join("users.acl").exists(), "nothing is written");

    let out = sessiondb(dir.path())
        .env("BACKUP_PASSWORD", "from-the-environment")
        .args(["acl", "generate", "--env-file", ".env", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        7,
        "the file on stdout"
    );
}

#[test]
fn verify_all_passes_on_the_generated_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_generated_acl(dir.path());
    let out = verify(dir.path(), &server, "", &["--all"]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    for role in ["admin", "sentinel", "app", "monitor", "cleanup", "backup"] {
        assert!(
            output.contains(&format!("ok    {role:<9} logs in")),
            "{output}"
        );
    }
    assert!(output.contains("ok    app       no KEYS"), "{output}");
    assert!(
        output.contains("ok    monitor   no read of a session record"),
        "{output}"
    );
    assert!(output.contains(", 0 failed"), "{output}");
    for (_, password) in PASSWORDS {
        assert!(!output.contains(password));
    }

    let out = verify(dir.path(), &server, "", &["--role", "monitor", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 0);
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["role"] == "monitor"), "{report}");
}

#[test]
fn verify_fails_when_a_role_gets_an_extra_command_or_loses_a_needed_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_generated_acl(dir.path());
    as_admin(&server, &["ACL", "SETUSER", "app", "+keys"]);
    as_admin(&server, &["ACL", "SETUSER", "backup", "-dump"]);
    let out = verify(dir.path(), &server, "", &["--all"]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(
        output.contains("FAIL  app       no KEYS: the server ran `KEYS"),
        "{output}"
    );
    assert!(
        output.contains("FAIL  backup    runs DUMP sdb:schema"),
        "{output}"
    );
    assert!(output.contains(", 2 failed"), "{output}");
}

#[test]
fn verify_with_a_wrong_or_missing_password_exits_2_naming_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_generated_acl(dir.path());
    let mut cmd = with_passwords(sessiondb(dir.path()), "");
    let out = cmd
        .env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", server.port().to_string())
        .env("APP_PASSWORD", "not-the-app-password")
        .args(["acl", "verify", "--role", "app"])
        .output()
        .unwrap();
    let output = text(&out);
    assert_eq!(out.status.code(), Some(2), "{output}");
    assert!(
        output.contains("`app`") && output.contains("APP_PASSWORD"),
        "{output}"
    );
    assert!(!output.contains("not-the-app-password"), "{output}");

    let out = verify(
        dir.path(),
        &server,
        "CLEANUP_PASSWORD",
        &["--role", "cleanup"],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(2), "{output}");
    assert!(output.contains("CLEANUP_PASSWORD"), "{output}");

    let out = verify(dir.path(), &server, "", &["--role", "root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("unknown role \"root\""),
        "{}",
        text(&out)
    );
}
