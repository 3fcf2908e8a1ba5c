//! `sessiondb serve --local`: the API on a stack started by `sessiondb local up`.

use std::process::Command;
use std::time::Duration;

use crate::support::{eventually, output, Stack};

#[path = "../common/serve.rs"]
mod serve;
use serve::Serve;

/// Creates a session for alice over the API, reads it back with its token and
/// returns its id.
fn create_and_read_a_session(api: &str, key: &str) -> String {
    try_create_and_read_a_session(api, key).unwrap()
}

/// [`create_and_read_a_session`], with what went wrong as the error.
fn try_create_and_read_a_session(api: &str, key: &str) -> Result<String, String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let created = client
            .post(format!("{api}/v1/sessions"))
            .bearer_auth(key)
            .json(&serde_json::json!({"user_id": "alice", "data": {"role": "admin"}}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if created.status() != 201 {
            return Err(format!("create answered {}", created.status()));
        }
        let body: serde_json::Value = created.json().await.map_err(|e| e.to_string())?;
        let read = client
            .get(format!("{api}/v1/sessions/current"))
            .bearer_auth(key)
            .header("X-Session-Token", body["session_token"].as_str().unwrap())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if read.status() != 200 {
            return Err(format!("read answered {}", read.status()));
        }
        let session: serde_json::Value = read.json().await.map_err(|e| e.to_string())?;
        assert_eq!(session["user_id"], "alice", "{session}");
        assert_eq!(session["session_id"], body["session_id"], "{session}");
        Ok(body["session_id"].as_str().unwrap().to_owned())
    })
}

/// Creates and reads a session, retrying for up to 30 s while the stack recovers.
fn create_and_read_a_session_eventually(api: &str, key: &str) -> String {
    eventually(
        "a session created and read through the API",
        Duration::from_secs(30),
        || try_create_and_read_a_session(api, key),
    )
}

/// Starts `serve --local --local-dir <stack>` with stray settings for another Redis
/// in its environment, and returns it with its API address and printed API key.
fn serve_local(stack: &Stack) -> (Serve, String, String) {
    serve_local_with(stack, Serve::start_with, &[])
}

/// [`serve_local`], started by `start`.
fn serve_local_with(
    stack: &Stack,
    start: fn(std::process::Command, &[&str]) -> Serve,
    env: &[(&str, &str)],
) -> (Serve, String, String) {
    let mut cmd = stack.command();
    cmd.envs(env.iter().copied());
    cmd.env("REDIS_HOST", "192.0.2.1")
        .env("SESSIONDB_REDIS__PORT", "1")
        .env("SESSIONDB_REDIS__TLS__ENABLED", "true");
    let dir = stack.dir.to_str().unwrap();
    let mut serve = start(cmd, &["--local", "--local-dir", dir]);
    let api = serve.url("API:");
    serve.wait_for_line("the local stack in", Duration::from_secs(5));
    let key = serve
        .wait_for_line("sdb_k1_", Duration::from_secs(5))
        .trim()
        .to_owned();
    let saved = std::fs::read_to_string(stack.temp.path().join(".sessiondb/embedded/api-key"));
    assert_eq!(
        saved.unwrap().trim(),
        key,
        "the printed key is the saved one"
    );
    eventually(
        "the note on ignored variables",
        Duration::from_secs(5),
        || {
            let stderr = serve.stderr();
            let note = "--local ignores REDIS_HOST, SESSIONDB_REDIS__PORT, \
                    SESSIONDB_REDIS__TLS__ENABLED from the environment";
            if stderr.contains(note) {
                Ok(())
            } else {
                Err(stderr)
            }
        },
    );
    (serve, api, key)
}

/// The key of session `id` on the node at `port`, and its user field.
fn session_in_redis(stack: &Stack, port: &str, id: &str) -> Result<(String, String), String> {
    let pattern = format!("sdb:*:s:{id}");
    let key = stack.redis_cli(port, &["--scan", "--pattern", &pattern]);
    if key.is_empty() || key.contains('\n') {
        return Err(format!("keys matching {pattern}: {key:?}"));
    }
    // The record is a MessagePack stream; the user id is one of its strings.
    let record = stack.redis_cli(port, &["GET", &key]);
    Ok((key, record))
}

