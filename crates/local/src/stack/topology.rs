//! What a local stack consists of: its nodes, their fixed ports and the
//! Sentinel settings. Decided once at the first `up` and stored in the
//! state file, so every later `start` reuses the same ports.

use serde::{Deserialize, Serialize};

use super::monitoring::{MonitoringOptions, MonitoringSpec};
use super::StackError;
use crate::free_port;
use crate::process::LOOPBACK;

/// Standalone (one `redis-server`) or highly available (master, replicas,
/// sentinels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StackMode {
    /// One `redis-server`.
    Standalone,
    /// One master, two replicas and three sentinels (quorum 2).
    Ha,
}

impl std::fmt::Display for StackMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Standalone => "standalone",
            Self::Ha => "ha",
        })
    }
}

/// The two kinds of process a stack runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A `redis-server` data node (master or replica).
    Redis,
    /// A `redis-sentinel`.
    Sentinel,
}

/// One node of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// `redis-0`, `redis-1`, ... or `sentinel-0`, ...; also the name of the
    /// node's directory inside the stack directory.
    pub name: String,
    /// What runs there.
    pub kind: NodeKind,
    /// The loopback port, fixed for the life of the stack.
    pub port: u16,
}

impl NodeSpec {
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("{LOOPBACK}:{}", self.port)
    }
}

/// How to lay out a new stack.
#[derive(Debug, Clone)]
pub struct TopologyOptions {
    /// Standalone or HA.
    pub mode: StackMode,
    /// First port; the nodes get consecutive ports from it (data nodes,
    /// then sentinels). `None` picks free ports.
    pub base_port: Option<u16>,
    /// Sentinel `down-after-milliseconds` (default 5000).
    pub down_after_ms: u64,
    /// Sentinel `failover-timeout` (default 30000).
    pub failover_timeout_ms: u64,
    /// Shorten Sentinel's internal timers (see
    /// [`SentinelOptions::fast_timers`](crate::SentinelOptions::fast_timers));
    /// for tests.
    pub fast_timers: bool,
    /// Also run exporters, Prometheus and Alertmanager (`--monitoring`);
    /// their ports follow the nodes'.
    pub monitoring: Option<MonitoringOptions>,
    /// Run every data node and sentinel on TLS only (`--tls`), with a CA and
    /// certificates generated into the stack directory.
    pub tls: bool,
}

impl Default for TopologyOptions {
    fn default() -> Self {
        Self {
            mode: StackMode::Standalone,
            base_port: None,
            down_after_ms: 5000,
            failover_timeout_ms: 30_000,
            fast_timers: false,
            monitoring: None,
            tls: false,
        }
    }
}

/// The layout of a stack, as stored in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Standalone or HA.
    pub mode: StackMode,
    /// The master's name in Sentinel (`sessiondb`).
    pub service_name: String,
    /// Sentinels that must agree the master is down.
    pub quorum: usize,
    /// Sentinel `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// Sentinel `failover-timeout`.
    pub failover_timeout_ms: u64,
    /// Whether sentinels run with shortened internal timers (tests only).
    pub fast_timers: bool,
    /// Data nodes first (`redis-0` is the initial master), then sentinels.
    pub nodes: Vec<NodeSpec>,
    /// Exporters, Prometheus and Alertmanager, when the stack was created
    /// with `--monitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,
    /// Whether every data node and sentinel speaks TLS only (`--tls`); the
    /// certificates are in [`StackDir::tls_dir`](super::StackDir::tls_dir).
    #[serde(default)]
    pub tls: bool,
}

/// Number of replicas in an HA stack.
const HA_REPLICAS: usize = 2;
/// Number of sentinels in an HA stack.
const HA_SENTINELS: usize = 3;
/// Sentinel quorum in an HA stack.
const HA_QUORUM: usize = 2;

impl Topology {
    /// Lays out a new stack and fixes its ports: consecutive from
    /// `base_port` (all must be free now), or picked free ports.
    pub fn plan(opts: &TopologyOptions) -> Result<Self, StackError> {
        let (data, sentinels) = match opts.mode {
            StackMode::Standalone => (1, 0),
            StackMode::Ha => (1 + HA_REPLICAS, HA_SENTINELS),
        };
        let nodes_count = data + sentinels;
        let count = nodes_count
            + opts
                .monitoring
                .as_ref()
                .map_or(0, |_| MonitoringSpec::port_count(nodes_count));
        let ports: Vec<u16> = match opts.base_port {
            Some(base) => consecutive_ports(base, count)?,
            None => (0..count).map(|_| free_port()).collect::<Result<_, _>>()?,
        };
        let names = (0..data)
            .map(|i| (format!("redis-{i}"), NodeKind::Redis))
            .chain((0..sentinels).map(|i| (format!("sentinel-{i}"), NodeKind::Sentinel)));
        let mut ports = ports.into_iter();
        let nodes: Vec<NodeSpec> = names
            .zip(ports.by_ref())
            .map(|((name, kind), port)| NodeSpec { name, kind, port })
            .collect();
        let monitoring = opts
            .monitoring
            .as_ref()
            .map(|m| MonitoringSpec::plan(&nodes, &mut ports, m))
            .transpose()?;
        Ok(Self {
            mode: opts.mode,
            service_name: "sessiondb".to_owned(),
            quorum: if sentinels == 0 { 0 } else { HA_QUORUM },
            down_after_ms: opts.down_after_ms,
            failover_timeout_ms: opts.failover_timeout_ms,
            fast_timers: opts.fast_timers,
            nodes,
            monitoring,
            tls: opts.tls,
        })
    }

