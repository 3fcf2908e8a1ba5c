//! `sessiondb serve` on its embedded default.

use std::time::Duration;

use crate::support::{eventually, processes_in, sessiondb, Serve};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

async fn create_session(api: &str, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{api}/v1/sessions"))
        .bearer_auth(key)
        .json(&serde_json::json!({"user_id": "alice", "data": {"role": "admin"}}))
        .send()
        .await
        .unwrap()
}

#[test]
fn serve_embedded_starts_redis_prints_a_key_and_stops_redis_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(sessiondb(dir.path()));
    let api = serve.url("API:");
    let admin = serve.url("admin:");
    let key_line = serve.wait_for_line("sdb_k1_", Duration::from_secs(5));
    let key = key_line.trim().to_owned();
    let data_dir = dir
        .path()
        .join(".sessiondb/embedded")
        .canonicalize()
        .unwrap();
    let saved = std::fs::read_to_string(data_dir.join("api-key")).unwrap();
    assert_eq!(saved.trim(), key, "the printed key is the saved one");
    let redis = processes_in(&data_dir);
    assert_eq!(redis.len(), 1, "one embedded redis-server: {redis:?}");

    runtime().block_on(async {
        let created = create_session(&api, &key).await;
        assert_eq!(created.status(), 201);
        let body: serde_json::Value = created.json().await.unwrap();
        let token = body["session_token"].as_str().unwrap();
        let read = reqwest::Client::new()
            .get(format!("{api}/v1/sessions/current"))
            .bearer_auth(&key)
            .header("X-Session-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
        let ready = reqwest::get(format!("{admin}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200);
    });

    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));
    eventually(
        Duration::from_secs(10),
        "the embedded redis-server is gone",
        || processes_in(&data_dir).is_empty(),
    );
}

#[test]
fn serve_restarts_the_embedded_redis_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(sessiondb(dir.path()));
    let api = serve.url("API:");
    let admin = serve.url("admin:");
    let key = serve
        .wait_for_line("sdb_k1_", Duration::from_secs(5))
        .trim()
        .to_owned();
    let data_dir = dir
        .path()
        .join(".sessiondb/embedded")
        .canonicalize()
        .unwrap();
    let first = processes_in(&data_dir);
    assert_eq!(first.len(), 1);
    let status = std::process::Command::new("kill")
        .args(["-KILL", &first[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(Duration::from_secs(15), "a new redis-server runs", || {
        let now = processes_in(&data_dir);
        now.len() == 1 && now[0] != first[0]
    });
    let rt = runtime();
    eventually(Duration::from_secs(15), "the API works again", || {
        rt.block_on(async {
            let ready = reqwest::get(format!("{admin}/readyz"))
                .await
                .map(|r| r.status());
            ready.is_ok_and(|s| s == 200) && create_session(&api, &key).await.status() == 201
        })
    });
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));
    eventually(Duration::from_secs(10), "no redis-server is left", || {
        processes_in(&data_dir).is_empty()
    });
}

#[test]
fn serve_leaves_one_cpu_to_its_embedded_redis_unless_told_otherwise() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (setting, expected) in [(None, cpus.saturating_sub(1).max(1)), (Some("3"), 3)] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = sessiondb(dir.path());
        if let Some(threads) = setting {
            cmd.env("SESSIONDB_SERVER__WORKER_THREADS", threads);
        }
        let mut serve = Serve::start(cmd);
        serve.url("API:");
        let logged = format!("worker_threads={expected} cpus={cpus} redis_on_this_host=true");
        eventually(Duration::from_secs(10), &logged, || {
            serve
                .stderr()
                .lines()
                .any(|line| line.contains("async runtime") && line.contains(&logged))
        });
        serve.signal("TERM");
        assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));
    }
}

#[test]
fn serve_without_redis_server_says_how_to_install_it_or_where_to_point() {
    let dir = tempfile::tempdir().unwrap();
    let empty_path = dir.path().join("empty-bin");
    std::fs::create_dir(&empty_path).unwrap();
    let out = sessiondb(dir.path())
        .env("PATH", &empty_path)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apt-get install redis-server"), "{stderr}");
    assert!(stderr.contains("REDIS_HOST"), "{stderr}");
}

#[test]
fn an_invalid_setting_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = sessiondb(dir.path())
        .env("MAX_SESSIONS_PER_USER", "lots")
        .arg("cleanup")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("session.max_per_user"), "{stderr}");
    assert!(stderr.contains("MAX_SESSIONS_PER_USER"), "{stderr}");
}

#[test]
fn killing_serve_with_sigkill_leaves_no_embedded_redis_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(sessiondb(dir.path()));
    serve.url("API:");
    let data_dir = dir
        .path()
        .join(".sessiondb/embedded")
        .canonicalize()
        .unwrap();
    assert_eq!(processes_in(&data_dir).len(), 1);
    serve.signal("KILL");
    serve.wait_exit(Duration::from_secs(10));
    eventually(
        Duration::from_secs(10),
        "the embedded redis-server died with sessiondb",
        || processes_in(&data_dir).is_empty(),
    );
}

#[test]
fn serve_refuses_a_silent_embedded_redis_where_it_cannot_be_a_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")], "inside Kubernetes"),
        (&[("container", "oci")], "inside a container"),
        (
            &[(
                "SESSIONDB_SERVER__API_KEYS",
                "checkout:0000000000000000000000000000000000000000000000000000000000000000:sessions:read",
            )],
            "API keys are configured",
        ),
    ];
    for (vars, reason) in cases {
        let mut cmd = sessiondb(dir.path());
        cmd.arg("serve")
            .args(["--set", "server.listen=127.0.0.1:0"]);
        cmd.args(["--set", "server.admin_listen=127.0.0.1:0"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{reason}: {stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert!(stderr.contains("REDIS_HOST") && stderr.contains("redis.mode = embedded"));
        assert!(
            processes_in(&dir.path().join(".sessiondb/embedded")).is_empty(),
            "no redis-server was started"
        );
    }

    // Asked for explicitly, the embedded default starts even inside Kubernetes.
    let mut cmd = sessiondb(dir.path());
    cmd.env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
        .env("SESSIONDB_REDIS__MODE", "embedded");
    let mut serve = Serve::start(cmd);
    let _api = serve.url("API:");
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));
}
