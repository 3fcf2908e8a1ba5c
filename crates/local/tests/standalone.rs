//! Standalone `RedisServer`: auth, persistence, lifecycle and cleanup, with
//! real `redis-server` processes.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::time::Duration;

use sessiondb_local::{LocalError, RedisOptions, RedisServer, SecretString};

mod common;
use common::{eventually, process_exists};

/// A password that needs quoting in redis.conf.
const PASSWORD: &str = "s3cret pass\"with\\quotes";

/// Sends an inline command without authenticating and returns the first
/// reply line.
fn raw_command(port: u16, command: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    stream
        .write_all(format!("{command}\r\n").as_bytes())
        .expect("send the command");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("read the reply");
    line.trim_end().to_owned()
}

#[test]
fn default_server_answers_ping() {
    let server = RedisServer::start(RedisOptions::default()).unwrap();
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.addr(), ("127.0.0.1".to_owned(), server.port()));
    assert_eq!(server.cli(&["PING"]).unwrap(), "PONG");
    assert_eq!(raw_command(server.port(), "PING"), "+PONG");
    assert_eq!(
        server.cli(&["CONFIG", "GET", "bind"]).unwrap(),
        "bind\n127.0.0.1"
    );
    assert_eq!(server.cli(&["CONFIG", "GET", "save"]).unwrap(), "save");
}

#[test]
fn password_is_required_and_never_leaks() {
    let server = RedisServer::start(RedisOptions {
        password: Some(SecretString::from(PASSWORD)),
        ..RedisOptions::default()
    })
    .unwrap();

    assert_eq!(server.cli(&["PING"]).unwrap(), "PONG");
    assert!(raw_command(server.port(), "PING").starts_with("-NOAUTH"));
    assert!(raw_command(server.port(), "AUTH wrong").starts_with("-WRONGPASS"));

    assert!(!format!("{server:?}").contains(PASSWORD));
    let err = server.cli(&["INCR"]).unwrap_err();
    assert!(matches!(err, LocalError::Command { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(PASSWORD));

    // The password is only in the config file, readable by the owner alone.
    let conf = server.dir().join("redis.conf");
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid().unwrap())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("s3cret"));
}

#[test]
fn aof_survives_kill_and_restart() {
    let mut server = RedisServer::start(RedisOptions {
        appendonly: true,
        extra_args: vec!["--appendfsync".into(), "always".into()],
        ..RedisOptions::default()
    })
    .unwrap();
    let port = server.port();
    assert_eq!(server.cli(&["SET", "durable", "yes"]).unwrap(), "OK");

    let old_pid = server.pid().unwrap();
    server.kill().unwrap();
    assert!(!server.is_running());
    assert_eq!(server.pid(), None);
    assert!(!process_exists(old_pid));

    server.restart().unwrap();
    assert!(server.is_running());
    assert_eq!(server.port(), port);
    assert_eq!(server.cli(&["GET", "durable"]).unwrap(), "yes");
}

#[test]
fn persistence_plan_is_aof_only_with_timestamps_and_no_snapshots() {
    let server = RedisServer::start(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    })
    .unwrap();
    let get = |name: &str| {
        let reply = server.cli(&["CONFIG", "GET", name]).unwrap();
        reply.lines().nth(1).unwrap_or_default().to_owned()
    };
    assert_eq!(get("appendonly"), "yes");
    assert_eq!(get("appendfsync"), "everysec");
    assert_eq!(get("save"), "", "no periodic RDB snapshots");
    assert_eq!(get("aof-use-rdb-preamble"), "yes");
    assert_eq!(get("aof-timestamp-enabled"), "yes");
}

#[test]
fn stop_is_graceful_and_restart_works() {
    let mut server = RedisServer::start(RedisOptions::default()).unwrap();
    let pid = server.pid().unwrap();
    server.stop().unwrap();
    assert!(!server.is_running());
    assert!(!process_exists(pid));
    let log = std::fs::read_to_string(server.log_file()).unwrap();
    assert!(log.contains("ready to exit"), "{log}");

    server.restart().unwrap();
    assert_eq!(server.cli(&["PING"]).unwrap(), "PONG");
    // Stopping twice is fine.
    server.stop().unwrap();
    server.stop().unwrap();
}

#[test]
fn drop_kills_the_process_and_removes_the_temp_dir() {
    let server = RedisServer::start(RedisOptions::default()).unwrap();
    let pid = server.pid().unwrap();
    let dir = server.dir().to_owned();
    assert!(process_exists(pid));
    assert!(dir.join("redis.conf").exists());
    drop(server);
    assert!(!process_exists(pid));
    assert!(!dir.exists());
}

#[test]
fn drop_during_a_panic_kills_the_process() {
    let (tx, rx) = mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let server = RedisServer::start(RedisOptions::default()).unwrap();
        tx.send(server.pid().unwrap()).unwrap();
        panic!("test body failed while the server was running");
    })
    .join();
    assert!(outcome.is_err());
    let pid = rx.recv().unwrap();
    assert!(!process_exists(pid));
}

#[test]
fn a_given_dir_is_kept() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("node");
    let server = RedisServer::start(RedisOptions {
        dir: Some(dir.clone()),
        ..RedisOptions::default()
    })
    .unwrap();
    assert_eq!(server.dir(), dir);
    drop(server);
    assert!(dir.join("redis.log").exists());
}

#[test]
fn replica_replicates_from_its_master() {
    let password = Some(SecretString::from(PASSWORD));
    let master = RedisServer::start(RedisOptions {
        password: password.clone(),
        ..RedisOptions::default()
    })
    .unwrap();
    let replica = RedisServer::start(RedisOptions {
        password,
        replica_of: Some(master.addr()),
        ..RedisOptions::default()
    })
    .unwrap();
    master.cli(&["SET", "k", "v"]).unwrap();
    eventually(
        "the key to replicate",
        Duration::from_secs(10),
        || match replica.cli(&["GET", "k"]) {
            Ok(value) if value == "v" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    assert!(replica.cli(&["ROLE"]).unwrap().starts_with("slave"));
}

#[test]
fn startup_failure_reports_the_log_tail() {
    let err = RedisServer::start(RedisOptions {
        extra_args: vec!["--no-such-directive".into(), "1".into()],
        ..RedisOptions::default()
    })
    .unwrap_err();
    assert!(matches!(err, LocalError::StartFailed { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no-such-directive"), "{message}");
}

#[test]
fn a_taken_fixed_port_fails_with_address_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = RedisServer::start(RedisOptions {
        port: Some(port),
        ..RedisOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("Address already in use"), "{err}");
}
