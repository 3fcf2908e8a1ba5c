//! `sessiondb local …` (and `serve --local`): the built binary drives real `redis-server` and
//! `redis-sentinel` processes in a temporary directory. Tests assert exit
//! codes, output, data and the processes left behind (via `/proc`); they
//! never sleep to synchronise, they poll with deadlines.

#![allow(clippy::unwrap_used, unreachable_pub)] // test binary

mod serve_local;
mod support;

use std::time::Duration;

use sessiondb_local::stack::procfs;
use sessiondb_settings::{LoadOptions, RedisMode, Settings};
use support::{eventually, Stack};

#[test]
fn standalone_stack_keeps_data_across_stop_and_start_and_purges_cleanly() {
    // The default directory, ./.sessiondb, in the test's working directory.
    let stack = Stack::in_default_dir();
    let up = stack.run(&["up"]);
    up.assert_code(0);
    assert!(
        up.stdout
            .contains("created and started the local standalone stack"),
        "{up}"
    );
    assert!(stack.dir.join("local.env").is_file());
    stack
        .run(&["status"])
        .assert_code(0)
        .assert_stdout_contains("healthy");

    let again = stack.run(&["up"]);
    again
        .assert_code(0)
        .assert_stdout_contains("already running");
    let supervisor = stack.supervisor_pid();
    assert_eq!(
        stack.supervisor_pid(),
        supervisor,
        "a second up changes nothing"
    );

    let port = stack.env("SESSIONDB_REDIS__PORT");
    assert_eq!(stack.redis_cli(&port, &["SET", "greeting", "hello"]), "OK");
    let refused = stack.redis_cli_without_password(&port, &["GET", "greeting"]);
    assert!(
        refused.contains("NOAUTH"),
        "a password is required: {refused}"
    );
    let log = stack.run(&["logs", "redis-0", "--lines", "3"]);
    log.assert_code(0)
        .assert_stdout_contains("Ready to accept connections");
    assert!(log.stdout.lines().count() <= 3, "{log}");
    stack
        .run(&["failover"])
        .assert_code(2)
        .assert_stderr_contains("standalone");

    let pids_before_stop = stack.all_pids();
    stack
        .run(&["stop"])
        .assert_code(0)
        .assert_stdout_contains("stopped");
    stack.assert_all_gone(&pids_before_stop);
    stack
        .run(&["status"])
        .assert_code(1)
        .assert_stdout_contains("redis-0 is down");
    stack
        .run(&["up", "--ha"])
        .assert_code(2)
        .assert_stderr_contains("holds a standalone stack");

    stack.run(&["start"]).assert_code(0);
    assert_eq!(
        stack.env("SESSIONDB_REDIS__PORT"),
        port,
        "same port after start"
    );
    assert_eq!(
        stack.redis_cli(&port, &["GET", "greeting"]),
        "hello",
        "data kept"
    );

    // The data node runs with the ACL roles: `cleanup --local` logs in as `cleanup`
    // (it runs with the `app` user switched off).
    assert_eq!(
        stack.redis_cli(&port, &["ACL", "SETUSER", "app", "off"]),
        "OK"
    );
    let mut cleanup = stack.command();
    cleanup
        .args(["cleanup", "--local", "--local-dir"])
        .arg(&stack.dir);
    support::output(cleanup)
        .assert_code(0)
        .assert_stdout_contains("cleanup: ok");
    assert_eq!(
        stack.redis_cli(&port, &["ACL", "SETUSER", "app", "on"]),
        "OK"
    );
    // The stack's passwords give the same users as its own users.acl.
    let mut generate = stack.command();
    generate
        .args([
            "acl",
            "generate",
            "--out",
            "-",
            "--default-user",
            "admin",
            "--local",
        ])
        .args(["--local-dir"])
        .arg(&stack.dir);
    let generated = support::output(generate);
    generated.assert_code(0);
    assert_eq!(
        generated.stdout,
        std::fs::read_to_string(stack.dir.join("users.acl")).unwrap()
    );

    // A node that dies is restarted by the supervisor.
    let first = stack.node_pid("redis-0");
    procfs::send_signal(first, "KILL").unwrap();
    eventually("redis-0 to be restarted", Duration::from_secs(20), || {
        let status = stack.status_json();
        let pid = status["nodes"][0]["pid"].as_u64();
        match pid {
            Some(pid) if pid != u64::from(first) && status["healthy"] == true => Ok(()),
            _ => Err(format!("{status}")),
        }
    });

    let pids = stack.all_pids();
    stack
        .run(&["down", "--purge"])
        .assert_code(0)
        .assert_stdout_contains("deleted");
    stack.assert_all_gone(&pids);
    assert!(!stack.dir.exists(), "the stack directory is gone");
}

