//! `status`: the topology (one row per data node), the Sentinel view, the Cluster's
//! shards and sessiondb's figures.
//!
//! Cost: one `INFO` per data node, three Sentinel commands per Sentinel (plus
//! `CKQUORUM`), `CLUSTER NODES`/`CLUSTER INFO` once, and the figures (2 × 1024
//! single-key reads, see [`SessionFigures`]).

use serde::Serialize;
use sessiondb_engine::{admin, ConnectionConfig, Topology};

use crate::error::OpsError;
use crate::figures::{session_figures, SessionFigures};
use crate::info::Info;
use crate::outcome::ExitStatus;
use crate::topology::{
    addr_string, agreed_master, ask_sentinels, cluster_layout, probe, Addr, ClusterNode,
    SentinelAnswer,
};

mod display;

/// One data node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// `host:port`.
    pub address: String,
    /// `master`, `replica` or `unknown` (did not answer).
    pub role: String,
    /// Whether it answered `INFO`.
    pub reachable: bool,
    /// Why it did not answer.
    pub error: Option<String>,
    /// For a replica: its master (`host:port`).
    pub master: Option<String>,
    /// For a replica: `master_link_status` (`up`/`down`).
    pub link: Option<String>,
    /// `master_repl_offset` (master) or `slave_repl_offset` (replica).
    pub replication_offset: Option<u64>,
    /// For a replica: bytes behind its master (master offset − replica offset).
    pub lag_bytes: Option<u64>,
    /// For a replica: seconds since its last acknowledgement, as its master reports.
    pub lag_seconds: Option<u64>,
    /// `used_memory`, bytes.
    pub used_memory: Option<u64>,
    /// `maxmemory`, bytes (0: no limit).
    pub maxmemory: Option<u64>,
    /// Keys in the database.
    pub keys: Option<u64>,
    /// `connected_clients`.
    pub connected_clients: Option<u64>,
    /// `uptime_in_seconds`.
    pub uptime_seconds: Option<u64>,
    /// `redis_version`.
    pub redis_version: Option<String>,
}

/// What one Sentinel says.
#[derive(Debug, Clone, Serialize)]
pub struct SentinelStatus {
    /// `host:port`.
    pub address: String,
    /// Whether it answered.
    pub reachable: bool,
    /// Why it did not answer.
    pub error: Option<String>,
    /// The master it names (`host:port`).
    pub master: Option<String>,
    /// The master's flags as this Sentinel sees them (`master`, `s_down`, …).
    pub flags: Option<String>,
    /// The configured quorum.
    pub quorum: Option<u64>,
    /// Sentinels it knows, itself included.
    pub sentinels_known: Option<u64>,
    /// Replicas it knows.
    pub replicas_known: Option<u64>,
    /// `SENTINEL CKQUORUM`'s answer.
    pub ckquorum: Option<String>,
    /// Whether `CKQUORUM` passed.
    pub ckquorum_ok: Option<bool>,
    /// The master's configuration epoch: it grows by one with every failover.
    pub config_epoch: Option<u64>,
    /// A failover in progress (`none` otherwise).
    pub failover_state: Option<String>,
}

/// One Cluster shard: a master, its slots and replicas.
#[derive(Debug, Clone, Serialize)]
pub struct ShardStatus {
    /// The master (`host:port`).
    pub master: String,
    /// Slot ranges, e.g. `0-5460`.
    pub slots: Vec<String>,
    /// Number of slots served.
    pub slot_count: u32,
    /// The replicas (`host:port`).
    pub replicas: Vec<String>,
    /// Nodes of this shard flagged failing or with a broken link.
    pub failing: Vec<String>,
}

