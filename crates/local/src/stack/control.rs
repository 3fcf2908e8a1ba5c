//! Driving a stack from the outside (the CLI): waiting for a freshly
//! launched supervisor, stopping it, cleaning up after a crashed one, and
//! forcing a failover.

use std::time::{Duration, Instant};

use super::procfs;
use super::secrets::StackPasswords;
use super::state::{Phase, StackDir, StackState};
use super::supervisor::group;
use super::topology::{NodeSpec, StackMode};
use super::StackError;
use crate::poll::{poll_until, Pending};
use crate::sentinel::MIN_FAILOVER_WAIT;
use crate::sentinel_group::role_of;

/// Pause between two looks at the state file or `/proc`.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long processes get to disappear after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Calls `check` until it returns `Some`, it fails, or `timeout` passes.
/// `check` gets to describe what it saw for the timeout error.
fn poll<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&mut String) -> Result<Option<T>, StackError>,
) -> Result<T, StackError> {
    let started = Instant::now();
    let mut last = String::from("(nothing yet)");
    loop {
        if let Some(value) = check(&mut last)? {
            return Ok(value);
        }
        if started.elapsed() >= timeout {
            return Err(StackError::Timeout {
                what: what.to_owned(),
                waited: started.elapsed(),
                last,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Waits until the supervisor with `pid` reports the stack running.
///
/// `exited` is asked on every round whether the supervisor process has
/// exited (the caller holds its handle) and returns how, if so. Fails with
/// the supervisor's own error when starting failed.
pub fn wait_running(
    dir: &StackDir,
    pid: u32,
    timeout: Duration,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<StackState, StackError> {
    poll("the supervisor to start the stack", timeout, |last| {
        let gone = exited();
        let state = dir.load_state()?;
        let ours = state.supervisor.as_ref().filter(|s| s.pid == pid);
        match ours.map(|s| (s.phase, s.error.clone())) {
            Some((Phase::Running, _)) => return Ok(Some(state)),
            Some((Phase::Failed, error)) => {
                return Err(StackError::SupervisorFailed {
                    message: error.unwrap_or_else(|| "unknown error".to_owned()),
                })
            }
            Some((phase, _)) => *last = format!("supervisor phase {phase}"),
            None => *last = "supervisor has not reported yet".to_owned(),
        }
        match gone {
            Some(how) => Err(StackError::SupervisorFailed {
                message: format!("it exited ({how}) before the stack was up"),
            }),
            None => Ok(None),
        }
    })
}

/// What [`stop`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// No supervisor was running.
    NotRunning,
    /// The supervisor stopped every node and exited after SIGTERM.
    Stopped {
        /// Its pid.
        supervisor: u32,
    },
    /// The supervisor did not exit in time and was killed (its nodes die
    /// with it).
    Killed {
        /// Its pid.
        supervisor: u32,
    },
}

/// Stops the stack: SIGTERM to the supervisor, wait up to `timeout` for it
/// to stop the nodes and exit, SIGKILL if it does not. Then makes sure no
/// recorded node process survives (see [`kill_leftovers`]).
pub fn stop(dir: &StackDir, timeout: Duration) -> Result<StopOutcome, StackError> {
    let before = dir.load_state()?;
    let outcome = match before.live_supervisor() {
        None => StopOutcome::NotRunning,
        Some(pid) => {
            procfs::send_signal(pid, "TERM")?;
            if wait_gone(&[pid], timeout).is_ok() {
                StopOutcome::Stopped { supervisor: pid }
            } else {
                procfs::send_signal(pid, "KILL")?;
                wait_gone(&[pid], KILL_WAIT)?;
                StopOutcome::Killed { supervisor: pid }
            }
        }
    };
    let mut after = dir.load_state()?;
    after.pids.extend(before.pids);
    kill_leftovers(&after)?;
    Ok(outcome)
}

/// Kills (SIGKILL) the recorded node processes of a stack whose supervisor
/// is gone, and waits until they are gone. Returns `(name, pid)` of the
/// processes it killed.
///
/// Normally there are none: the kernel kills the nodes when their
/// supervisor dies. This covers the short window in which a node was
/// spawned but its parent-death signal was not armed yet.
pub fn kill_leftovers(state: &StackState) -> Result<Vec<(String, u32)>, StackError> {
    let leftovers = state.live_node_pids();
    for (_, pid) in &leftovers {
        procfs::send_signal(*pid, "KILL")?;
    }
    let pids: Vec<u32> = leftovers.iter().map(|(_, pid)| *pid).collect();
    wait_gone(&pids, KILL_WAIT)?;
    Ok(leftovers)
}

/// Waits until none of `pids` is alive.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Result<(), StackError> {
    poll("processes to exit", timeout, |last| {
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&p| procfs::is_alive(p))
            .collect();
        *last = format!("still alive: {alive:?}");
        Ok(alive.is_empty().then_some(()))
    })
}

/// The result of [`failover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverOutcome {
    /// The master before.
    pub old: NodeSpec,
    /// The master now, confirmed by every sentinel and by `ROLE`.
    pub new: NodeSpec,
    /// Whether the old master already reports `ROLE` slave. Sentinel
    /// demotes a reachable old master a few seconds after the failover; a
    /// `false` here only means it had not happened by the deadline.
    pub old_rejoined: bool,
}

/// Forces a failover of a running HA stack (`SENTINEL FAILOVER`) and waits
/// until every sentinel reports the same new master, that node says `ROLE`
/// master, and every sentinel has completed the failover. Then waits
/// (within the same deadline) for the old master to rejoin as a replica.
pub fn failover(dir: &StackDir) -> Result<FailoverOutcome, StackError> {
    let state = dir.load_state()?;
    if state.topology.mode != StackMode::Ha {
        return Err(StackError::Invalid(format!(
            "the stack in {} is standalone: failover needs one started with --ha",
            dir.root().display()
        )));
    }
    if state.live_supervisor().is_none() {
        return Err(StackError::Invalid(format!(
            "the stack in {} is not running (run `sessiondb local start`)",
            dir.root().display()
        )));
    }
    let passwords = StackPasswords::load(&dir.env_file())?;
    let tls = dir.tls_client(&state.topology)?;
    let topology = &state.topology;
    let ports = topology.sentinel_ports();
    let sentinels = group(topology, &ports, &passwords, tls.as_ref());
    let node_at = |port: u16| {
        topology.data_node_by_port(port).cloned().ok_or_else(|| {
            StackError::Invalid(format!(
                "the sentinels report a master on port {port}, which is not a node of this stack"
            ))
        })
    };
    let old_addr = sentinels.current_master()?;
    let old = node_at(old_addr.1)?;
    let wait = Duration::from_millis(topology.failover_timeout_ms).max(MIN_FAILOVER_WAIT);
    let deadline = Instant::now() + wait;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let new_addr = sentinels.failover(&old_addr, remaining(), ports.len())?;
    let what = "every sentinel to complete the failover";
    poll_until(what, remaining(), || {
        sentinels.check_failover_complete((&new_addr.0, new_addr.1))
    })?;
    let demoted = poll_until(
        "the old master to rejoin as a replica",
        remaining(),
        || match role_of(
            &old_addr.0,
            old_addr.1,
            Some(&passwords.admin),
            tls.as_ref(),
        )?
        .as_str()
        {
            "slave" => Ok(()),
            role => Err(Pending::wait(format!("it says ROLE {role}"))),
        },
    );
    Ok(FailoverOutcome {
        old,
        new: node_at(new_addr.1)?,
        old_rejoined: demoted.is_ok(),
    })
}

/// What [`purge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// The directory is gone.
    Removed,
    /// The stack's files are gone, but the directory holds other files
    /// (e.g. `embedded/`, the data of `sessiondb serve`'s embedded Redis)
    /// and was kept.
    KeptOtherFiles,
}

/// Deletes a stopped stack: the node directories, `monitoring/` (the
/// exporters', Prometheus's and Alertmanager's data and logs), `local.env`, `users.acl`, `tls/`,
/// `supervisor.log` and finally `state.json`; then the directory itself if
/// nothing else is left in it. Only what the stack created is deleted, so a
/// mistaken `--dir` never wipes unrelated files.
pub fn purge(dir: &StackDir) -> Result<PurgeOutcome, StackError> {
    let state = dir.load_state()?;
    if let Some(pid) = state.live_supervisor() {
        return Err(StackError::Invalid(format!(
            "the stack in {} is running (supervisor pid {pid}); stop it first",
            dir.root().display()
        )));
    }
    let remove_dir = |path: std::path::PathBuf| match std::fs::remove_dir_all(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StackError::io(format!("deleting {}", path.display()), e))
        }
        _ => Ok(()),
    };
    let remove_file = |path: std::path::PathBuf| match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StackError::io(format!("deleting {}", path.display()), e))
        }
        _ => Ok(()),
    };
    for node in &state.topology.nodes {
        remove_dir(dir.node_dir(&node.name))?;
    }
    remove_dir(super::monitoring::monitoring_dir(dir))?;
    remove_dir(dir.tls_dir())?;
    remove_file(dir.env_file())?;
    remove_file(dir.acl_file())?;
    remove_file(dir.supervisor_log())?;
    remove_file(dir.state_file())?;
    match std::fs::remove_dir(dir.root()) {
        Ok(()) => Ok(PurgeOutcome::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
            Ok(PurgeOutcome::KeptOtherFiles)
        }
        Err(e) => Err(StackError::io(
            format!("deleting {}", dir.root().display()),
            e,
        )),
    }
}