#[test]
fn ha_stack_fails_over_to_a_replica_and_goes_down() {
    let stack = Stack::in_subdir();
    stack.up_fast_ha();

    let status = stack.status_json();
    let roles: Vec<&str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        roles,
        ["master", "replica", "replica", "sentinel", "sentinel", "sentinel"]
    );
    assert_eq!(status["healthy"], true, "{status}");
    for view in status["sentinels"].as_array().unwrap() {
        assert_eq!(view["master"], "redis-0", "{view}");
        assert_eq!(view["quorum_ok"], true, "{view}");
    }
    let human = stack.run(&["status"]);
    human
        .assert_code(0)
        .assert_stdout_contains("Sentinels' view of the master");

    // The operations commands reach the stack with --local: its local.env holds the
    // role passwords, but its Redis has only the default user, which they use.
    eventually(
        "sessiondb health --local to pass",
        Duration::from_secs(20),
        || {
            let mut health = stack.command();
            health
                .args(["health", "--local", "--local-dir"])
                .arg(&stack.dir);
            let out = health.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let sentinels_ok = stdout.lines().any(|l| l.starts_with("ok    sentinels"));
            match out.status.code() {
                Some(0) if sentinels_ok => Ok(()),
                code => Err(format!(
                    "exit {code:?}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
        },
    );

    // local.env is what `sessiondb serve` loads.
    let settings = Settings::load(&LoadOptions {
        env: stack.env_vars(),
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(settings.redis.mode, RedisMode::Sentinel);
    assert_eq!(settings.redis.sentinels.len(), 3);
    assert_eq!(settings.redis.sentinel_service, "sessiondb");
    assert!(settings.redis.password.is_some() && settings.acl.app_password.is_some());

    let failover = stack.run(&["--json", "failover"]);
    failover.assert_code(0);
    let outcome: serde_json::Value = serde_json::from_str(&failover.stdout).unwrap();
    assert_eq!(outcome["old"]["name"], "redis-0");
    let new = outcome["new"]["name"].as_str().unwrap().to_owned();
    assert_ne!(new, "redis-0");
    eventually(
        "the stack to be healthy on the new master",
        Duration::from_secs(30),
        || {
            let status = stack.status_json();
            if status["healthy"] == true && status["master"] == new.as_str() {
                Ok(())
            } else {
                Err(format!("{status}"))
            }
        },
    );
    let human = stack.run(&["failover"]);
    human.assert_code(0).assert_stdout_contains("→");

    // Every node runs with the six ACL roles: after the failovers each role still
    // does its job on the new master (the API as `app`, the replicas and Sentinels as
    // `sentinel`) and is refused the rest.
    let mut verify = stack.command();
    verify
        .args(["acl", "verify", "--all", "--local", "--local-dir"])
        .arg(&stack.dir);
    let verify = support::output(verify);
    verify
        .assert_code(0)
        .assert_stdout_contains("ok    app       creates, reads, refreshes and revokes")
        .assert_stdout_contains(", 0 failed");

    // Sentinel rewrote its config (with the passwords) during the failovers; every
    // directory holding secrets is still owner-only.
    assert_owner_only(&stack.dir);
    let nodes: Vec<_> = std::fs::read_dir(&stack.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(nodes.len(), 6, "{nodes:?}");
    for node in nodes {
        assert_owner_only(&node);
    }

    let pids = stack.all_pids();
    stack.run(&["down"]).assert_code(0);
    stack.assert_all_gone(&pids);
    assert!(
        stack.dir.join("state.json").is_file(),
        "down without --purge keeps the data"
    );
    stack.run(&["down", "--purge"]).assert_code(0);
    assert!(!stack.dir.exists());
}

#[test]
fn killing_the_supervisor_with_sigkill_leaves_no_redis_process() {
    let stack = Stack::in_subdir();
    stack.up_fast_ha();
    let pids = stack.all_pids();
    assert_eq!(pids.len(), 7, "supervisor, 3 data nodes, 3 sentinels");

    procfs::send_signal(stack.supervisor_pid(), "KILL").unwrap();
    stack.assert_all_gone(&pids);
    stack
        .run(&["status"])
        .assert_code(1)
        .assert_stdout_contains("the supervisor is not running");

    // The stack starts again after the crash, with the ports it had.
    let restarted = stack.run(&["up", "--ha", "--port", "1"]);
    restarted
        .assert_code(0)
        .assert_stdout_contains("started")
        .assert_stderr_contains("ignoring --port");
    stack.run(&["status"]).assert_code(0);
    stack.run(&["down", "--purge"]).assert_code(0);
}

#[test]
fn commands_without_a_stack_say_so() {
    let stack = Stack::in_subdir();
    stack
        .run(&["status"])
        .assert_code(1)
        .assert_stdout_contains("no local stack");
    stack
        .run(&["stop"])
        .assert_code(2)
        .assert_stderr_contains("no local stack");
    stack
        .run(&["down"])
        .assert_code(0)
        .assert_stdout_contains("nothing to do");

    // --purge never deletes a directory that is not a stack.
    std::fs::create_dir_all(&stack.dir).unwrap();
    std::fs::write(stack.dir.join("precious"), "keep me").unwrap();
    stack
        .run(&["down", "--purge"])
        .assert_code(2)
        .assert_stderr_contains("not deleting");
    assert!(stack.dir.join("precious").is_file());
}

#[track_caller]
fn assert_owner_only(dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(dir).unwrap();
    assert_eq!(
        meta.mode() & 0o777,
        0o700,
        "{} is not owner-only",
        dir.display()
    );
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(meta.uid(), me, "{} is not ours", dir.display());
}