#[track_caller]
fn assert_no_password_printed(stack: &Stack, serve: &Serve) {
    let printed = format!("{}\n{}", serve.stdout.join("\n"), serve.stderr());
    for (name, value) in stack.env_vars() {
        if name.ends_with("PASSWORD") {
            assert!(!printed.contains(&value), "{name} was printed:\n{printed}");
        }
    }
}

#[test]
fn serve_local_stores_sessions_in_the_standalone_stack_and_ignores_stray_redis_settings() {
    let stack = Stack::in_subdir();
    stack
        .run(&["up"])
        .assert_code(0)
        .assert_stdout_contains("sessiondb serve --local --local-dir");
    let (mut serve, api, key) = serve_local(&stack);
    assert!(
        serve.stdout.iter().any(|l| l.contains("(standalone mode)")),
        "{:?}",
        serve.stdout
    );

    let id = create_and_read_a_session(&api, &key);
    let port = stack.env("SESSIONDB_REDIS__PORT");
    let (_, record) = session_in_redis(&stack, &port, &id).unwrap();
    assert!(record.contains("alice"), "{record:?}");
    assert_no_password_printed(&stack, &serve);

    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));

    // A stopped stack is an unreachable Redis: exit 2 at once, with a hint.
    stack.run(&["stop"]).assert_code(0);
    let mut cmd = stack.command();
    cmd.args(["serve", "--local", "--local-dir"])
        .arg(&stack.dir)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]);
    output(cmd)
        .assert_code(2)
        .assert_stderr_contains("connecting to the local stack in")
        .assert_stderr_contains("is it running?");
    stack.run(&["down", "--purge"]).assert_code(0);
}

#[test]
fn serve_local_follows_the_ha_stack_through_sentinel() {
    let stack = Stack::in_subdir();
    stack.up_fast_ha();
    let (mut serve, api, key) = serve_local(&stack);
    assert!(
        serve.stdout.iter().any(|l| l.contains("(sentinel mode)")),
        "{:?}",
        serve.stdout
    );

    let id = create_and_read_a_session(&api, &key);
    let master = stack.node_port("redis-0");
    let (_, record) = session_in_redis(&stack, &master, &id).unwrap();
    assert!(
        record.contains("alice"),
        "the session is on the master: {record:?}"
    );
    let replica = stack.node_port("redis-1");
    eventually("the session on a replica", Duration::from_secs(10), || {
        session_in_redis(&stack, &replica, &id)
    });
    assert_no_password_printed(&stack, &serve);

    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));
    stack.run(&["down", "--purge"]).assert_code(0);
}

#[test]
fn serve_local_without_a_stack_exits_2_and_says_to_run_local_up() {
    let stack = Stack::in_subdir();
    let mut cmd = stack.command();
    cmd.args(["serve", "--local", "--local-dir"])
        .arg(&stack.dir);
    let env_file = stack.dir.join("local.env");
    output(cmd)
        .assert_code(2)
        .assert_stderr_contains(&env_file.display().to_string())
        .assert_stderr_contains(&format!(
            "run `sessiondb local up --dir {}` first",
            stack.dir.display()
        ));

    // The default directory, ./.sessiondb, needs no --dir in the advice.
    let default = Stack::in_default_dir();
    let mut cmd = default.command();
    cmd.args(["serve", "--local"]);
    output(cmd)
        .assert_code(2)
        .assert_stderr_contains("local.env does not exist")
        .assert_stderr_contains("run `sessiondb local up` first");
}

/// `GET <url>` as JSON.
fn get_json(url: &str) -> Result<serde_json::Value, String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
        response.json().await.map_err(|e| e.to_string())
    })
}

