//! The supervisor: the long-running process (`sessiondb local supervise`)
//! that owns a stack's Redis processes and, with monitoring, its exporters,
//! Prometheus and Alertmanager (started after the nodes, stopped before
//! them).
//!
//! It starts every node through the parent-death launcher, so the kernel
//! kills them if the supervisor dies for any reason (SIGKILL included);
//! restarts a node that exits unexpectedly (with backoff when restarting
//! fails); keeps the state file current (pids, phase, current master); and
//! when asked to shut down stops the nodes gracefully (sentinels, replicas,
//! master) and returns.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::monitoring;
use super::nodes::{pids, stop_order, Launch, Node, Revival};
use super::procfs;
use super::secrets::{write_acl_file, StackPasswords};
use super::service::Service;
use super::state::{Phase, StackDir, StackState, SupervisorState};
use super::topology::StackMode;
use super::StackError;
use crate::poll::Pending;
use crate::sentinel_group::SentinelGroup;
use crate::{parent_death_launcher, TlsClient, TlsFiles};

/// How often the nodes are checked.
const TICK: Duration = Duration::from_millis(250);

/// How often the current master is asked from the sentinels.
const MASTER_CHECK: Duration = Duration::from_secs(1);

/// How long a freshly started HA stack gets to become fully connected.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Granularity of waits, so a shutdown request is noticed quickly.
const SLICE: Duration = Duration::from_millis(50);

/// Something the supervisor did or noticed; `Display` gives a log line.
#[derive(Debug)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// Starting the stack.
    Starting {
        /// Standalone or HA.
        mode: StackMode,
        /// Number of processes.
        nodes: usize,
    },
    /// A node answers PING.
    NodeStarted {
        /// Its name.
        name: String,
        /// Its port.
        port: u16,
        /// Its pid.
        pid: Option<u32>,
    },
    /// Every node is up (HA: replication and sentinels fully connected).
    Ready,
    /// A node had exited and was started again.
    NodeRestarted {
        /// Its name.
        name: String,
        /// The new pid.
        pid: Option<u32>,
    },
    /// A node is down and starting it failed.
    RestartFailed {
        /// Its name.
        name: String,
        /// Why.
        error: String,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// The sentinels report another master.
    MasterChanged {
        /// The previous master's name.
        from: Option<String>,
        /// The new master's name.
        to: String,
    },
    /// A non-fatal problem (state file not written, a node not stopping
    /// cleanly, ...).
    Warning(String),
    /// Shutting down after a request.
    Stopping,
    /// Every node is stopped.
    Stopped,
}

impl fmt::Display for SupervisorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Starting { mode, nodes } => {
                let plural = if *nodes == 1 { "" } else { "es" };
                write!(f, "starting the {mode} stack ({nodes} process{plural})")
            }
            Self::NodeStarted { name, port, pid } => {
                write!(f, "{name} is up on 127.0.0.1:{port} (pid {})", show(*pid))
            }
            Self::Ready => f.write_str("stack is ready"),
            Self::NodeRestarted { name, pid } => {
                write!(f, "{name} had exited; restarted (pid {})", show(*pid))
            }
            Self::RestartFailed {
                name,
                error,
                retry_in,
            } => write!(
                f,
                "{name} is down and could not be restarted (next try in {retry_in:?}): {error}"
            ),
            Self::MasterChanged { from, to } => write!(
                f,
                "master changed: {} -> {to}",
                from.as_deref().unwrap_or("(unknown)")
            ),
            Self::Warning(message) => write!(f, "warning: {message}"),
            Self::Stopping => f.write_str("stopping the stack"),
            Self::Stopped => f.write_str("stack stopped"),
        }
    }
}

fn show(pid: Option<u32>) -> String {
    pid.map_or_else(|| "?".to_owned(), |p| p.to_string())
}

