//! A Redis Cluster of masters, optionally with replicas and ACL users:
//! [`ClusterOptions`] and the [`RedisCluster`] guard.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::cli;
use crate::poll::{poll_until, Pending};
use crate::resp::info_field;
use crate::{LocalError, RedisOptions, RedisServer};

/// How long the cluster gets to converge after `--cluster create`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Number of hash slots in a Redis Cluster.
const SLOTS: &str = "16384";

/// How to start a [`RedisCluster`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Masters (at least 3, as Redis requires; default 3).
    pub masters: usize,
    /// Replicas per master (`--cluster-replicas`; default 0).
    pub replicas: usize,
    /// The password of every node's default user (`requirepass`, `masterauth`).
    pub password: Option<SecretString>,
    /// An ACL users file (`aclfile`) every node loads. With
    /// [`ClusterOptions::password`] it must keep the `default` user with that password
    /// and every command (`sessiondb_acl::render_with(.., DefaultUser::Admin)` does),
    /// which `redis-cli --cluster create`, the replicas' `masterauth` and the
    /// readiness probes use.
    pub acl_file: Option<PathBuf>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            masters: 3,
            replicas: 0,
            password: None,
            acl_file: None,
        }
    }
}

/// A Redis Cluster of `masters` nodes on 127.0.0.1, all slots assigned, with
/// `replicas` replicas per master. Dropping it kills and reaps every node.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    password: Option<SecretString>,
    /// Masters asked for.
    masters: usize,
    /// Replicas per master.
    replicas: usize,
}

impl RedisCluster {
    /// Starts `masters` cluster-enabled nodes (at least 3, as Redis
    /// requires), joins them with
    /// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`
    /// and waits until every node reports `cluster_state:ok` with all 16384
    /// slots assigned and knows every master.
    pub fn start(masters: usize, password: Option<SecretString>) -> Result<Self, LocalError> {
        Self::start_with_options(ClusterOptions {
            masters,
            password,
            ..ClusterOptions::default()
        })
    }

    /// Like [`RedisCluster::start`], with `replicas` replicas per master
    /// (`--cluster-replicas`); also waits until every node lists every replica
    /// in `CLUSTER SLOTS` (where cluster clients look for them).
    pub fn start_with_replicas(
        masters: usize,
        replicas: usize,
        password: Option<SecretString>,
    ) -> Result<Self, LocalError> {
        Self::start_with_options(ClusterOptions {
            masters,
            replicas,
            password,
            acl_file: None,
        })
    }

    /// Starts the cluster `opts` describes (see [`RedisCluster::start_with_replicas`]),
    /// every node loading [`ClusterOptions::acl_file`] if set.
    pub fn start_with_options(opts: ClusterOptions) -> Result<Self, LocalError> {
        let ClusterOptions {
            masters,
            replicas,
            password,
            acl_file,
        } = opts;
        if masters < 3 {
            return Err(LocalError::InvalidOptions(format!(
                "a Redis Cluster needs at least 3 masters, got {masters}"
            )));
        }
        let nodes = (0..masters * (1 + replicas))
            .map(|_| {
                RedisServer::start(RedisOptions {
                    password: password.clone(),
                    cluster: true,
                    acl_file: acl_file.clone(),
                    ..RedisOptions::default()
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cluster = Self {
            nodes,
            password,
            masters,
            replicas,
        };
        cluster.create()?;
        poll_until("the cluster to converge", READY_TIMEOUT, || {
            cluster.check_ready()
        })?;
        Ok(cluster)
    }

    /// `(host, port)` of every node, for cluster clients to bootstrap from.
    pub fn seed_nodes(&self) -> Vec<(String, u16)> {
        self.nodes.iter().map(RedisServer::addr).collect()
    }

    /// The nodes, in start order.
    pub fn nodes(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }

    /// The password of every node, if any.
    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    fn create(&self) -> Result<(), LocalError> {
        let addrs: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{}:{}", n.host(), n.port()))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        let replicas = self.replicas.to_string();
        args.extend(["--cluster-replicas", replicas.as_str(), "--cluster-yes"]);
        cli::run("cluster", self.password.as_ref(), &[], &args)?;
        Ok(())
    }

    /// One readiness probe: every node is ok, has all slots, sees all
    /// masters and replicas, and lists the replicas in `CLUSTER SLOTS`.
    fn check_ready(&self) -> Result<(), Pending> {
        let (masters, replicas) = (self.masters, self.masters * self.replicas);
        for node in &self.nodes {
            let mut conn = node.process().connect()?;
            let info = conn.call(&["CLUSTER", "INFO"])?;
            let info = info.text().unwrap_or_default();
            let state = info_field(info, "cluster_state");
            let assigned = info_field(info, "cluster_slots_assigned");
            if state != Some("ok") || assigned != Some(SLOTS) {
                return Err(Pending::wait(format!(
                    "node {} reports cluster_state={state:?} cluster_slots_assigned={assigned:?}",
                    node.port()
                )));
            }
            let nodes = conn.call(&["CLUSTER", "NODES"])?;
            let count = |role: &str| {
                nodes
                    .text()
                    .unwrap_or_default()
                    .lines()
                    .filter(|line| {
                        let flags = line.split(' ').nth(2).unwrap_or_default();
                        flags.split(',').any(|f| f == role) && !flags.contains("fail")
                    })
                    .count()
            };
            let (known, known_replicas) = (count("master"), count("slave"));
            if known != masters || known_replicas != replicas {
                return Err(Pending::wait(format!(
                    "node {} knows {known}/{masters} healthy masters and \
                     {known_replicas}/{replicas} replicas",
                    node.port()
                )));
            }
            // Clients learn replicas from CLUSTER SLOTS, which lists a replica only
            // once its replication offset has reached the other nodes by gossip.
            let slots = conn.call(&["CLUSTER", "SLOTS"])?;
            let listed: usize = slots
                .items()
                .unwrap_or_default()
                .iter()
                .map(|range| range.items().map_or(0, |r| r.len().saturating_sub(3)))
                .sum();
            if listed < replicas {
                return Err(Pending::wait(format!(
                    "node {} lists {listed}/{replicas} replicas in CLUSTER SLOTS",
                    node.port()
                )));
            }
        }
        Ok(())
    }
}
