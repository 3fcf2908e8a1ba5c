//! The `launcher` hook: servers and sentinels run through a command prefix,
//! and `parent_death_launcher` ties their life to the spawning thread.

use std::time::Duration;

use sessiondb_local::{
    parent_death_launcher, RedisOptions, RedisServer, SentinelOptions, SentinelTopology,
};

mod common;
use common::{eventually, process_exists};

/// A launcher that appends a line to `log` and then execs the command.
fn logging_launcher(log: &std::path::Path) -> Vec<std::ffi::OsString> {
    vec![
        "sh".into(),
        "-c".into(),
        r#"echo launched >> "$0"; exec "$@""#.into(),
        log.into(),
    ]
}

#[test]
fn servers_and_sentinels_run_through_the_launcher_with_their_own_pid() {
    let temp = tempfile::tempdir().unwrap();
    let log = temp.path().join("launches");
    let server = RedisServer::start(RedisOptions {
        launcher: logging_launcher(&log),
        ..RedisOptions::default()
    })
    .unwrap();
    // The readiness check already compared the pid Redis reports with the
    // spawned one; `exec` kept it.
    let reported = server.cli(&["INFO", "server"]).unwrap();
    let pid = server.pid().unwrap().to_string();
    assert!(
        reported.contains(&format!("process_id:{pid}")),
        "{reported}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);

    let _topology = SentinelTopology::start(SentinelOptions {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        fast_timers: true,
        launcher: logging_launcher(&log),
        ..SentinelOptions::default()
    })
    .unwrap();
    // One more data node and one sentinel.
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);
}

#[test]
fn parent_death_launcher_kills_the_server_when_the_spawning_thread_exits() {
    let launcher = parent_death_launcher().unwrap();
    assert!(launcher[0].to_string_lossy().ends_with("setpriv"));
    let mut server = std::thread::spawn(move || {
        RedisServer::start(RedisOptions {
            launcher,
            ..RedisOptions::default()
        })
        .unwrap()
    })
    .join()
    .unwrap();
    let pid = server.pid().unwrap();
    // The thread that spawned it is gone, so the kernel sends SIGKILL.
    eventually("the server to be killed", Duration::from_secs(10), || {
        if server.is_running() {
            Err(format!("pid {pid} still running"))
        } else {
            Ok(())
        }
    });
    assert!(!process_exists(pid));
}
