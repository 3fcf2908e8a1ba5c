//! The kill-the-master drill ([`kill_master`]) and the topology every Sentinel drill
//! starts ([`start_topology`]).
//!
//! The process fixtures are synchronous; they are driven with
//! [`tokio::task::block_in_place`], so the drills need a multi-threaded runtime.

use std::fmt;
use std::time::{Duration, Instant};

use sessiondb_engine::Durability;
use sessiondb_local::{SentinelOptions, SentinelTopology};
use tokio::task::block_in_place;

use crate::app::{engine_config, sentinel_connection, DrillApp};
use crate::load::{Load, LoadOptions};
use crate::probe::{self, Role};
use crate::report::{outcome_histogram, time_to_first_write, DrillReport, RequestStats};
use crate::verify::verify;
use crate::watch::{MasterSummary, RoleWatcher, WatchTargets};
use crate::{DrillError, POLL_INTERVAL};

/// How long the server gets to become ready.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How long the load gets to reach its warm-up count before the fault.
const WARMUP_DEADLINE: Duration = Duration::from_secs(60);
/// How long the Sentinels get to finish a failover after writes resumed.
const SETTLE_DEADLINE: Duration = Duration::from_secs(60);
/// How long verification may retry answers that are not definitive.
const VERIFY_DEADLINE: Duration = Duration::from_secs(30);

/// When the API acknowledges a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// As soon as the master applied it.
    Async,
    /// After one replica confirmed it (`WAIT 1 1000`), with `min-replicas-to-write 1`
    /// on every data node.
    Replicated,
}

impl Mode {
    /// The engine's durability setting for this mode.
    pub fn durability(self) -> Durability {
        match self {
            Self::Async => Durability::Async,
            Self::Replicated => Durability::Replicated {
                replicas: 1,
                timeout: Duration::from_secs(1),
            },
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Async => "async",
            Self::Replicated => "replicated",
        })
    }
}

/// The HA topology of the specification: 1 master, 2 replicas, 3 Sentinels with
/// quorum 2, AOF on every data node, `down-after-milliseconds` as given, and in
/// [`Mode::Replicated`] `min-replicas-to-write 1` (a master with no replica refuses
/// writes). `fast_timers` shortens Sentinel's INFO and hello periods (not its failure
/// detection).
pub async fn start_topology(
    mode: Mode,
    down_after_ms: u64,
    fast_timers: bool,
) -> Result<SentinelTopology, DrillError> {
    let options = SentinelOptions {
        replicas: 2,
        sentinels: 3,
        quorum: 2,
        down_after_ms,
        appendonly: true,
        min_replicas_to_write: (mode == Mode::Replicated).then_some(1),
        fast_timers,
        ..SentinelOptions::default()
    };
    Ok(block_in_place(|| SentinelTopology::start(options))?)
}

/// What [`RoleWatcher`] should sample for `topology`.
pub fn watch_targets(topology: &mut SentinelTopology) -> WatchTargets {
    WatchTargets {
        service_name: topology.service_name().to_owned(),
        sentinel_ports: topology.sentinel_addrs().iter().map(|(_, p)| *p).collect(),
        data_ports: topology.data_nodes().iter().map(|n| n.port()).collect(),
    }
}

/// Waits until every reachable Sentinel reports a master other than `old_port`, that
/// node says `ROLE` master and has at least one replica connected. Returns its port.
pub async fn wait_for_new_master(
    topology: &SentinelTopology,
    old_port: u16,
    deadline: Duration,
) -> Result<u16, DrillError> {
    block_in_place(|| new_master_with_replica(topology, old_port, deadline))
}

