//! Running the binary and watching processes.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../common/serve.rs"]
mod serve;
pub use serve::Serve;

pub const BIN: &str = env!("CARGO_BIN_EXE_sessiondb");

/// A command for the binary with a clean environment (no inherited sessiondb or Redis
/// variables), run in `dir`.
pub fn sessiondb(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear();
    for var in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
    cmd
}

/// Pids of running processes whose working directory is `dir` (redis-server changes
/// into its data directory and rewrites its command line, so the directory is what
/// identifies it).
pub fn processes_in(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let zombie = stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'));
        if cwd == dir && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Polls `check` until true or panics after `timeout` (sessiondb-local's poller).
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    sessiondb_local::testkit::eventually(what, timeout, || {
        check().then_some(()).ok_or_else(|| "not yet".to_owned())
    });
}

/// Runs `cmd` to its end and returns its output; kills it and panics when it has not
/// ended within `timeout` (a command that should fail at once must not hang a test).
pub fn output_within(mut cmd: Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{cmd:?} still running after {timeout:?}: {out:?}");
        }
        std::thread::sleep(sessiondb_local::testkit::POLL_INTERVAL);
    }
    child.wait_with_output().unwrap()
}
