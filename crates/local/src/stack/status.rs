//! Collecting the status of a stack: every node's liveness, role and
//! replication, the sentinels' view of the master, and the list of
//! problems that make the stack unhealthy.

use serde::Serialize;
use sessiondb_acl::Role as AclRole;

use super::monitoring::ServiceKind;
use super::procfs;
use super::secrets::StackPasswords;
use super::state::{Phase, StackDir, StackState};
use super::topology::{NodeKind, NodeSpec, StackMode};
use super::StackError;
use crate::process::LOOPBACK;
use crate::resp::{info_field, Connection, IO_TIMEOUT};
use crate::sentinel_group::pairs;
use crate::{LocalError, TlsClient};

/// The whole stack as seen right now.
#[derive(Debug, Clone, Serialize)]
pub struct StackStatus {
    /// The stack directory.
    pub dir: String,
    /// Standalone or HA.
    pub mode: StackMode,
    /// The supervisor process.
    pub supervisor: SupervisorStatus,
    /// The data node that reports `ROLE` master (the first one, if several
    /// do; `problems` then says so).
    pub master: Option<String>,
    /// Every node, in topology order.
    pub nodes: Vec<NodeStatus>,
    /// What each sentinel thinks (empty for a standalone stack).
    pub sentinels: Vec<SentinelView>,
    /// Exporters, Prometheus and Alertmanager (empty without
    /// `--monitoring`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub monitoring: Vec<ServiceStatus>,
    /// Why the stack is unhealthy; empty when it is healthy.
    pub problems: Vec<String>,
    /// True when every node is up, exactly one master is replicated by all
    /// other data nodes, and all sentinels agree on it with a quorum.
    pub healthy: bool,
}

/// The supervisor's liveness.
#[derive(Debug, Clone, Serialize)]
pub struct SupervisorStatus {
    /// Its pid while it runs.
    pub pid: Option<u32>,
    /// Its last reported phase, when it runs.
    pub phase: Option<Phase>,
}

/// A node's role as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `ROLE` master.
    Master,
    /// `ROLE` slave.
    Replica,
    /// A sentinel.
    Sentinel,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Master => "master",
            Self::Replica => "replica",
            Self::Sentinel => "sentinel",
        })
    }
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// `redis-0`, `sentinel-1`, ...
    pub name: String,
    /// Data node or sentinel.
    pub kind: NodeKind,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its pid, when the recorded process is alive.
    pub pid: Option<u32>,
    /// True when the process is alive and answers.
    pub up: bool,
    /// What it reports being.
    pub role: Option<Role>,
    /// Replication offset: `master_repl_offset` on a master,
    /// `slave_repl_offset` on a replica.
    pub offset: Option<i64>,
    /// Replica: the data node it replicates from.
    pub replicates: Option<String>,
    /// Replica: whether its link to the master is up.
    pub link_up: Option<bool>,
    /// Replica: bytes behind the master.
    pub lag_bytes: Option<i64>,
    /// Replica: seconds since the master last heard from it.
    pub lag_seconds: Option<u64>,
    /// Why it could not be queried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One monitoring process.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// `exporter-redis-0`, `prometheus`, `alertmanager`.
    pub name: String,
    /// What it is.
    pub kind: ServiceKind,
    /// Its URL (`http://127.0.0.1:<port>`).
    pub url: String,
    /// Its pid, when the recorded process is alive.
    pub pid: Option<u32>,
    /// True when it answers its readiness path with 200.
    pub up: bool,
}

/// One sentinel's view of the master.
#[derive(Debug, Clone, Serialize)]
pub struct SentinelView {
    /// The sentinel's name.
    pub sentinel: String,
    /// The data node it considers master (by address).
    pub master: Option<String>,
    /// The master's address as it reports it.
    pub master_addr: Option<String>,
    /// Its flags for the master (`master` when all is well; `s_down`,
    /// `o_down`, ... otherwise).
    pub flags: Option<String>,
    /// Whether `SENTINEL CKQUORUM` succeeds (enough sentinels reachable to
    /// authorise a failover).
    pub quorum_ok: Option<bool>,
    /// Replicas it knows.
    pub replicas: Option<u32>,
    /// Other sentinels it knows.
    pub other_sentinels: Option<u32>,
    /// Why it could not be queried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Collects the status of the stack in `dir` (reads the state file and
/// the passwords from `local.env`, then asks every data node as the `monitor`
/// role and every sentinel with the Sentinels' password).
pub fn collect_status(dir: &StackDir) -> Result<StackStatus, StackError> {
    let state = dir.load_state()?;
    let passwords = StackPasswords::load(&dir.env_file())?;
    let tls = dir.tls_client(&state.topology)?;
    let access = Access {
        passwords: &passwords,
        tls: tls.as_ref(),
    };
    let supervisor_pid = state.live_supervisor();
    let supervisor = SupervisorStatus {
        pid: supervisor_pid,
        phase: supervisor_pid.and(state.supervisor.as_ref().map(|s| s.phase)),
    };
    let mut nodes: Vec<NodeStatus> = state
        .topology
        .nodes
        .iter()
        .map(|spec| probe_node(&state, spec, &access))
        .collect();
    let master = nodes
        .iter()
        .find(|n| n.role == Some(Role::Master))
        .map(|n| n.name.clone());
    fill_lag(&state, &mut nodes, master.as_deref(), &access);
    let sentinels: Vec<SentinelView> = state
        .topology
        .sentinels()
        .map(|spec| probe_sentinel(&state, spec, &access))
        .collect();
    let mut status = StackStatus {
        dir: dir.root().display().to_string(),
        mode: state.topology.mode,
        supervisor,
        master,
        nodes,
        sentinels,
        monitoring: probe_monitoring(&state),
        problems: Vec::new(),
        healthy: false,
    };
    status.problems = problems(&status);
    status.healthy = status.problems.is_empty();
    Ok(status)
}

/// How the probes reach the nodes: the stack's passwords, and TLS when it runs on TLS.
struct Access<'a> {
    passwords: &'a StackPasswords,
    tls: Option<&'a TlsClient>,
}