fn new_master_with_replica(
    topology: &SentinelTopology,
    old_port: u16,
    deadline: Duration,
) -> Result<u16, DrillError> {
    let started = Instant::now();
    let old = ("127.0.0.1".to_owned(), old_port);
    let (_, new) = topology.wait_for_master_change(old, deadline)?;
    loop {
        let role = probe::role(new);
        if matches!(&role, Ok(Role::Master { replicas }) if !replicas.is_empty()) {
            return Ok(new);
        }
        if started.elapsed() >= deadline {
            return Err(DrillError::Timeout {
                what: format!("new master {new} to have a replica"),
                waited: started.elapsed(),
                last: format!("{role:?}"),
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Options of [`kill_master`].
#[derive(Debug, Clone, Copy)]
pub struct DrillOptions {
    /// Durability mode of the engine (and `min-replicas-to-write` of the nodes).
    pub mode: Mode,
    /// Sentinel `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// Sentinel fast timers (see [`SentinelOptions::fast_timers`]).
    pub fast_timers: bool,
    /// The write load.
    pub load: LoadOptions,
    /// Client timeout of every request.
    pub client_timeout: Duration,
    /// Writes acknowledged before the master is killed.
    pub warmup_writes: u64,
    /// How long the load keeps running once writes succeed again.
    pub tail: Duration,
    /// How long writes get to resume after the kill before the drill gives up
    /// waiting (and reports that they did not).
    pub resume_deadline: Duration,
}

impl DrillOptions {
    /// The defaults of the issue: down-after 5000 ms, production Sentinel timers,
    /// 8 clients at 50 requests/s with a 5 s client timeout, 100 writes before the
    /// kill, 3 s of load after writes resume.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            down_after_ms: 5000,
            fast_timers: false,
            load: LoadOptions {
                clients: 8,
                rate_per_sec: 50.0,
            },
            client_timeout: Duration::from_secs(5),
            warmup_writes: 100,
            tail: Duration::from_secs(3),
            resume_deadline: Duration::from_secs(60),
        }
    }
}

/// Kills the master with SIGKILL under a steady write load through the API, keeps
/// the load on until writes succeed again plus [`DrillOptions::tail`], waits for the
/// failover to complete, then reads back every acknowledged write.
///
/// Needs a multi-threaded tokio runtime.
pub async fn kill_master(options: &DrillOptions) -> Result<DrillReport, DrillError> {
    let mut topology =
        start_topology(options.mode, options.down_after_ms, options.fast_timers).await?;
    let app = DrillApp::start(
        &sentinel_connection(&topology),
        engine_config(options.mode.durability()),
        options.client_timeout,
    )
    .await?;
    app.wait_ready(READY_DEADLINE).await?;
    let watcher = RoleWatcher::start(watch_targets(&mut topology));
    let load = Load::start(app.api(), options.load)?;
    load.wait_for_acked_writes(options.warmup_writes, WARMUP_DEADLINE)
        .await?;

    let (killed_at, old_master) = block_in_place(|| -> Result<_, DrillError> {
        let master = topology.master()?;
        let port = master.port();
        let killed_at = Instant::now();
        master.kill()?;
        Ok((killed_at, port))
    })?;
    let resumed = load
        .wait_for_write_sent_after(killed_at, options.resume_deadline)
        .await;
    if resumed.is_ok() {
        let tail_end = Instant::now() + options.tail;
        load.wait_for_write_sent_after(tail_end, options.tail + options.resume_deadline)
            .await?;
    }
    let mut log = load.stop().await?;

    let new_master = wait_for_new_master(&topology, old_master, SETTLE_DEADLINE).await?;
    let settled_at = Instant::now();
    let verification = verify(app.api(), &mut log.slots, VERIFY_DEADLINE).await?;
    let samples = watcher.stop();
    app.shutdown().await?;

    let after_kill: Vec<_> = log
        .records
        .iter()
        .filter(|r| r.sent_at >= killed_at)
        .cloned()
        .collect();
    let after_failover: Vec<_> = samples
        .iter()
        .filter(|s| s.at >= settled_at)
        .cloned()
        .collect();
    let sentinel_switch = samples
        .iter()
        .find(|s| s.sentinels.contains(&Some(new_master)))
        .map(|s| s.at.saturating_duration_since(killed_at));
    Ok(DrillReport {
        sentinel_switch,
        mode: options.mode,
        down_after_ms: options.down_after_ms,
        old_master,
        new_master,
        time_to_first_write: time_to_first_write(&log.records, killed_at),
        requests: RequestStats::of(&log.records),
        requests_after_kill: RequestStats::of(&after_kill),
        outcomes_after_kill: outcome_histogram(&after_kill),
        verification,
        masters: MasterSummary::of(&samples),
        masters_after_failover: MasterSummary::of(&after_failover),
    })
}