/// The Cluster's state.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// `cluster_state` (`ok`/`fail`).
    pub state: Option<String>,
    /// `cluster_slots_assigned`.
    pub slots_assigned: Option<u64>,
    /// `cluster_slots_ok`.
    pub slots_ok: Option<u64>,
    /// `cluster_slots_pfail`.
    pub slots_pfail: Option<u64>,
    /// `cluster_slots_fail`.
    pub slots_fail: Option<u64>,
    /// `cluster_known_nodes`.
    pub known_nodes: Option<u64>,
    /// `cluster_current_epoch`.
    pub current_epoch: Option<u64>,
    /// One entry per master that serves slots.
    pub shards: Vec<ShardStatus>,
}

/// What `status` found.
///
/// Exit status ([`StatusReport::exit_status`]): 0 when every node and Sentinel answered
/// and the figures were read; 1 when some did not (the report still shows the rest);
/// `status` returns an error (exit 2) when no data node answered at all.
///
/// JSON: `{"topology", "nodes": [NodeStatus…], "sentinels": [SentinelStatus…],
/// "cluster": ClusterStatus|null, "sessions": SessionFigures|null, "sessions_error":
/// null|"…", "status": "ok"|"failed"}` — see `docs/operations.md`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// `ok` or `failed` (something did not answer).
    pub status: ExitStatus,
    /// `standalone`, `sentinel` or `cluster`.
    pub topology: &'static str,
    /// Every data node found: masters first, then replicas.
    pub nodes: Vec<NodeStatus>,
    /// Every configured Sentinel (empty unless Sentinel).
    pub sentinels: Vec<SentinelStatus>,
    /// The Cluster (only for Cluster).
    pub cluster: Option<ClusterStatus>,
    /// sessiondb's figures, when they could be read.
    pub sessions: Option<SessionFigures>,
    /// Why the figures could not be read.
    pub sessions_error: Option<String>,
}

impl StatusReport {
    /// 0 everything answered, 1 something did not.
    pub fn exit_status(&self) -> ExitStatus {
        self.status
    }
}