/// A standalone stack keeps this test light next to the HA tests of this binary; the
/// HA stack with monitoring is exercised by the live test in crates/monitoring-tests.
#[test]
fn serve_local_on_a_monitoring_stack_is_scraped_by_its_prometheus() {
    let stack = Stack::in_subdir();
    let up = stack.run(&["up", "--monitoring", "--monitoring-interval-secs", "1"]);
    up.assert_code(0)
        .assert_stdout_contains("Prometheus   http://127.0.0.1:")
        .assert_stdout_contains("Alertmanager http://127.0.0.1:");
    let status = stack.run(&["status"]);
    status
        .assert_code(0)
        .assert_stdout_contains("Monitoring:")
        .assert_stdout_contains("exporter-redis-0");
    let json = stack.status_json();
    let services = json["monitoring"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["exporter-redis-0", "alertmanager", "prometheus"],
        "{json}"
    );
    assert!(services.iter().all(|s| s["up"] == true), "{json}");
    let prometheus = services
        .iter()
        .find(|s| s["name"] == "prometheus")
        .and_then(|s| s["url"].as_str())
        .unwrap()
        .to_owned();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stack.dir.join("state.json")).unwrap())
            .unwrap();
    let admin = format!(
        "127.0.0.1:{}",
        state["topology"]["monitoring"]["sessiondb_admin_port"]
    );
    assert_eq!(stack.env("SESSIONDB_SERVER__ADMIN_LISTEN"), admin);
    stack
        .run(&["logs", "prometheus"])
        .assert_code(0)
        .assert_stdout_contains("Server is ready to receive web requests");
    // The exporters get the password through the environment, not the command line.
    let passwords: Vec<String> = stack
        .env_vars()
        .into_iter()
        .filter(|(name, _)| name.ends_with("PASSWORD"))
        .map(|(_, value)| value)
        .collect();
    for service in services {
        let pid = u32::try_from(service["pid"].as_u64().unwrap()).unwrap();
        let cmdline = sessiondb_local::stack::procfs::cmdline(pid).unwrap();
        assert!(cmdline.contains("prometheus"), "{cmdline}");
        assert!(
            !passwords.iter().any(|p| cmdline.contains(p.as_str())),
            "{} has a password on its command line",
            service["name"]
        );
    }

    // serve --local puts its admin listener where the stack's Prometheus scrapes.
    let (mut serve, _api, _key) = serve_local_with(&stack, Serve::start_with_settings_admin, &[]);
    eventually(
        "serve to log its admin listener",
        Duration::from_secs(10),
        || {
            let stderr = serve.stderr();
            if stderr.contains(&format!("admin={admin}")) {
                Ok(())
            } else {
                Err(stderr)
            }
        },
    );
    let query = format!("{prometheus}/api/v1/query?query=up%7Bjob%3D%22sessiondb%22%7D");
    eventually(
        "Prometheus to scrape serve",
        Duration::from_secs(30),
        || {
            let value = get_json(&query)?;
            match value["data"]["result"][0]["value"][1].as_str() {
                Some("1") => Ok(()),
                _ => Err(value.to_string()),
            }
        },
    );
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));

    let pids = stack.all_pids();
    assert_eq!(pids.len(), 5, "supervisor, redis-0, 3 monitoring: {pids:?}");
    stack
        .run(&["down", "--purge"])
        .assert_code(0)
        .assert_stdout_contains("deleted");
    stack.assert_all_gone(&pids);
    assert!(!stack.dir.join("monitoring").exists());
}

