//! The operations commands (`health`, `status`, `stats`, `backup`, `restore`,
//! `redis-cli`) through the binary, against redis-server processes started here.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use sessiondb_engine::{
    ConnectionConfig, Engine, EngineConfig, NewSession, SessionMetadata, SessionToken, UserId,
};
use sessiondb_local::{free_port, RedisOptions, RedisServer, SentinelOptions, SentinelTopology};

use crate::support::sessiondb;

/// The binary, pointed at `redis` (with its password, if any) and run in `dir`.
fn at(dir: &Path, redis: &RedisServer) -> Command {
    let mut cmd = sessiondb(dir);
    cmd.env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", redis.port().to_string());
    if let Some(password) = redis.password() {
        use secrecy::ExposeSecret as _;
        cmd.env("REDIS_PASSWORD", password.expose_secret());
    }
    cmd
}

fn run(mut cmd: Command, args: &[&str]) -> Output {
    let out = cmd.args(args).output().unwrap();
    eprintln!(
        "sessiondb {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates `per_user[i]` sessions for user `user-i` under the default prefix and
/// returns their session tokens.
fn populate(redis: &RedisServer, per_user: &[usize]) -> Vec<SessionToken> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = connect(redis).await;
        let mut tokens = Vec::new();
        for (i, n) in per_user.iter().enumerate() {
            for _ in 0..*n {
                let created = engine
                    .create(NewSession {
                        user_id: UserId::parse(format!("user-{i}").as_str()).unwrap(),
                        data: serde_json::Map::new(),
                        metadata: SessionMetadata::default(),
                        idle_ttl: None,
                    })
                    .await
                    .unwrap();
                tokens.push(created.session_token);
            }
        }
        engine.shutdown().await.unwrap();
        tokens
    })
}

async fn connect(redis: &RedisServer) -> Engine {
    let (host, port) = redis.addr();
    let mut conn = ConnectionConfig::standalone(host, port);
    conn.password = redis.password().cloned();
    Engine::connect(&conn, EngineConfig::default())
        .await
        .unwrap()
}