impl Access<'_> {
    /// A connection to the sentinel on `port`, authenticated.
    fn open_sentinel(&self, port: u16) -> Result<Connection, LocalError> {
        let password = Some(&self.passwords.sentinel);
        Connection::open_tls(LOOPBACK, port, password, self.tls, IO_TIMEOUT)
    }

    /// A connection to the data node on `port` as the `monitor` role.
    fn open_monitor(&self, port: u16) -> Result<Connection, LocalError> {
        let mut conn = Connection::connect(LOOPBACK, port, self.tls, IO_TIMEOUT)?;
        conn.auth_as(AclRole::Monitor.user(), &self.passwords.monitor)?;
        Ok(conn)
    }
}

fn probe_node(state: &StackState, spec: &NodeSpec, access: &Access<'_>) -> NodeStatus {
    let pid = state
        .pids
        .get(&spec.name)
        .copied()
        .filter(|&pid| procfs::is_redis_on_port(pid, spec.port));
    let mut status = NodeStatus {
        name: spec.name.clone(),
        kind: spec.kind,
        port: spec.port,
        pid,
        up: false,
        role: None,
        offset: None,
        replicates: None,
        link_up: None,
        lag_bytes: None,
        lag_seconds: None,
        error: None,
    };
    if pid.is_none() {
        return status;
    }
    let result = match spec.kind {
        NodeKind::Sentinel => access
            .open_sentinel(spec.port)
            .and_then(|mut conn| conn.call(&["PING"]))
            .map(|_| status.role = Some(Role::Sentinel)),
        NodeKind::Redis => probe_replication(state, spec.port, access, &mut status),
    };
    match result {
        Ok(()) => status.up = true,
        Err(err) => status.error = Some(err.to_string()),
    }
    status
}

fn probe_replication(
    state: &StackState,
    port: u16,
    access: &Access<'_>,
    status: &mut NodeStatus,
) -> Result<(), LocalError> {
    let info = access.open_monitor(port)?.call(&["INFO", "replication"])?;
    let info = info.text().unwrap_or_default();
    let number = |field: &str| info_field(info, field).and_then(|v| v.trim().parse::<i64>().ok());
    match info_field(info, "role").map(str::trim) {
        Some("master") => {
            status.role = Some(Role::Master);
            status.offset = number("master_repl_offset");
        }
        Some("slave") => {
            status.role = Some(Role::Replica);
            status.offset = number("slave_repl_offset");
            status.link_up =
                Some(info_field(info, "master_link_status").map(str::trim) == Some("up"));
            status.replicates = number("master_port")
                .and_then(|p| u16::try_from(p).ok())
                .and_then(|p| state.topology.data_node_by_port(p))
                .map(|n| n.name.clone());
        }
        other => {
            return Err(LocalError::Protocol {
                target: format!("{LOOPBACK}:{port}"),
                command: "INFO REPLICATION".to_owned(),
                message: format!("unexpected role {other:?}"),
            })
        }
    }
    Ok(())
}