/// Runs the supervisor of the stack in `dir` until `shutdown` becomes true,
/// then stops every node and returns.
///
/// Reads the topology from the state file and the passwords from
/// `local.env` (both written by `sessiondb local up`). Must run on a thread
/// that lives as long as the stack should: the parent-death signal of the
/// nodes is tied to the thread that spawned them, so the supervisor's main
/// thread is the right place.
///
/// Fails when the stack cannot be started (the state file then says phase
/// `failed` with the error); once running, problems are reported through
/// `on_event` and never end the loop.
pub fn supervise(
    dir: &StackDir,
    shutdown: &AtomicBool,
    on_event: &mut dyn FnMut(&SupervisorEvent),
) -> Result<(), StackError> {
    let mut state = dir.load_state()?;
    if let Some(pid) = state.live_supervisor() {
        // Leave the state file alone: it belongs to that supervisor.
        return Err(StackError::Invalid(format!(
            "the stack in {} is already supervised by pid {pid}",
            dir.root().display()
        )));
    }
    let passwords = StackPasswords::load(&dir.env_file())?;
    let tls_files = dir.tls_files(&state.topology)?;
    let tls = tls_files.as_ref().map(TlsFiles::client).transpose()?;
    let launcher = parent_death_launcher()?;
    set_phase(&mut state, Phase::Starting, None);
    state.pids.clear();
    dir.save_state(&state)?;
    on_event(&SupervisorEvent::Starting {
        mode: state.topology.mode,
        nodes: state.topology.nodes.len(),
    });
    let topology = state.topology.clone();
    if let Err(err) = write_acl_file(&dir.acl_file(), &passwords) {
        on_event(&SupervisorEvent::Warning(err.to_string()));
    }
    let launch = Launch {
        dir,
        topology: &topology,
        passwords: &passwords,
        launcher: &launcher,
        tls: tls_files.as_ref(),
    };
    let mut nodes = Vec::new();
    let mut services = Vec::new();
    let started = start_all(
        &launch,
        tls.as_ref(),
        &state,
        &mut nodes,
        shutdown,
        on_event,
    )
    .and_then(|()| start_monitoring(&launch, &mut services, shutdown, on_event));
    match started {
        Ok(()) => {}
        Err(err) => {
            drop(services);
            drop(nodes);
            set_phase(&mut state, Phase::Failed, Some(err.to_string()));
            state.pids.clear();
            let _ = dir.save_state(&state);
            return Err(err);
        }
    }
    if !shutdown.load(Ordering::SeqCst) {
        // The servers rewrite their configs (with secrets) as 0644; the directories
        // around them must stay owner-only.
        for path in std::iter::once(dir.root().to_owned())
            .chain(topology.nodes.iter().map(|n| dir.node_dir(&n.name)))
        {
            if let Err(err) = crate::private_dir::check_private_dir(&path) {
                on_event(&SupervisorEvent::Warning(err.to_string()));
            }
        }
        state.pids = all_pids(&nodes, &services);
        set_phase(&mut state, Phase::Running, None);
        save(dir, &state, on_event);
        on_event(&SupervisorEvent::Ready);
        let mut running = Running {
            nodes: &mut nodes,
            services: &mut services,
        };
        watch(
            dir,
            &mut state,
            &mut running,
            &passwords,
            tls.as_ref(),
            shutdown,
            on_event,
        );
    }
    on_event(&SupervisorEvent::Stopping);
    set_phase(&mut state, Phase::Stopping, None);
    save(dir, &state, on_event);
    // Prometheus first, so it does not record the data nodes going away.
    for service in services.iter_mut().rev() {
        if let Err(err) = service.stop() {
            on_event(&SupervisorEvent::Warning(format!(
                "stopping {}: {err}",
                service.spec.name
            )));
        }
    }
    drop(services);
    refresh_master(&mut state, &passwords, tls.as_ref(), on_event);
    let master = state.master.clone().unwrap_or_default();
    for index in stop_order(&nodes, &master) {
        let node = &mut nodes[index];
        if let Err(err) = node.stop() {
            on_event(&SupervisorEvent::Warning(format!(
                "stopping {}: {err}",
                node.spec.name
            )));
        }
    }
    drop(nodes);
    state.pids.clear();
    set_phase(&mut state, Phase::Stopped, None);
    save(dir, &state, on_event);
    on_event(&SupervisorEvent::Stopped);
    Ok(())
}

