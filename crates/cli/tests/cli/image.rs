//! The binary run the way the container image and the Kubernetes manifests run it: as
//! the image's non-root uid, with no capabilities and no new privileges, on a read-only
//! root filesystem with only the volumes the manifests mount writable (none for the API
//! and the cleanup job). No containers here: a private mount namespace (`unshare
//! --mount`) in which every mount is remounted read-only, then `setpriv` to the uid.
//! Needs root and util-linux (`unshare`, `mount`, `setpriv`), as CI has; the tests fail,
//! never skip, without them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use secrecy::SecretString;
use sessiondb_local::{RedisOptions, RedisServer};

use crate::support::{Serve, BIN};

/// Remounts every mount of the (private) namespace read-only, then runs the arguments
/// as `$SANDBOX_UID:$SANDBOX_GID` with no supplementary groups and no new privileges.
/// Mount points in /proc/self/mountinfo escape blanks as octal (`\040`).
const SANDBOX: &str = r#"set -eu
awk '{print $5}' /proc/self/mountinfo | while IFS= read -r point; do
  point=$(printf '%b' "$point")
  mount -o remount,bind,ro "$point" || {
    echo "sandbox: cannot remount $point read-only" >&2
    exit 97
  }
done
exec setpriv --reuid="$SANDBOX_UID" --regid="$SANDBOX_GID" --clear-groups --no-new-privs -- "$@"
"#;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What a manifest says about one container: its uid and gid, whether its root
/// filesystem is read-only, and the paths it mounts writable.
#[derive(Debug)]
struct RunsAs {
    uid: u64,
    gid: u64,
    read_only_root: bool,
    writable: Vec<String>,
}

/// Reads `file` (under deploy/kubernetes/base) and the pod and container `container`
/// in its workload.
fn runs_as(file: &str, container: &str) -> RunsAs {
    let path = repo().join("deploy/kubernetes/base").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let workload: serde_json::Value =
        serde_yaml_ng::from_str::<serde_json::Value>(text.split("\n---\n").next().unwrap())
            .unwrap();
    let pod = match workload["kind"].as_str().unwrap() {
        "CronJob" => &workload["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &workload["spec"]["template"]["spec"],
    };
    let c = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == container)
        .unwrap_or_else(|| panic!("{file}: no container {container}"));
    let id = |key: &str| {
        c["securityContext"][key]
            .as_u64()
            .or_else(|| pod["securityContext"][key].as_u64())
            .unwrap_or_else(|| panic!("{file}: no {key}"))
    };
    let writable = c["volumeMounts"]
        .as_array()
        .map(|mounts| {
            mounts
                .iter()
                .filter(|m| m["readOnly"] != true)
                .map(|m| m["mountPath"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    RunsAs {
        uid: id("runAsUser"),
        gid: id("runAsGroup"),
        read_only_root: c["securityContext"]["readOnlyRootFilesystem"] == true,
        writable,
    }
}

/// A command running `program` in the sandbox as `who` says, with a clean
/// environment.
fn sandboxed(who: &RunsAs, program: &str) -> Command {
    assert!(
        who.read_only_root,
        "the manifests run it on a read-only root"
    );
    assert!(
        who.writable.is_empty(),
        "the manifests mount {:?} writable: give the sandbox those volumes",
        who.writable
    );
    assert!(
        nix_is_root(),
        "these tests need root (for unshare --mount and setpriv), as in CI"
    );
    let mut cmd = Command::new("unshare");
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SANDBOX_UID", who.uid.to_string())
        .env("SANDBOX_GID", who.gid.to_string())
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            SANDBOX,
        ])
        .arg("sandbox")
        .arg(program);
    cmd
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// The image's files, readable by any uid wherever the repository is checked out:
/// the binary (`/usr/local/bin/sessiondb` in the image) and the base ConfigMap's
/// settings file (`/etc/sessiondb/config/sessiondb.toml` in the pods).
struct Staged {
    dir: tempfile::TempDir,
}

impl Staged {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mode(dir.path(), 0o755);
        std::fs::copy(BIN, dir.path().join("sessiondb")).unwrap();
        mode(&dir.path().join("sessiondb"), 0o755);
        let config = dir.path().join("sessiondb.toml");
        std::fs::copy(
            repo().join("deploy/kubernetes/base/sessiondb.toml"),
            &config,
        )
        .unwrap();
        mode(&config, 0o644);
        Self { dir }
    }

    fn binary(&self) -> String {
        self.dir.path().join("sessiondb").display().to_string()
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("sessiondb.toml")
    }
}

/// The API's settings as the pod gets them: the base ConfigMap's file, the password
/// from the Secret; only the Redis address is the test's.
fn as_the_api(cmd: &mut Command, staged: &Staged, redis: &RedisServer) {
    cmd.env("SESSIONDB_CONFIG", staged.config()).env(
        "SESSIONDB_REDIS__PASSWORD",
        redis.password().unwrap().expose_secret(),
    );
}

fn redis_address(redis: &RedisServer) -> [String; 4] {
    [
        "--set".to_owned(),
        "redis.host=127.0.0.1".to_owned(),
        "--set".to_owned(),
        format!("redis.port={}", redis.port()),
    ]
}

#[test]
fn the_sandbox_is_read_only_and_unprivileged() {
    let who = runs_as("deployment.yaml", "sessiondb");
    let dir = tempfile::tempdir().unwrap();
    // Writable for everyone on the host: only the read-only mount can refuse it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let probe = dir.path().join("probe");
    let script = format!("id -u; id -G; touch '{}'", probe.display());
    let out = sandboxed(&who, "sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [who.uid.to_string(), who.gid.to_string()],
        "{stderr}"
    );
    assert!(!out.status.success(), "touch succeeded: {stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!probe.exists());
}

#[test]
fn serve_cleanup_and_health_work_as_the_image_runs_them() {
    let redis = RedisServer::start(RedisOptions {
        password: Some(SecretString::from("image-pa55")),
        ..RedisOptions::default()
    })
    .unwrap();
    let address = redis_address(&redis);
    let staged = Staged::new();
    let bin = staged.binary();

    // serve, as the Deployment runs it: /healthz answers and it reaches Redis.
    let api = runs_as("deployment.yaml", "sessiondb");
    let mut cmd = sandboxed(&api, &bin);
    as_the_api(&mut cmd, &staged, &redis);
    cmd.args(&address);
    let mut serve = Serve::start(cmd);
    let admin = serve.url("admin:");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for path in ["/healthz", "/readyz"] {
            let response = reqwest::get(format!("{admin}{path}")).await.unwrap();
            assert_eq!(response.status(), 200, "{path}: {}", serve.stderr());
        }
    });
    // The process is the sandboxed one (unshare, sh and setpriv exec it in place).
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.child.id())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid.split_whitespace()
            .skip(1)
            .all(|id| id == api.uid.to_string()),
        "{uid}"
    );
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(15)), Some(0));

    // cleanup, as the CronJob runs it.
    let job = runs_as("cronjob-cleanup.yaml", "cleanup");
    let mut cmd = sandboxed(&job, &bin);
    as_the_api(&mut cmd, &staged, &redis);
    let out = cmd
        .args(&address)
        .args(["cleanup", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ran"], true);

    // health, as `kubectl exec` runs it in an API pod.
    let mut cmd = sandboxed(&api, &bin);
    as_the_api(&mut cmd, &staged, &redis);
    let out = cmd.args(&address).arg("health").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("ok    master")),
        "{stdout}"
    );
}
