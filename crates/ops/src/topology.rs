//! Finding the deployment's nodes and asking each what it knows: the data nodes'
//! `INFO`, the Sentinels' view of the master, the Cluster's node table.
//!
//! Every question is bounded by the connection's command timeout; a node that does not
//! answer is reported as such, never waited for.

use std::collections::BTreeMap;

use fred::clients::SentinelClient;
use fred::prelude::*;
use fred::types::Value;
use futures::future::join_all;
use sessiondb_engine::{admin, ConnectionConfig, Topology};

use crate::error::OpsError;
use crate::info::Info;

/// A node's `(host, port)`.
pub(crate) type Addr = (String, u16);

/// `host:port`.
pub(crate) fn addr_string(addr: &Addr) -> String {
    format!("{}:{}", addr.0, addr.1)
}

/// A connection to one data node; closed by [`Node::close`].
pub(crate) struct Node {
    pub(crate) addr: Addr,
    pub(crate) pool: Pool,
}

impl Node {
    pub(crate) async fn connect(conn: &ConnectionConfig, addr: &Addr) -> Result<Self, OpsError> {
        Self::connect_pool(conn, addr, 1).await
    }

    /// A connection of `size` clients (for many requests in flight).
    pub(crate) async fn connect_pool(
        conn: &ConnectionConfig,
        addr: &Addr,
        size: usize,
    ) -> Result<Self, OpsError> {
        let pool = admin::connect_node(conn, &addr.0, addr.1, size)
            .await
            .map_err(|e| OpsError::redis(format!("connecting to {}", addr_string(addr)), e))?;
        Ok(Self {
            addr: addr.clone(),
            pool,
        })
    }

    pub(crate) fn client(&self) -> &Client {
        self.pool.next()
    }

    pub(crate) fn name(&self) -> String {
        addr_string(&self.addr)
    }

    pub(crate) async fn info(&self) -> Result<Info, OpsError> {
        let text: String = self
            .client()
            .info(None)
            .await
            .map_err(|e| OpsError::redis(format!("INFO on {}", self.name()), e))?;
        Ok(Info::parse(&text))
    }

    pub(crate) async fn close(self) {
        let _ = self.pool.quit().await;
    }
}

/// Connects to `addr`, reads its `INFO` and disconnects.
pub(crate) async fn probe(conn: &ConnectionConfig, addr: &Addr) -> Result<Info, OpsError> {
    let node = Node::connect(conn, addr).await?;
    let info = node.info().await;
    node.close().await;
    info
}

/// What one Sentinel says about the monitored master.
#[derive(Debug, Clone)]
pub(crate) struct SentinelFacts {
    /// `SENTINEL GET-MASTER-ADDR-BY-NAME`.
    pub(crate) master: Option<Addr>,
    /// `SENTINEL CKQUORUM`: `Ok(message)` or `Err(message)`.
    pub(crate) ckquorum: Result<String, String>,
    /// `SENTINEL MASTER` fields (`quorum`, `flags`, `num-other-sentinels`, …).
    pub(crate) master_fields: BTreeMap<String, String>,
    /// `SENTINEL REPLICAS`: each replica's address and flags.
    pub(crate) replicas: Vec<(Addr, String)>,
}

impl SentinelFacts {
    pub(crate) fn field_u64(&self, name: &str) -> Option<u64> {
        self.master_fields.get(name)?.parse().ok()
    }
}

/// One Sentinel's answer, or why there was none.
#[derive(Debug, Clone)]
pub(crate) struct SentinelAnswer {
    pub(crate) addr: Addr,
    pub(crate) facts: Result<SentinelFacts, String>,
}

/// Asks every configured Sentinel, concurrently. Empty for other topologies.
pub(crate) async fn ask_sentinels(conn: &ConnectionConfig) -> Vec<SentinelAnswer> {
    let Topology::Sentinel {
        sentinels,
        service_name,
        ..
    } = &conn.topology
    else {
        return Vec::new();
    };
    join_all(sentinels.iter().map(|addr| async move {
        let facts = ask_sentinel(conn, addr, service_name)
            .await
            .map_err(|e| format!("{e:#}"));
        SentinelAnswer {
            addr: addr.clone(),
            facts,
        }
    }))
    .await
}