/// Starts the master, then the other data nodes, then the sentinels, and
/// (HA) waits until replication and the sentinels are fully connected (probing over
/// `tls` when the stack runs on TLS). Returns early, with the nodes started so far,
/// when `shutdown` is set.
fn start_all(
    launch: &Launch<'_>,
    tls: Option<&TlsClient>,
    state: &StackState,
    nodes: &mut Vec<Node>,
    shutdown: &AtomicBool,
    on_event: &mut dyn FnMut(&SupervisorEvent),
) -> Result<(), StackError> {
    let topology = launch.topology;
    let master = state
        .master_node()
        .ok_or_else(|| StackError::Invalid("the stack has no data node".to_owned()))?
        .clone();
    let data =
        std::iter::once(&master).chain(topology.data_nodes().filter(|n| n.name != master.name));
    for spec in data.chain(topology.sentinels()) {
        if shutdown.load(Ordering::SeqCst) {
            return Ok(());
        }
        let node = match spec.kind {
            super::NodeKind::Redis => launch.start_redis(spec, &master)?,
            super::NodeKind::Sentinel => launch.start_sentinel(spec, &master)?,
        };
        on_event(&SupervisorEvent::NodeStarted {
            name: spec.name.clone(),
            port: spec.port,
            pid: node.pid(),
        });
        nodes.push(node);
    }
    if topology.mode == StackMode::Ha {
        let ports = topology.sentinel_ports();
        let group = group(topology, &ports, launch.passwords, tls);
        let replicas = topology.data_nodes().count() - 1;
        wait_ready(shutdown, || group.check_ready(master.port, replicas))?;
    }
    Ok(())
}

/// Writes the monitoring configurations and starts the exporters,
/// Alertmanager and Prometheus, when the stack has monitoring.
fn start_monitoring(
    launch: &Launch<'_>,
    services: &mut Vec<Service>,
    shutdown: &AtomicBool,
    on_event: &mut dyn FnMut(&SupervisorEvent),
) -> Result<(), StackError> {
    let Some(spec) = &launch.topology.monitoring else {
        return Ok(());
    };
    monitoring::write_configs(launch.dir, launch.topology, spec)?;
    for service in spec.services() {
        if shutdown.load(Ordering::SeqCst) {
            return Ok(());
        }
        let (name, port) = (service.name.clone(), service.port);
        let started = launch.start_service(service)?;
        on_event(&SupervisorEvent::NodeStarted {
            name,
            port,
            pid: started.pid(),
        });
        services.push(started);
    }
    Ok(())
}

/// The pids of the nodes and the monitoring processes, by name.
fn all_pids(nodes: &[Node], services: &[Service]) -> std::collections::BTreeMap<String, u32> {
    let mut all = pids(nodes);
    all.extend(
        services
            .iter()
            .filter_map(|s| Some((s.spec.name.clone(), s.pid()?))),
    );
    all
}

/// What the supervision loop watches.
#[derive(Debug)]
struct Running<'a> {
    nodes: &'a mut [Node],
    services: &'a mut [Service],
}

/// Polls `check` until it succeeds, `shutdown` is set, or
/// [`READY_TIMEOUT`] passes.
fn wait_ready(
    shutdown: &AtomicBool,
    mut check: impl FnMut() -> Result<(), Pending>,
) -> Result<(), StackError> {
    let started = Instant::now();
    loop {
        let last = match check() {
            Ok(()) => return Ok(()),
            Err(Pending::Abort(err)) => return Err(err.into()),
            Err(Pending::Wait(last)) => last,
        };
        if started.elapsed() >= READY_TIMEOUT {
            return Err(StackError::Timeout {
                what: "replication and sentinels to be fully connected".to_owned(),
                waited: started.elapsed(),
                last,
            });
        }
        if pause(shutdown, Duration::from_millis(100)) {
            return Ok(());
        }
    }
}

