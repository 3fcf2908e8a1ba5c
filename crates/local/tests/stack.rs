//! The stack supervisor run in-process: it starts a stack from its
//! directory, records it in the state file, restarts a node that dies and
//! stops everything when asked.

#![allow(clippy::unwrap_used)] // test helpers

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessiondb_local::stack::{
    collect_status, procfs, supervise, wait_gone, wait_running, write_env_file, Phase, StackDir,
    StackMode, StackPasswords, StackState, Topology, TopologyOptions,
};

mod common;
use common::eventually;

/// Lays out a stack in `dir` as `sessiondb local up` does before it
/// launches the supervisor.
fn prepare(dir: &StackDir, mode: StackMode) -> StackPasswords {
    dir.create().unwrap();
    let topology = Topology::plan(&TopologyOptions {
        mode,
        down_after_ms: 1000,
        fast_timers: true,
        ..TopologyOptions::default()
    })
    .unwrap();
    let (passwords, _) = StackPasswords::from_env_or_generate(|_| None).unwrap();
    write_env_file(&dir.env_file(), &topology, &passwords, None).unwrap();
    dir.save_state(&StackState::new(topology)).unwrap();
    passwords
}

#[test]
fn supervisor_restarts_a_killed_node_and_stops_everything_on_shutdown() {
    let temp = tempfile::tempdir().unwrap();
    let dir = StackDir::new(temp.path().join("stack")).unwrap();
    prepare(&dir, StackMode::Standalone);

    let shutdown = Arc::new(AtomicBool::new(false));
    let events = Arc::new(Mutex::new(Vec::new()));
    let supervisor = {
        let (dir, shutdown, events) = (dir.clone(), shutdown.clone(), events.clone());
        std::thread::spawn(move || {
            supervise(&dir, &shutdown, &mut |event| {
                events.lock().unwrap().push(event.to_string());
            })
        })
    };
    let state = wait_running(&dir, std::process::id(), Duration::from_secs(30), || {
        supervisor.is_finished().then(|| "returned".to_owned())
    })
    .unwrap();
    let first_pid = state.pids["redis-0"];
    let second = supervise(&dir, &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(
        second.to_string().contains("already supervised"),
        "{second}"
    );
    assert_eq!(
        dir.load_state().unwrap(),
        state,
        "the state file is left alone"
    );
    let status = collect_status(&dir).unwrap();
    assert!(status.healthy, "{:?}", status.problems);
    assert_eq!(status.master.as_deref(), Some("redis-0"));

    procfs::send_signal(first_pid, "KILL").unwrap();
    let restarted = eventually("redis-0 to be restarted", Duration::from_secs(20), || {
        let status = collect_status(&dir).map_err(|e| e.to_string())?;
        let pid = status.nodes[0].pid;
        match pid {
            Some(pid) if pid != first_pid && status.healthy => Ok(pid),
            _ => Err(format!("pid {pid:?}, problems {:?}", status.problems)),
        }
    });
    assert_eq!(dir.load_state().unwrap().pids["redis-0"], restarted);

    shutdown.store(true, Ordering::SeqCst);
    supervisor.join().unwrap().unwrap();
    let state = dir.load_state().unwrap();
    assert_eq!(state.supervisor.unwrap().phase, Phase::Stopped);
    assert!(state.pids.is_empty());
    wait_gone(&[first_pid, restarted], Duration::from_secs(5)).unwrap();
    let events = events.lock().unwrap().join("\n");
    assert!(events.contains("redis-0 had exited; restarted"), "{events}");
    assert!(events.contains("stack stopped"), "{events}");
    // The data directory is kept.
    assert!(dir.node_dir("redis-0").join("redis.conf").is_file());
}

#[test]
fn a_stack_that_cannot_start_reports_failed_in_the_state_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = StackDir::new(temp.path().join("stack")).unwrap();
    prepare(&dir, StackMode::Standalone);
    let state = dir.load_state().unwrap();
    // Occupy the node's port so the server cannot bind it.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", state.topology.nodes[0].port)).unwrap();

    let err = supervise(&dir, &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("Address already in use"), "{err}");
    let supervisor = dir.load_state().unwrap().supervisor.unwrap();
    assert_eq!(supervisor.phase, Phase::Failed);
    assert!(supervisor.error.unwrap().contains("Address already in use"));
}