/// Fills `lag_bytes` and `lag_seconds` of the replicas from the master's
/// `INFO replication` (`slaveN:ip=..,port=..,offset=..,lag=..`).
fn fill_lag(
    state: &StackState,
    nodes: &mut [NodeStatus],
    master: Option<&str>,
    access: &Access<'_>,
) {
    let Some(master) = master.and_then(|m| state.topology.node(m)) else {
        return;
    };
    let Ok(reply) = access
        .open_monitor(master.port)
        .and_then(|mut c| c.call(&["INFO", "replication"]))
    else {
        return;
    };
    let info = reply.text().unwrap_or_default();
    let master_offset =
        info_field(info, "master_repl_offset").and_then(|v| v.trim().parse::<i64>().ok());
    for line in info.lines().filter(|l| l.starts_with("slave")) {
        let Some((_, fields)) = line.trim_end().split_once(':') else {
            continue;
        };
        let field = |key: &str| {
            fields
                .split(',')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        let Some(port) = field("port").and_then(|p| p.parse::<u16>().ok()) else {
            continue;
        };
        if let Some(node) = nodes
            .iter_mut()
            .find(|n| n.port == port && n.role == Some(Role::Replica))
        {
            node.lag_seconds = field("lag").and_then(|l| l.parse().ok());
            node.lag_bytes = master_offset.zip(node.offset).map(|(m, r)| (m - r).max(0));
        }
    }
}

fn probe_sentinel(state: &StackState, spec: &NodeSpec, access: &Access<'_>) -> SentinelView {
    let mut view = SentinelView {
        sentinel: spec.name.clone(),
        master: None,
        master_addr: None,
        flags: None,
        quorum_ok: None,
        replicas: None,
        other_sentinels: None,
        error: None,
    };
    let service = state.topology.service_name.as_str();
    let result = access.open_sentinel(spec.port).and_then(|mut conn| {
        let reply = conn.call(&["SENTINEL", "MASTER", service])?;
        let fields = pairs(&reply);
        let get = |key: &str| fields.get(key).copied();
        if let (Some(ip), Some(port)) = (get("ip"), get("port")) {
            view.master_addr = Some(format!("{ip}:{port}"));
            view.master = port
                .parse::<u16>()
                .ok()
                .and_then(|p| state.topology.data_node_by_port(p))
                .map(|n| n.name.clone());
        }
        view.flags = get("flags").map(str::to_owned);
        view.replicas = get("num-slaves").and_then(|v| v.parse().ok());
        view.other_sentinels = get("num-other-sentinels").and_then(|v| v.parse().ok());
        view.quorum_ok = Some(conn.call(&["SENTINEL", "CKQUORUM", service]).is_ok());
        Ok(())
    });
    if let Err(err) = result {
        view.error = Some(err.to_string());
    }
    view
}

/// Asks every monitoring process whether it is ready.
fn probe_monitoring(state: &StackState) -> Vec<ServiceStatus> {
    let Some(spec) = &state.topology.monitoring else {
        return Vec::new();
    };
    let live = state.live_node_pids();
    spec.services()
        .into_iter()
        .map(|service| {
            let pid = live
                .iter()
                .find(|(name, _)| *name == service.name)
                .map(|(_, pid)| *pid);
            let up = pid.is_some()
                && super::service::http_status(service.port, service.ready_path())
                    .is_ok_and(|code| code == 200);
            ServiceStatus {
                url: service.url(),
                name: service.name,
                kind: service.kind,
                pid,
                up,
            }
        })
        .collect()
}

/// Everything that makes the stack unhealthy, one sentence each.
fn problems(status: &StackStatus) -> Vec<String> {
    let mut problems = Vec::new();
    if status.supervisor.pid.is_none() {
        problems.push("the supervisor is not running".to_owned());
    } else if status.supervisor.phase != Some(Phase::Running) {
        let phase = status
            .supervisor
            .phase
            .map(|p| p.to_string())
            .unwrap_or_default();
        problems.push(format!("the supervisor is {phase}"));
    }
    for node in status.nodes.iter().filter(|n| !n.up) {
        problems.push(format!("{} is down", node.name));
    }
    for service in status.monitoring.iter().filter(|s| !s.up) {
        problems.push(format!("{} is down", service.name));
    }
    let masters: Vec<&str> = status
        .nodes
        .iter()
        .filter(|n| n.role == Some(Role::Master))
        .map(|n| n.name.as_str())
        .collect();
    match masters.as_slice() {
        [] if status
            .nodes
            .iter()
            .any(|n| n.kind == NodeKind::Redis && n.up) =>
        {
            problems.push("no data node is master".to_owned());
        }
        [] | [_] => {}
        several => problems.push(format!("several masters: {}", several.join(", "))),
    }
    let master = status.master.as_deref();
    for node in status
        .nodes
        .iter()
        .filter(|n| n.role == Some(Role::Replica))
    {
        if node.replicates.as_deref() != master {
            let from = node.replicates.as_deref().unwrap_or("an unknown node");
            problems.push(format!(
                "{} replicates from {from}, not from the master",
                node.name
            ));
        } else if node.link_up != Some(true) {
            problems.push(format!(
                "{}: replication link to the master is down",
                node.name
            ));
        }
    }
    for view in &status.sentinels {
        let name = &view.sentinel;
        if let Some(error) = &view.error {
            problems.push(format!("{name} cannot be queried: {error}"));
            continue;
        }
        if view.master.as_deref() != master {
            let seen = view.master_addr.as_deref().unwrap_or("no master");
            problems.push(format!("{name} sees {seen} as master"));
        }
        if view.flags.as_deref() != Some("master") {
            let flags = view.flags.as_deref().unwrap_or("(none)");
            problems.push(format!("{name} flags the master as {flags}"));
        }
        if view.quorum_ok != Some(true) {
            problems.push(format!("{name}: no quorum (SENTINEL CKQUORUM failed)"));
        }
    }
    problems
}