/// How many of `tokens` the engine on `redis` accepts.
fn valid(redis: &RedisServer, tokens: &[SessionToken]) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = connect(redis).await;
        let mut n = 0;
        for token in tokens {
            if engine.get(token, false).await.is_ok() {
                n += 1;
            }
        }
        engine.shutdown().await.unwrap();
        n
    })
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[test]
fn health_exits_0_when_healthy_1_naming_the_check_and_2_when_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = RedisServer::start(RedisOptions::default()).unwrap();
    let out = run(at(dir.path(), &healthy), &["health"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.starts_with("ok    master")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("ok    eviction")),
        "{text}"
    );
    let out = run(at(dir.path(), &healthy), &["health", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["topology"], "standalone");
    assert!(report["checks"].as_array().unwrap().len() >= 5);

    let lru = RedisServer::start(RedisOptions {
        extra_args: vec!["--maxmemory-policy".to_owned(), "allkeys-lru".to_owned()],
        ..RedisOptions::default()
    })
    .unwrap();
    let out = run(at(dir.path(), &lru), &["health"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("fail"))
        .unwrap_or_else(|| panic!("no failed check in {text}"));
    assert!(
        line.contains("eviction") && line.contains("allkeys-lru"),
        "{line}"
    );
    let report = json(&run(at(dir.path(), &lru), &["health", "--json"]));
    assert_eq!(report["status"], "failed");
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["eviction"]);

    // Memory over the ratio of maxmemory.
    let full = RedisServer::start(RedisOptions {
        extra_args: vec!["--maxmemory".to_owned(), "4mb".to_owned()],
        ..RedisOptions::default()
    })
    .unwrap();
    let out = run(
        at(dir.path(), &full),
        &["health", "--max-memory-ratio", "0.01"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.starts_with("fail  memory")),
        "{text}"
    );

    // Nothing listens on this port.
    let mut cmd = sessiondb(dir.path());
    cmd.env("REDIS_HOST", "127.0.0.1")
        .env("REDIS_PORT", free_port().unwrap().to_string());
    let out = run(cmd, &["health", "--timeout", "1s", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["status"], "could_not_run");

    // A bad option is exit 2 with its name.
    let out = run(
        at(dir.path(), &healthy),
        &["health", "--max-memory-ratio", "2"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_memory_ratio"));
}

#[test]
fn health_logs_in_as_monitor_when_its_password_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(RedisOptions {
        password: Some(SecretString::from("admin-pa55")),
        ..RedisOptions::default()
    })
    .unwrap();
    // No `monitor` user yet: configuring its password makes health log in as it.
    let mut cmd = at(dir.path(), &redis);
    cmd.env("MONITOR_PASSWORD", "monitor-pa55");
    let out = run(cmd, &["health", "--json"]);
    assert_eq!(out.status.code(), Some(2), "the monitor role was not used");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("monitor-pa55"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("monitor-pa55"));
    redis
        .cli(&[
            "ACL",
            "SETUSER",
            "monitor",
            "on",
            ">monitor-pa55",
            "~sdb:*",
            "+@all",
        ])
        .unwrap();
    let mut cmd = at(dir.path(), &redis);
    cmd.env("MONITOR_PASSWORD", "monitor-pa55");
    let out = run(cmd, &["health", "--json"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn status_and_stats_print_their_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(RedisOptions::default()).unwrap();
    populate(&redis, &[1, 2, 2, 5]);

    let out = run(at(dir.path(), &redis), &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let status = json(&out);
    assert_eq!(status["status"], "ok");
    assert_eq!(status["topology"], "standalone");
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["role"], "master");
    assert_eq!(nodes[0]["address"], format!("127.0.0.1:{}", redis.port()));
    assert_eq!(status["sentinels"], serde_json::json!([]));
    assert!(status["cluster"].is_null());
    assert_eq!(status["sessions"]["live_sessions"], 10);
    assert_eq!(status["sessions"]["users"], 4);
    assert!(status["sessions"]["last_backup_ms"].is_null());
    let text = stdout(&run(at(dir.path(), &redis), &["status"]));
    assert!(text.contains("live sessions   10"), "{text}");

    let out = run(at(dir.path(), &redis), &["stats", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let stats = json(&out);
    assert_eq!(stats["live_sessions"], 10);
    assert_eq!(stats["users"], 4);
    let distribution: Vec<(u64, u64)> = stats["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sessions"].as_u64().unwrap(),
                r["users"].as_u64().unwrap(),
            )
        })
        .collect();
    // The cap is the configured session.max_per_user (5).
    assert_eq!(distribution, [(1, 1), (2, 2), (3, 0), (4, 0), (5, 1)]);
    assert_eq!(stats["top_users"][0]["sessions"], 5);
    assert!(stats["top_users"][0]["user_id"].is_null());
    assert_eq!(stats["events"]["per_minute"]["created"], 10.0);
    let shown = json(&run(
        at(dir.path(), &redis),
        &["stats", "--json", "--show-users", "--top", "1"],
    ));
    assert_eq!(shown["top_users"].as_array().unwrap().len(), 1);
    assert_eq!(shown["top_users"][0]["user_id"], "user-3");

    // Every field of both documents is in docs/operations.md.
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .unwrap();
    let mut stack = vec![&status, &stats];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    assert!(docs.contains(&format!("\"{key}\"")), "{key} undocumented");
                    stack.push(inner);
                }
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
}

#[test]
fn backup_then_restore_through_the_binary_brings_every_session_back() {
    let dir = tempfile::tempdir().unwrap();
    let source = RedisServer::start(RedisOptions::default()).unwrap();
    let tokens = populate(&source, &[1, 3, 2]);
    let file = dir.path().join("sessions.sdbbackup");
    let file_arg = file.to_str().unwrap();

    let before = now_ms();
    let out = run(
        at(dir.path(), &source),
        &["backup", "--out", file_arg, "--json"],
    );
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["recorded"], true);
    assert_eq!(report["counts"]["users"], 3);
    assert!(file.is_file());
    // Recorded where serve's backup gauge and `status` read it.
    let last: u64 = source
        .cli(&["GET", "sdb:backup:last"])
        .unwrap()
        .parse()
        .unwrap();
    assert!(last + 5_000 >= before && last <= now_ms() + 5_000, "{last}");
    let status = json(&run(at(dir.path(), &source), &["status", "--json"]));
    assert_eq!(status["sessions"]["last_backup_ms"], last);
    // Not a terminal: the one-line summary, no progress bar.
    let out = run(at(dir.path(), &source), &["backup", "--out", file_arg]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("backup written to "),
        "{}",
        stdout(&out)
    );
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(out.stderr.is_empty());

    let target = RedisServer::start(RedisOptions::default()).unwrap();
    let out = run(
        at(dir.path(), &target),
        &["restore", file_arg, "--dry-run", "--json"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["dry_run"], true);
    assert_eq!(target.cli(&["DBSIZE"]).unwrap(), "0");
    let out = run(at(dir.path(), &target), &["restore", file_arg, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["users"]["restored"], 3);
    assert_eq!(valid(&target, &tokens), tokens.len());
    let status = json(&run(at(dir.path(), &target), &["status", "--json"]));
    assert_eq!(status["sessions"]["live_sessions"], 6);
    assert_eq!(status["sessions"]["users"], 3);
}

#[test]
fn restore_refuses_a_corrupt_or_truncated_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = RedisServer::start(RedisOptions::default()).unwrap();
    populate(&source, &[2, 2]);
    let file = dir.path().join("good.sdbbackup");
    let out = run(
        at(dir.path(), &source),
        &["backup", "--out", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let good = std::fs::read(&file).unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let truncated = good[..good.len() - 40].to_vec();
    let target = RedisServer::start(RedisOptions::default()).unwrap();
    for (name, bytes) in [("flipped", flipped), ("truncated", truncated)] {
        let bad = dir.path().join(format!("{name}.sdbbackup"));
        std::fs::write(&bad, bytes).unwrap();
        let out = run(at(dir.path(), &target), &["restore", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{name}.sdbbackup")), "{stderr}");
        assert_eq!(target.cli(&["DBSIZE"]).unwrap(), "0", "{name}");
    }
}

#[test]
fn redis_cli_passes_the_password_through_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let password = "cli-pa55word";
    let redis = RedisServer::start(RedisOptions {
        password: Some(SecretString::from(password)),
        ..RedisOptions::default()
    })
    .unwrap();
    let out = run(at(dir.path(), &redis), &["redis-cli", "--", "PING"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "PONG");
    // The invocation names the variable, never the value.
    let out = run(at(dir.path(), &redis), &["redis-cli", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let invocation = json(&out);
    assert_eq!(invocation["env"], serde_json::json!(["REDISCLI_AUTH"]));
    assert!(!stdout(&out).contains(password));

    // A role logs in as its own user.
    redis
        .cli(&[
            "ACL",
            "SETUSER",
            "monitor",
            "on",
            ">mon-pa55",
            "+@all",
            "~*",
        ])
        .unwrap();
    let mut cmd = at(dir.path(), &redis);
    cmd.env("MONITOR_PASSWORD", "mon-pa55");
    let out = run(
        cmd,
        &["redis-cli", "--role", "monitor", "--", "ACL", "WHOAMI"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "monitor");
    // A role whose password is not configured is refused by name.
    let out = run(at(dir.path(), &redis), &["redis-cli", "--role", "backup"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("acl.backup_password"));
}

#[test]
fn stats_watch_prints_a_document_per_refresh_until_interrupted() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(RedisOptions::default()).unwrap();
    populate(&redis, &[2]);
    let mut child = at(dir.path(), &redis)
        .args(["stats", "--watch", "1", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    for _ in 0..2 {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a refresh");
        let report: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(report["live_sessions"], 2);
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "stats --watch kept running");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn pitr_writes_a_backup_of_the_aof_that_restore_applies() {
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let source = RedisServer::start(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    })
    .unwrap();
    let tokens = populate(&source, &[1, 2]);
    // Every write reached the AOF file.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !source
        .cli(&["INFO", "persistence"])
        .unwrap()
        .lines()
        .any(|l| l.trim() == "aof_buffer_length:0")
    {
        assert!(Instant::now() < deadline, "the AOF buffer did not drain");
        std::thread::sleep(Duration::from_millis(50));
    }
    let file = dir.path().join("recovered.sdbbackup");
    let now = (now_ms() / 1000).to_string();
    let mut pitr = sessiondb(dir.path());
    pitr.env("TMPDIR", dir.path());
    let out = run(
        pitr,
        &[
            "pitr",
            "--aof-dir",
            source.dir().to_str().unwrap(),
            "--to",
            &now,
            "--out",
            file.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["backup"]["counts"]["users"], 2);
    assert_eq!(report["backup"]["header"]["source"]["topology"], "aof");

    let target = RedisServer::start(RedisOptions::default()).unwrap();
    let out = run(
        at(dir.path(), &target),
        &["restore", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(valid(&target, &tokens), tokens.len());

    // A time that is not one is refused by name.
    let out = run(
        sessiondb(dir.path()),
        &["pitr", "--aof-dir", "x", "--to", "yesterday", "--out", "y"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time"));
}

#[test]
fn health_and_status_follow_a_sentinel_topology() {
    let dir = tempfile::tempdir().unwrap();
    let topology = SentinelTopology::start(SentinelOptions {
        replicas: 1,
        fast_timers: true,
        ..SentinelOptions::default()
    })
    .unwrap();
    let sentinels: Vec<String> = topology
        .sentinel_addrs()
        .iter()
        .map(|(host, port)| format!("{host}:{port}"))
        .collect();
    let at_sentinels = || {
        let mut cmd = sessiondb(dir.path());
        cmd.env("SESSIONDB_REDIS__MODE", "sentinel")
            .env("SESSIONDB_REDIS__SENTINELS", sentinels.join(","))
            .env("SESSIONDB_REDIS__SENTINEL_SERVICE", topology.service_name());
        cmd
    };
    // The replica may still be syncing: poll until healthy.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let report = loop {
        let out = run(at_sentinels(), &["health", "--json"]);
        if out.status.code() == Some(0) {
            break json(&out);
        }
        assert!(std::time::Instant::now() < deadline, "never healthy");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(report["topology"], "sentinel");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"sentinels") && names.contains(&"replicas"),
        "{names:?}"
    );

    let status = json(&run(at_sentinels(), &["status", "--json"]));
    assert_eq!(status["topology"], "sentinel");
    assert_eq!(status["sentinels"].as_array().unwrap().len(), 3);
    let master = topology.current_master().unwrap();
    let master = format!("{}:{}", master.0, master.1);
    let roles: Vec<(String, String)> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["address"].as_str().unwrap().to_owned(),
                n["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(roles.contains(&(master, "master".to_owned())), "{roles:?}");
    assert_eq!(roles.len(), 2, "{roles:?}");
}