async fn ask_sentinel(
    conn: &ConnectionConfig,
    addr: &Addr,
    service: &str,
) -> Result<SentinelFacts, OpsError> {
    let name = addr_string(addr);
    let client = admin::connect_sentinel(conn, &addr.0, addr.1)
        .await
        .map_err(|e| OpsError::redis(format!("connecting to Sentinel {name}"), e))?;
    let result = sentinel_facts(&client, &name, service).await;
    let _ = client.quit().await;
    result
}

async fn sentinel_facts(
    client: &SentinelClient,
    name: &str,
    service: &str,
) -> Result<SentinelFacts, OpsError> {
    let failed = |what: &str, e: fred::error::Error| {
        OpsError::redis(format!("SENTINEL {what} on {name}"), e)
    };
    let master: Value = client
        .get_master_addr_by_name(service)
        .await
        .map_err(|e| failed("GET-MASTER-ADDR-BY-NAME", e))?;
    let master = match master {
        Value::Array(parts) => match parts.as_slice() {
            [host, port] => host
                .as_string()
                .zip(port.as_string().and_then(|p| p.parse().ok())),
            _ => None,
        },
        _ => None,
    };
    let ckquorum = match client.ckquorum::<String, _>(service).await {
        Ok(message) => Ok(message),
        Err(e) => Err(e.details().to_owned()),
    };
    let fields: Value = client
        .master(service)
        .await
        .map_err(|e| failed("MASTER", e))?;
    let replicas: Value = client
        .replicas(service)
        .await
        .map_err(|e| failed("REPLICAS", e))?;
    let replicas = match replicas {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| {
                let map = pairs(item);
                let host = map.get("ip")?.clone();
                let port = map.get("port")?.parse().ok()?;
                Some(((host, port), map.get("flags").cloned().unwrap_or_default()))
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(SentinelFacts {
        master,
        ckquorum,
        master_fields: pairs(fields),
        replicas,
    })
}

/// A Sentinel reply of alternating names and values (RESP2) or a map (RESP3).
fn pairs(value: Value) -> BTreeMap<String, String> {
    match value {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((k.as_string()?, v.as_string()?)),
                _ => None,
            })
            .collect(),
        Value::Map(map) => map
            .inner()
            .into_iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_string()?)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The master most answering Sentinels name (ties: the first named).
pub(crate) fn agreed_master(answers: &[SentinelAnswer]) -> Option<Addr> {
    let mut votes: Vec<(Addr, usize)> = Vec::new();
    for master in answers
        .iter()
        .filter_map(|a| a.facts.as_ref().ok()?.master.clone())
    {
        match votes.iter_mut().find(|(addr, _)| *addr == master) {
            Some((_, n)) => *n += 1,
            None => votes.push((master, 1)),
        }
    }
    let best = votes.iter().map(|(_, n)| *n).max()?;
    votes.into_iter().find(|(_, n)| *n == best).map(|(a, _)| a)
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterNode {
    pub(crate) id: String,
    pub(crate) addr: Addr,
    pub(crate) flags: Vec<String>,
    /// The primary's id, for replicas.
    pub(crate) master_id: Option<String>,
    pub(crate) link: String,
    /// Slot ranges (inclusive) the node serves.
    pub(crate) slots: Vec<(u16, u16)>,
}

impl ClusterNode {
    pub(crate) fn is_master(&self) -> bool {
        self.flags.iter().any(|f| f == "master")
    }

    pub(crate) fn failed(&self) -> bool {
        self.flags.iter().any(|f| f == "fail" || f == "fail?") || self.link != "connected"
    }

    pub(crate) fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
    }
}

/// Parses `CLUSTER NODES`; lines it cannot read are skipped.
pub(crate) fn parse_cluster_nodes(text: &str) -> Vec<ClusterNode> {
    text.lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() < 8 {
                return None;
            }
            // ip:port@cport[,hostname]
            let endpoint = parts[1].split(['@', ',']).next()?;
            let (host, port) = endpoint.rsplit_once(':')?;
            let slots = parts[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => {
                        let n = s.parse().ok()?;
                        Some((n, n))
                    }
                })
                .collect();
            Some(ClusterNode {
                id: parts[0].to_owned(),
                addr: (host.to_owned(), port.parse().ok()?),
                flags: parts[2].split(',').map(str::to_owned).collect(),
                master_id: (parts[3] != "-").then(|| parts[3].to_owned()),
                link: parts[7].to_owned(),
                slots,
            })
        })
        .collect()
}

