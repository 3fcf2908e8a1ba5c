//! The kill-the-master drill ([`kill_master`]) and the topology every Sentinel drill
//! starts ([`start_topology`]).
//!
//! The process fixtures are synchronous; they are driven with
//! [`tokio::task::block_in_place`], so the drills need a multi-threaded runtime.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use sessiondb_acl::Role as AclRole;
use sessiondb_engine::Durability;
use sessiondb_local::{SecretString, SentinelOptions, SentinelTopology};
use tokio::task::block_in_place;

use crate::app::{engine_config, sentinel_connection, DrillApp};
use crate::load::{Load, LoadOptions};
use crate::probe::{self, Access, Role};
use crate::report::{outcome_histogram, time_to_first_write, DrillReport, RequestStats};
use crate::secure::Secrets;
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

/// Who may talk to a drill topology's processes, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Plain TCP, no passwords.
    #[default]
    Open,
    /// As in production: every data node and Sentinel on TLS only (plaintext port off,
    /// client certificates required, replication over TLS), the six ACL roles with
    /// random passwords, a Sentinel password. The engine logs in as `app`, to the
    /// Sentinels with the Sentinel password, verifying the servers against the CA and
    /// presenting the client certificate; replicas and Sentinels log in to the data
    /// nodes as `sentinel`.
    Secure,
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "none (plain TCP, no passwords)",
            Self::Secure => "ACL roles, Sentinel password and TLS on every connection",
        })
    }
}

/// A drill's Sentinel topology and what its clients need to reach it. Derefs to the
/// [`SentinelTopology`]; dropping it stops the processes, then removes the
/// certificates and ACL file of a secure topology.
#[derive(Debug)]
pub struct DrillTopology {
    /// The processes. Declared first: they stop before the files they read go away.
    topology: SentinelTopology,
    /// Passwords, certificates and `users.acl` ([`Security::Secure`] only).
    secrets: Option<Secrets>,
}

impl DrillTopology {
    /// Whether the topology runs with ACL users, passwords and TLS.
    pub fn security(&self) -> Security {
        match self.secrets {
            Some(_) => Security::Secure,
            None => Security::Open,
        }
    }

    /// How the probes reach the data nodes and Sentinels.
    pub fn access(&self) -> Access {
        Access::to(&self.topology)
    }

    /// The ACL user the engine logs in as, with its password (`app`, on a secure
    /// topology).
    pub fn app_login(&self) -> Option<(&'static str, &SecretString)> {
        self.secrets
            .as_ref()
            .map(|s| (AclRole::App.user(), s.password(AclRole::App)))
    }
}

impl Deref for DrillTopology {
    type Target = SentinelTopology;

    fn deref(&self) -> &SentinelTopology {
        &self.topology
    }
}

impl DerefMut for DrillTopology {
    fn deref_mut(&mut self) -> &mut SentinelTopology {
        &mut self.topology
    }
}

/// The HA topology of the specification: 1 master, 2 replicas, 3 Sentinels with
/// quorum 2, AOF on every data node, `down-after-milliseconds` as given, and in
/// [`Mode::Replicated`] `min-replicas-to-write 1` (a master with no replica refuses
/// writes). `fast_timers` shortens Sentinel's INFO and hello periods (not its failure
/// detection). `security` says whether it runs with ACL users, passwords and TLS.
pub async fn start_topology(
    mode: Mode,
    down_after_ms: u64,
    fast_timers: bool,
    security: Security,
) -> Result<DrillTopology, DrillError> {
    block_in_place(|| {
        let secrets = match security {
            Security::Open => None,
            Security::Secure => Some(Secrets::generate()?),
        };
        let mut options = SentinelOptions {
            replicas: 2,
            sentinels: 3,
            quorum: 2,
            down_after_ms,
            appendonly: true,
            min_replicas_to_write: (mode == Mode::Replicated).then_some(1),
            fast_timers,
            ..SentinelOptions::default()
        };
        if let Some(secrets) = &secrets {
            secrets.apply(&mut options);
        }
        let topology = SentinelTopology::start(options)?;
        Ok(DrillTopology { topology, secrets })
    })
}

/// What [`RoleWatcher`] should sample for `topology`.
pub fn watch_targets(topology: &mut DrillTopology) -> WatchTargets {
    WatchTargets {
        service_name: topology.service_name().to_owned(),
        sentinel_ports: topology.sentinel_addrs().iter().map(|(_, p)| *p).collect(),
        data_ports: topology.data_nodes().iter().map(|n| n.port()).collect(),
        access: topology.access(),
    }
}

/// Waits until every reachable Sentinel reports a master other than `old_port`, that
/// node says `ROLE` master and has at least one replica connected (over TLS on a
/// secure topology: its nodes replicate over nothing else). Returns its port.
pub async fn wait_for_new_master(
    topology: &DrillTopology,
    old_port: u16,
    deadline: Duration,
) -> Result<u16, DrillError> {
    block_in_place(|| new_master_with_replica(topology, old_port, deadline))
}

fn new_master_with_replica(
    topology: &DrillTopology,
    old_port: u16,
    deadline: Duration,
) -> Result<u16, DrillError> {
    let started = Instant::now();
    let access = topology.access();
    let old = ("127.0.0.1".to_owned(), old_port);
    let (_, new) = topology.wait_for_master_change(old, deadline)?;
    loop {
        let role = probe::role(&access, new);
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
    /// ACL users, passwords and TLS, or none of them.
    pub security: Security,
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
    /// kill, 3 s of load after writes resume; no ACL users, passwords or TLS.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            down_after_ms: 5000,
            fast_timers: false,
            security: Security::Open,
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
    let mut topology = start_topology(
        options.mode,
        options.down_after_ms,
        options.fast_timers,
        options.security,
    )
    .await?;
    let mut connection = sentinel_connection(&topology);
    connection.pool_size = options.mode.durability().default_pool_size();
    let app = DrillApp::start(
        &connection,
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