/// `local up --ha --tls`: every node and Sentinel speaks TLS only and asks for a client
/// certificate; `serve --local` (with `replicated` durability) connects as `app` over
/// TLS and follows a forced failover and a master killed with SIGKILL; the replicas
/// resync over TLS and hold every session written before the kill and after it settled.
#[test]
fn serve_local_on_a_tls_stack_follows_failover_and_a_killed_master() {
    let stack = Stack::in_subdir();
    stack
        .run(&[
            "up",
            "--ha",
            "--tls",
            "--down-after-ms",
            "1000",
            "--fast-sentinel-timers",
        ])
        .assert_code(0);
    assert!(stack.tls());
    let tls_dir = stack.dir.join("tls");
    for (file, mode) in [
        ("ca.crt", 0o644),
        ("server.crt", 0o644),
        ("server.key", 0o600),
        ("client.crt", 0o644),
        ("client.key", 0o600),
    ] {
        let meta = std::fs::metadata(tls_dir.join(file)).unwrap();
        let actual = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        assert_eq!(actual, mode, "{file}");
    }
    assert_eq!(stack.env("SESSIONDB_REDIS__TLS__ENABLED"), "true");
    assert_eq!(
        stack.env("SESSIONDB_REDIS__TLS__CA_FILE"),
        tls_dir.join("ca.crt").display().to_string()
    );

    // TLS only, with client certificates required, on data nodes and Sentinels.
    for node in ["redis-0", "sentinel-0"] {
        let port = stack.node_port(node);
        let plain = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port, "PING"])
            .output()
            .unwrap();
        let plain = String::from_utf8_lossy(&plain.stdout).to_string()
            + &String::from_utf8_lossy(&plain.stderr);
        assert!(
            !plain.contains("PONG"),
            "{node} answered in plaintext: {plain}"
        );
        let ca = tls_dir.join("ca.crt");
        let no_cert = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert"])
            .arg(&ca)
            .arg("PING")
            .output()
            .unwrap();
        let no_cert = String::from_utf8_lossy(&no_cert.stdout).to_string()
            + &String::from_utf8_lossy(&no_cert.stderr);
        assert!(
            !no_cert.contains("PONG"),
            "{node} answered without a client certificate: {no_cert}"
        );
    }
    let status = stack.status_json();
    assert_eq!(status["healthy"], true, "{status}");

    let durability = [("SESSIONDB_REDIS__DURABILITY", "replicated")];
    let (mut serve, api, key) = serve_local_with(&stack, Serve::start_with, &durability);
    let before = create_and_read_a_session(&api, &key);

    let failover = stack.run(&["failover"]);
    failover.assert_code(0);
    let after_failover = create_and_read_a_session_eventually(&api, &key);
    let master = master_port(&stack);
    assert_ne!(master, stack.node_port("redis-0"), "{failover}");
    for id in [&before, &after_failover] {
        session_in_redis(&stack, &master, id).unwrap();
    }

    // SIGKILL the master: the supervisor restarts it, or the Sentinels promote a
    // replica; either way the API writes again and every replica resyncs over TLS.
    let master_name = status_master_name(&stack);
    let pid = stack.node_pid(&master_name);
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The API writes again. (Whether this write survives is up to Redis: the killed
    // master comes back within a second, restarted by the supervisor, while the
    // Sentinels may promote a replica that had not received it yet, and `WAIT` cannot
    // prevent that. The failover drills measure such losses.)
    create_and_read_a_session_eventually(&api, &key);
    eventually(
        "every replica linked to the master over TLS",
        Duration::from_secs(60),
        || {
            let status = stack.status_json();
            let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
            let replicas: Vec<_> = nodes.iter().filter(|n| n["role"] == "replica").collect();
            let linked = replicas.iter().filter(|n| n["link_up"] == true).count();
            if replicas.len() == 2 && linked == 2 && status["healthy"] == true {
                Ok(())
            } else {
                Err(status.to_string())
            }
        },
    );
    // Once the stack has settled, a new write reaches every node over TLS, and so have
    // the writes made before the kill.
    let settled = create_and_read_a_session_eventually(&api, &key);
    let master = master_port(&stack);
    for (name, id) in [
        ("before", &before),
        ("after failover", &after_failover),
        ("after the stack settled", &settled),
    ] {
        for node in ["redis-0", "redis-1", "redis-2"] {
            let port = stack.node_port(node);
            // A node the Sentinels repointed after the kill may need a full resync first.
            let what = format!("the session created {name} on {node}");
            eventually(&what, Duration::from_secs(30), || {
                session_in_redis(&stack, &port, id).map_err(|e| {
                    let replication = stack.redis_cli(&port, &["INFO", "replication"]);
                    format!("{e}; {replication}")
                })
            });
        }
        session_in_redis(&stack, &master, id).unwrap();
    }
    assert_no_password_printed(&stack, &serve);

    serve.signal("TERM");
    assert_eq!(serve.wait_exit(Duration::from_secs(30)), Some(0));
    stack.run(&["down", "--purge"]).assert_code(0);
    assert!(!tls_dir.exists(), "--purge deletes the certificates");
}

/// The name of the node `local status` reports as master.
fn status_master_name(stack: &Stack) -> String {
    let status = stack.status_json();
    status["master"]
        .as_str()
        .unwrap_or_else(|| panic!("no master in {status}"))
        .to_owned()
}

/// The port of the node `local status` reports as master.
fn master_port(stack: &Stack) -> String {
    stack.node_port(&status_master_name(stack))
}