/// `CLUSTER NODES` and `CLUSTER INFO` from the first seed node that answers.
pub(crate) async fn cluster_layout(
    conn: &ConnectionConfig,
    seeds: &[Addr],
) -> Result<(Vec<ClusterNode>, Info), OpsError> {
    let mut last = None;
    for seed in seeds {
        let asked = async {
            let node = Node::connect(conn, seed).await?;
            let nodes: Result<String, _> = node.client().cluster_nodes().await;
            let info: Result<String, _> = node.client().cluster_info().await;
            node.close().await;
            let what = format!("CLUSTER NODES on {}", addr_string(seed));
            Ok::<_, OpsError>((
                parse_cluster_nodes(&nodes.map_err(|e| OpsError::redis(what.clone(), e))?),
                Info::parse(&info.map_err(|e| OpsError::redis(what, e))?),
            ))
        };
        match asked.await {
            Ok(found) => return Ok(found),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| OpsError::invalid("redis.nodes", "no Cluster node is configured")))
}

/// The current master of a standalone or Sentinel deployment: the configured server,
/// or the one the Sentinels agree on.
pub(crate) async fn current_master(conn: &ConnectionConfig) -> Result<Addr, OpsError> {
    match &conn.topology {
        Topology::Standalone { host, port } => Ok((host.clone(), *port)),
        Topology::Sentinel { service_name, .. } => {
            let answers = ask_sentinels(conn).await;
            agreed_master(&answers).ok_or_else(|| {
                let why: Vec<String> = answers
                    .iter()
                    .map(|a| match &a.facts {
                        Ok(_) => format!("{} does not know {service_name}", addr_string(&a.addr)),
                        Err(e) => e.clone(),
                    })
                    .collect();
                OpsError::Unavailable(format!(
                    "no Sentinel names a master for {service_name}: {}",
                    why.join("; ")
                ))
            })
        }
        Topology::Cluster { .. } => Err(OpsError::invalid(
            "topology",
            "a Cluster has one master per shard; ask for the shards instead",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_give_roles_addresses_and_slots() {
        let text = "07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected\n\
            e7d1 127.0.0.1:30001@40001,host1 myself,master - 0 0 1 connected 0-5460 5462\n\
            bad line\n";
        let nodes = parse_cluster_nodes(text);
        assert_eq!(nodes.len(), 2);
        assert!(!nodes[0].is_master());
        assert_eq!(nodes[0].master_id.as_deref(), Some("e7d1"));
        assert_eq!(nodes[1].addr, ("127.0.0.1".to_owned(), 30001));
        assert!(nodes[1].is_master());
        assert_eq!(nodes[1].slots, vec![(0, 5460), (5462, 5462)]);
        assert!(nodes[1].owns(5462) && !nodes[1].owns(5461));
    }

    #[test]
    fn the_master_most_sentinels_name_wins() {
        let answer = |port, master: Option<u16>| SentinelAnswer {
            addr: ("s".to_owned(), port),
            facts: Ok(SentinelFacts {
                master: master.map(|p| ("m".to_owned(), p)),
                ckquorum: Ok(String::new()),
                master_fields: BTreeMap::new(),
                replicas: Vec::new(),
            }),
        };
        let answers = [answer(1, Some(7)), answer(2, Some(8)), answer(3, Some(8))];
        assert_eq!(agreed_master(&answers), Some(("m".to_owned(), 8)));
        assert_eq!(agreed_master(&[answer(1, None)]), None);
    }
}