/// Reads the status of the deployment `conn` describes.
pub async fn status(conn: &ConnectionConfig, key_prefix: &str) -> Result<StatusReport, OpsError> {
    let mut sentinels = Vec::new();
    let mut cluster = None;
    // (address, expected master) of every data node to ask.
    let mut targets: Vec<(Addr, Option<Addr>)> = Vec::new();
    let topology = match &conn.topology {
        Topology::Standalone { host, port } => {
            targets.push(((host.clone(), *port), None));
            "standalone"
        }
        Topology::Sentinel { .. } => {
            sentinels = ask_sentinels(conn).await;
            if let Some(master) = agreed_master(&sentinels) {
                targets.push((master.clone(), None));
                for facts in sentinels.iter().filter_map(|s| s.facts.as_ref().ok()) {
                    for (addr, _) in &facts.replicas {
                        targets.push((addr.clone(), Some(master.clone())));
                    }
                }
            }
            "sentinel"
        }
        Topology::Cluster { nodes } => {
            let (layout, info) = cluster_layout(conn, nodes).await?;
            for node in layout.iter().filter(|n| n.is_master()) {
                targets.push((node.addr.clone(), None));
            }
            for node in layout.iter().filter(|n| !n.is_master()) {
                let master = layout
                    .iter()
                    .find(|m| Some(&m.id) == node.master_id.as_ref())
                    .map(|m| m.addr.clone());
                targets.push((node.addr.clone(), master));
            }
            cluster = Some(cluster_status(&layout, &info));
            "cluster"
        }
    };
    let mut answers = ask_nodes(conn, &targets).await;
    // A standalone or Sentinel master lists its connected replicas; ask those too.
    if topology != "cluster" {
        let mut more = Vec::new();
        for (addr, _, info) in &answers {
            if let Ok(info) = info {
                for r in info.replicas() {
                    let replica = (r.host, r.port);
                    if !targets.iter().any(|(t, _)| *t == replica)
                        && !more.iter().any(|(t, _)| *t == replica)
                    {
                        more.push((replica, Some(addr.clone())));
                    }
                }
            }
        }
        answers.extend(ask_nodes(conn, &more).await);
    }
    if !answers.iter().any(|(_, _, info)| info.is_ok()) {
        let why: Vec<String> = answers
            .iter()
            .filter_map(|(a, _, i)| Some(format!("{}: {}", addr_string(a), i.as_ref().err()?)))
            .chain(
                sentinels
                    .iter()
                    .filter_map(|s| s.facts.as_ref().err().cloned()),
            )
            .collect();
        return Err(OpsError::Unavailable(format!(
            "no data node answered: {}",
            if why.is_empty() {
                "no master is known".to_owned()
            } else {
                why.join("; ")
            }
        )));
    }
    let nodes = node_rows(&answers);
    let sentinel_rows: Vec<SentinelStatus> = sentinels.iter().map(sentinel_row).collect();
    let (sessions, sessions_error) = match read_figures(conn, key_prefix).await {
        Ok(figures) => (Some(figures), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let complete = nodes.iter().all(|n| n.reachable)
        && sentinel_rows.iter().all(|s| s.reachable)
        && sessions.is_some();
    Ok(StatusReport {
        status: if complete {
            ExitStatus::Ok
        } else {
            ExitStatus::Failed
        },
        topology,
        nodes,
        sentinels: sentinel_rows,
        cluster,
        sessions,
        sessions_error,
    })
}

async fn read_figures(conn: &ConnectionConfig, prefix: &str) -> Result<SessionFigures, OpsError> {
    let pool = admin::connect(conn, 4)
        .await
        .map_err(|e| OpsError::redis("connecting to the deployment", e))?;
    let figures = session_figures(&pool, prefix).await;
    let _ = fred::interfaces::ClientLike::quit(&pool).await;
    figures
}

type Answer = (Addr, Option<Addr>, Result<Info, String>);

async fn ask_nodes(conn: &ConnectionConfig, targets: &[(Addr, Option<Addr>)]) -> Vec<Answer> {
    let mut seen: Vec<&Addr> = Vec::new();
    let unique: Vec<&(Addr, Option<Addr>)> = targets
        .iter()
        .filter(|(a, _)| {
            let new = !seen.contains(&a);
            seen.push(a);
            new
        })
        .collect();
    futures::future::join_all(unique.into_iter().map(|(addr, master)| async move {
        let info = probe(conn, addr).await.map_err(|e| format!("{e:#}"));
        (addr.clone(), master.clone(), info)
    }))
    .await
}

fn node_rows(answers: &[Answer]) -> Vec<NodeStatus> {
    let mut rows: Vec<NodeStatus> = answers
        .iter()
        .map(|(addr, expected_master, info)| {
            let address = addr_string(addr);
            let Ok(info) = info else {
                return NodeStatus {
                    address,
                    role: "unknown".to_owned(),
                    reachable: false,
                    error: info.as_ref().err().cloned(),
                    master: expected_master.as_ref().map(addr_string),
                    link: None,
                    replication_offset: None,
                    lag_bytes: None,
                    lag_seconds: None,
                    used_memory: None,
                    maxmemory: None,
                    keys: None,
                    connected_clients: None,
                    uptime_seconds: None,
                    redis_version: None,
                };
            };
            let role = info.role().unwrap_or("unknown").to_owned();
            let replica = role == "replica";
            let master = if replica {
                info.get("master_host")
                    .zip(info.u64("master_port"))
                    .map(|(h, p)| format!("{h}:{p}"))
            } else {
                None
            };
            // The master's view of this replica: offset and lag.
            let listed = answers.iter().find_map(|(m, _, mi)| {
                let mi = mi.as_ref().ok()?;
                let line = mi
                    .replicas()
                    .into_iter()
                    .find(|r| r.host == addr.0 && r.port == addr.1)?;
                Some((m, mi.u64("master_repl_offset"), line))
            });
            let offset = if replica {
                info.u64("slave_repl_offset")
            } else {
                info.u64("master_repl_offset")
            };
            let master_offset = if replica {
                answers.iter().find_map(|(m, _, mi)| {
                    let mi = mi.as_ref().ok()?;
                    (Some(addr_string(m)) == master).then(|| mi.u64("master_repl_offset"))?
                })
            } else {
                None
            };
            NodeStatus {
                address,
                role,
                reachable: true,
                error: None,
                master,
                link: replica
                    .then(|| info.get("master_link_status").map(str::to_owned))
                    .flatten(),
                replication_offset: offset,
                lag_bytes: master_offset.zip(offset).map(|(m, o)| m.saturating_sub(o)),
                lag_seconds: listed.map(|(_, _, line)| line.lag),
                used_memory: info.u64("used_memory"),
                maxmemory: info.u64("maxmemory"),
                keys: Some(info.keys(0)),
                connected_clients: info.u64("connected_clients"),
                uptime_seconds: info.u64("uptime_in_seconds"),
                redis_version: info.get("redis_version").map(str::to_owned),
            }
        })
        .collect();
    // Masters first, then replicas, then the unreachable; by address within each.
    rows.sort_by_key(|n| {
        let rank = match n.role.as_str() {
            "master" => 0,
            "replica" => 1,
            _ => 2,
        };
        (rank, n.address.clone())
    });
    rows
}

fn sentinel_row(answer: &SentinelAnswer) -> SentinelStatus {
    let address = addr_string(&answer.addr);
    match &answer.facts {
        Err(e) => SentinelStatus {
            address,
            reachable: false,
            error: Some(e.clone()),
            master: None,
            flags: None,
            quorum: None,
            sentinels_known: None,
            replicas_known: None,
            ckquorum: None,
            ckquorum_ok: None,
            config_epoch: None,
            failover_state: None,
        },
        Ok(f) => SentinelStatus {
            address,
            reachable: true,
            error: None,
            master: f.master.as_ref().map(addr_string),
            flags: f.master_fields.get("flags").cloned(),
            quorum: f.field_u64("quorum"),
            sentinels_known: f.field_u64("num-other-sentinels").map(|n| n + 1),
            replicas_known: f.field_u64("num-slaves"),
            ckquorum: Some(match &f.ckquorum {
                Ok(m) | Err(m) => m.clone(),
            }),
            ckquorum_ok: Some(f.ckquorum.is_ok()),
            config_epoch: f.field_u64("config-epoch"),
            failover_state: f.master_fields.get("failover-state").cloned(),
        },
    }
}

fn cluster_status(layout: &[ClusterNode], info: &Info) -> ClusterStatus {
    let shards = layout
        .iter()
        .filter(|n| n.is_master() && !n.slots.is_empty())
        .map(|m| {
            let members: Vec<&ClusterNode> = layout
                .iter()
                .filter(|r| r.master_id.as_ref() == Some(&m.id))
                .collect();
            let mut failing: Vec<String> = members
                .iter()
                .chain(std::iter::once(&m))
                .filter(|n| n.failed())
                .map(|n| addr_string(&n.addr))
                .collect();
            failing.sort();
            ShardStatus {
                master: addr_string(&m.addr),
                slots: m
                    .slots
                    .iter()
                    .map(|(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}-{b}")
                        }
                    })
                    .collect(),
                slot_count: m.slots.iter().map(|(a, b)| u32::from(b - a) + 1).sum(),
                replicas: members.iter().map(|r| addr_string(&r.addr)).collect(),
                failing,
            }
        })
        .collect();
    ClusterStatus {
        state: info.get("cluster_state").map(str::to_owned),
        slots_assigned: info.u64("cluster_slots_assigned"),
        slots_ok: info.u64("cluster_slots_ok"),
        slots_pfail: info.u64("cluster_slots_pfail"),
        slots_fail: info.u64("cluster_slots_fail"),
        known_nodes: info.u64("cluster_known_nodes"),
        current_epoch: info.u64("cluster_current_epoch"),
        shards,
    }
}