/// The supervision loop: restarts dead nodes and tracks the master until
/// `shutdown` is set.
fn watch(
    dir: &StackDir,
    state: &mut StackState,
    running: &mut Running<'_>,
    passwords: &StackPasswords,
    tls: Option<&TlsClient>,
    shutdown: &AtomicBool,
    on_event: &mut dyn FnMut(&SupervisorEvent),
) {
    let fast_timers = state.topology.fast_timers;
    let mut last_master_check = Instant::now();
    while !pause(shutdown, TICK) {
        let mut changed = false;
        for node in running.nodes.iter_mut() {
            match node.revive(fast_timers) {
                None => {}
                Some(Revival::Restarted { pid }) => {
                    changed = true;
                    on_event(&SupervisorEvent::NodeRestarted {
                        name: node.spec.name.clone(),
                        pid,
                    });
                }
                Some(Revival::Failed { error, retry_in }) => {
                    on_event(&SupervisorEvent::RestartFailed {
                        name: node.spec.name.clone(),
                        error: error.to_string(),
                        retry_in,
                    });
                }
            }
        }
        for service in running.services.iter_mut() {
            match service.revive() {
                None => {}
                Some(Ok(pid)) => {
                    changed = true;
                    on_event(&SupervisorEvent::NodeRestarted {
                        name: service.spec.name.clone(),
                        pid,
                    });
                }
                Some(Err((error, retry_in))) => {
                    on_event(&SupervisorEvent::RestartFailed {
                        name: service.spec.name.clone(),
                        error: error.to_string(),
                        retry_in,
                    });
                }
            }
        }
        if last_master_check.elapsed() >= MASTER_CHECK {
            last_master_check = Instant::now();
            changed |= refresh_master(state, passwords, tls, on_event);
        }
        if changed {
            state.pids = all_pids(running.nodes, running.services);
            save(dir, state, on_event);
        }
    }
}

/// Asks the sentinels for the master and records it; true when it changed.
/// No-op for a standalone stack.
fn refresh_master(
    state: &mut StackState,
    passwords: &StackPasswords,
    tls: Option<&TlsClient>,
    on_event: &mut dyn FnMut(&SupervisorEvent),
) -> bool {
    if state.topology.mode != StackMode::Ha {
        return false;
    }
    let ports = state.topology.sentinel_ports();
    let Ok((_, port)) = group(&state.topology, &ports, passwords, tls).current_master() else {
        return false;
    };
    let Some(name) = state
        .topology
        .data_node_by_port(port)
        .map(|n| n.name.clone())
    else {
        return false;
    };
    if state.master.as_deref() == Some(name.as_str()) {
        return false;
    }
    on_event(&SupervisorEvent::MasterChanged {
        from: state.master.take(),
        to: name.clone(),
    });
    state.master = Some(name);
    true
}

/// The stack's sentinels as a [`SentinelGroup`].
pub(crate) fn group<'a>(
    topology: &'a super::Topology,
    sentinel_ports: &'a [u16],
    passwords: &'a StackPasswords,
    tls: Option<&'a TlsClient>,
) -> SentinelGroup<'a> {
    SentinelGroup {
        service_name: &topology.service_name,
        sentinel_ports,
        password: Some(&passwords.admin),
        sentinel_password: Some(&passwords.sentinel),
        tls,
    }
}

fn set_phase(state: &mut StackState, phase: Phase, error: Option<String>) {
    let pid = std::process::id();
    state.supervisor = Some(SupervisorState {
        pid,
        start_time: procfs::start_time(pid),
        phase,
        error,
    });
}

fn save(dir: &StackDir, state: &StackState, on_event: &mut dyn FnMut(&SupervisorEvent)) {
    if let Err(err) = dir.save_state(state) {
        on_event(&SupervisorEvent::Warning(err.to_string()));
    }
}

/// Waits `duration` in short slices; true as soon as `shutdown` is set.
///
/// The supervisor's heartbeat, not a synchronisation: nothing waits "long
/// enough" for something to happen here.
fn pause(shutdown: &AtomicBool, duration: Duration) -> bool {
    let until = Instant::now() + duration;
    loop {
        if shutdown.load(Ordering::SeqCst) {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep(SLICE.min(until - now));
    }
}