    /// The data nodes, `redis-0` first.
    pub fn data_nodes(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::Redis)
    }

    /// The sentinels, `sentinel-0` first.
    pub fn sentinels(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::Sentinel)
    }

    /// The sentinels' ports.
    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels().map(|n| n.port).collect()
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The data node listening on `port`.
    pub fn data_node_by_port(&self, port: u16) -> Option<&NodeSpec> {
        self.data_nodes().find(|n| n.port == port)
    }

    /// The node that starts as master: `redis-0`.
    pub fn initial_master(&self) -> Option<&NodeSpec> {
        self.data_nodes().next()
    }

    /// The `sessiondb serve` settings (environment variables) that point at
    /// this stack, without the password; with monitoring also the admin
    /// listener Prometheus scrapes.
    pub fn connection_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.redis_env();
        if let Some(monitoring) = &self.monitoring {
            env.push((
                "SESSIONDB_SERVER__ADMIN_LISTEN",
                monitoring.sessiondb_admin_addr(),
            ));
        }
        env
    }

    fn redis_env(&self) -> Vec<(&'static str, String)> {
        match self.mode {
            StackMode::Standalone => {
                let port = self.initial_master().map(|n| n.port).unwrap_or_default();
                vec![
                    ("SESSIONDB_REDIS__MODE", "standalone".to_owned()),
                    ("SESSIONDB_REDIS__HOST", LOOPBACK.to_owned()),
                    ("SESSIONDB_REDIS__PORT", port.to_string()),
                ]
            }
            StackMode::Ha => {
                let sentinels: Vec<String> = self.sentinels().map(NodeSpec::addr).collect();
                vec![
                    ("SESSIONDB_REDIS__MODE", "sentinel".to_owned()),
                    ("SESSIONDB_REDIS__SENTINELS", sentinels.join(",")),
                    (
                        "SESSIONDB_REDIS__SENTINEL_SERVICE",
                        self.service_name.clone(),
                    ),
                ]
            }
        }
    }
}

/// `count` ports from `base`, each free right now.
fn consecutive_ports(base: u16, count: usize) -> Result<Vec<u16>, StackError> {
    let ports: Vec<u16> = (0..count)
        .map(|i| u16::try_from(i).ok().and_then(|i| base.checked_add(i)))
        .collect::<Option<_>>()
        .filter(|_| base != 0)
        .ok_or_else(|| {
            StackError::Invalid(format!("--port {base} leaves no room for {count} ports"))
        })?;
    if let Some(taken) = ports
        .iter()
        .find(|&&p| std::net::TcpListener::bind((LOOPBACK, p)).is_err())
    {
        let last = ports.last().copied().unwrap_or(base);
        return Err(StackError::Invalid(format!(
            "port {taken} on {LOOPBACK} is already in use (the stack needs ports {base}-{last})"
        )));
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha_plan_has_three_data_nodes_and_three_sentinels_on_distinct_ports() {
        let topology = Topology::plan(&TopologyOptions {
            mode: StackMode::Ha,
            ..TopologyOptions::default()
        })
        .unwrap();
        let names: Vec<&str> = topology.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "redis-0",
                "redis-1",
                "redis-2",
                "sentinel-0",
                "sentinel-1",
                "sentinel-2"
            ]
        );
        let mut ports: Vec<u16> = topology.nodes.iter().map(|n| n.port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6);
        assert_eq!(topology.quorum, 2);
        let env = topology.connection_env();
        assert_eq!(env[0], ("SESSIONDB_REDIS__MODE", "sentinel".to_owned()));
        assert_eq!(env[1].1.split(',').count(), 3);
    }

    #[test]
    fn base_port_gives_consecutive_ports_and_rejects_overflow() {
        let base = free_port().unwrap();
        let topology = Topology::plan(&TopologyOptions {
            base_port: Some(base),
            ..TopologyOptions::default()
        })
        .unwrap();
        assert_eq!(topology.nodes[0].port, base);
        assert_eq!(topology.nodes.len(), 1);
        let err = Topology::plan(&TopologyOptions {
            mode: StackMode::Ha,
            base_port: Some(u16::MAX - 2),
            ..TopologyOptions::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("no room"), "{err}");
    }
}
