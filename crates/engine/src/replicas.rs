//! Reads from replicas (`read_from = replica_preferred`), for listings only.
//!
//! - **Cluster:** fred knows every slot's replicas (from `CLUSTER SLOTS`) and routes
//!   commands sent through `Client::replicas` to one of them, or to the primary when the
//!   slot has none. [`ClusterReplicas`] has every client re-read the layout every
//!   [`CLUSTER_CHECK_INTERVAL`] and after a failed replica read, so replicas that joined
//!   or came back later are used too.
//! - **Standalone and Sentinel:** fred connects to the master only. The [`Follower`]
//!   keeps a small pool to one replica of the current master: it asks the master
//!   (`INFO replication`, through the main pool, which itself follows failovers) which
//!   replicas are connected and in sync, every [`CHECK_INTERVAL`] and right after a
//!   replica read failed, and moves its pool when its replica is no longer among them.
//!   While it knows none, listings go to the master.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use fred::clients::Replicas;
use fred::prelude::*;
use fred::types::config::ServerConfig;
use fred::types::InfoKind;
use tokio::sync::Notify;

use crate::config::ConnectionConfig;
use crate::store::{connect_pool, server};

/// How often the follower re-checks its replica.
const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// How often the cluster clients re-read the cluster layout.
const CLUSTER_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// A replica whose last acknowledgement is older than this (seconds, as `INFO` reports
/// `lag`) is not used; it matches the recommended `min-replicas-max-lag`.
const MAX_LAG_SECONDS: u64 = 10;

/// Connections to the chosen replica.
const POOL_SIZE: usize = 2;

/// How listings reach replicas, per topology.
#[derive(Debug, Clone)]
pub(crate) enum ReplicaReads {
    /// fred routes replica commands of the main pool.
    Cluster(Arc<ClusterReplicas>),
    /// The engine's own pool to a replica of the current master.
    Follower(Arc<Follower>),
}

impl ReplicaReads {
    /// A client for one read, or `None` when reads must go to the master.
    pub(crate) fn client(&self) -> Option<ReplicaClient> {
        match self {
            Self::Cluster(cluster) => Some(ReplicaClient::Cluster(cluster.pool.next().replicas())),
            Self::Follower(follower) => follower.client().map(ReplicaClient::Node),
        }
    }

    /// Reports a failed replica read, so the replica is checked now.
    pub(crate) fn failed(&self) {
        match self {
            Self::Cluster(cluster) => cluster.check_now.notify_one(),
            Self::Follower(follower) => follower.check_now.notify_one(),
        }
    }

    /// Closes the follower's connections.
    pub(crate) async fn quit(&self) {
        if let Self::Follower(follower) = self {
            let replica = follower.current.write().expect("replica lock").take();
            if let Some(replica) = replica {
                let _ = replica.pool.quit().await;
            }
        }
    }
}

/// A client that reads from a replica.
pub(crate) enum ReplicaClient {
    /// Routed by fred to a replica of the key's slot.
    Cluster(Replicas<Client>),
    /// Connected to one replica.
    Node(Client),
}

impl ReplicaClient {
    /// Up to `limit` members of a sorted set with a score of at least `min`, from
    /// `offset`.
    pub(crate) async fn members_from(
        &self,
        key: &str,
        min: u64,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<String>, fred::error::Error> {
        // A score bound must be a float for fred; milliseconds since 1970 stay below
        // 2^53, so the conversion is exact.
        let min = min as f64;
        let page = Some((i64::try_from(offset).unwrap_or(i64::MAX), i64::from(limit)));
        // ZRANGE … BYSCORE LIMIT, the form the scripts use (one command for the roles).
        let by_score = Some(fred::types::sorted_sets::ZSort::ByScore);
        match self {
            Self::Cluster(c) => {
                c.zrange(key, min, "+inf", by_score, false, page, false)
                    .await
            }
            Self::Node(c) => {
                c.zrange(key, min, "+inf", by_score, false, page, false)
                    .await
            }
        }
    }

    /// A string value (`GET`), as bytes.
    pub(crate) async fn record(&self, key: String) -> Result<Option<Vec<u8>>, fred::error::Error> {
        let value: Option<fred::bytes::Bytes> = match self {
            Self::Cluster(c) => c.get(key).await?,
            Self::Node(c) => c.get(key).await?,
        };
        Ok(value.map(|v| v.to_vec()))
    }
}

/// Keeps the cluster clients' replica routing current.
#[derive(Debug)]
pub(crate) struct ClusterReplicas {
    /// The main pool, whose clients route replica commands.
    pool: Pool,
    /// Wakes the checker early.
    check_now: Arc<Notify>,
}

impl ClusterReplicas {
    /// Starts re-reading the layout in the background.
    pub(crate) fn start(pool: Pool) -> Arc<Self> {
        let cluster = Arc::new(Self {
            pool,
            check_now: Arc::new(Notify::new()),
        });
        tokio::spawn(check_loop(Arc::downgrade(&cluster), CLUSTER_CHECK_INTERVAL));
        cluster
    }
}

impl Check for ClusterReplicas {
    /// Has every client re-read `CLUSTER SLOTS` and reconnect its replicas.
    async fn check(&self) {
        for client in self.pool.clients() {
            if let Err(error) = client.replicas().sync(true).await {
                tracing::debug!(%error, "cannot refresh the cluster's replicas");
            }
        }
    }

    fn check_now(&self) -> Arc<Notify> {
        self.check_now.clone()
    }
}

/// Keeps a pool connected to one in-sync replica of the current master.
pub(crate) struct Follower {
    /// The main pool, always connected to the master.
    master: Pool,
    /// How to connect (credentials, TLS, timeouts).
    conn: ConnectionConfig,
    /// The replica in use, if any.
    current: RwLock<Option<Replica>>,
    /// Wakes the checker early.
    check_now: Arc<Notify>,
}

struct Replica {
    addr: (String, u16),
    pool: Pool,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current_addr();
        f.debug_struct("Follower")
            .field("replica", &current)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// Starts following replicas of `master`'s server in the background. The first
    /// listings may go to the master until the first check found a replica.
    pub(crate) fn start(master: Pool, conn: &ConnectionConfig) -> Arc<Self> {
        let follower = Arc::new(Self {
            master,
            conn: conn.clone(),
            current: RwLock::new(None),
            check_now: Arc::new(Notify::new()),
        });
        tokio::spawn(check_loop(Arc::downgrade(&follower), CHECK_INTERVAL));
        follower
    }

    fn client(&self) -> Option<Client> {
        let current = self.current.read().expect("replica lock");
        current.as_ref().map(|r| r.pool.next().clone())
    }

    fn current_addr(&self) -> Option<(String, u16)> {
        let current = self.current.read().expect("replica lock");
        current.as_ref().map(|r| r.addr.clone())
    }
}

impl Check for Follower {
    /// Asks the master for its in-sync replicas and moves to one if the current replica
    /// is not among them. When the master cannot be asked, nothing changes.
    async fn check(&self) {
        let info: String = match self.master.next().info(Some(InfoKind::Replication)).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(%error, "cannot list replicas; keeping the current choice");
                return;
            }
        };
        let candidates = in_sync_replicas(&info);
        // Nothing changes while the replica in use stays in sync, or while there was
        // none and still is none (so a master without replicas logs nothing every 2 s).
        match self.current_addr() {
            Some(addr) if candidates.contains(&addr) => return,
            None if candidates.is_empty() => return,
            _ => {}
        }
        let mut chosen = None;
        for addr in candidates {
            let target = ServerConfig::Centralized {
                server: server(&self.conn, &addr.0, addr.1),
            };
            match connect_pool(&self.conn, target, POOL_SIZE).await {
                Ok(pool) => {
                    chosen = Some(Replica { addr, pool });
                    break;
                }
                Err(error) => {
                    tracing::warn!(host = %addr.0, port = addr.1, %error, "cannot connect to replica");
                }
            }
        }
        match &chosen {
            Some(replica) => tracing::info!(
                host = %replica.addr.0,
                port = replica.addr.1,
                "listings are read from this replica"
            ),
            None => tracing::info!("no in-sync replica; listings are read from the master"),
        }
        let previous = std::mem::replace(&mut *self.current.write().expect("replica lock"), chosen);
        if let Some(previous) = previous {
            let _ = previous.pool.quit().await;
        }
    }

    fn check_now(&self) -> Arc<Notify> {
        self.check_now.clone()
    }
}

/// A background check of where replica reads go.
trait Check: Send + Sync + 'static {
    fn check(&self) -> impl std::future::Future<Output = ()> + Send;
    /// Notified when a check is due before the interval ends.
    fn check_now(&self) -> Arc<Notify>;
}

/// Checks every `interval` (and when woken) until the checked value is dropped.
async fn check_loop<T: Check>(checked: Weak<T>, interval: Duration) {
    loop {
        let Some(strong) = checked.upgrade() else {
            return;
        };
        strong.check().await;
        let wake = strong.check_now();
        drop(strong);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = wake.notified() => {}
        }
    }
}

/// Replicas the master reports as `online` and acknowledging within
/// [`MAX_LAG_SECONDS`], most advanced first. Empty when the server is not a master.
fn in_sync_replicas(info: &str) -> Vec<(String, u16)> {
    let is_master = info.lines().any(|l| l.trim() == "role:master");
    if !is_master {
        return Vec::new();
    }
    let mut found: Vec<(u64, (String, u16))> = info
        .lines()
        .filter_map(|line| {
            let (name, fields) = line.trim().split_once(':')?;
            let index = name.strip_prefix("slave")?;
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let field = |key: &str| {
                fields
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find_map(|(k, v)| (k == key).then_some(v))
            };
            let online = field("state")? == "online";
            let lag: u64 = field("lag")?.parse().ok()?;
            let offset: u64 = field("offset")?.parse().ok()?;
            let addr = (field("ip")?.to_owned(), field("port")?.parse().ok()?);
            (online && lag <= MAX_LAG_SECONDS).then_some((offset, addr))
        })
        .collect();
    found.sort_by_key(|(offset, _)| std::cmp::Reverse(*offset));
    found.into_iter().map(|(_, addr)| addr).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "# Replication\r\nrole:master\r\nconnected_slaves:3\r\n\
        slave0:ip=10.0.0.2,port=6380,state=online,offset=900,lag=0\r\n\
        slave1:ip=10.0.0.3,port=6381,state=online,offset=1000,lag=1\r\n\
        slave2:ip=10.0.0.4,port=6382,state=wait_bgsave,offset=0,lag=0\r\n\
        master_replid:abc\r\nmaster_repl_offset:1000\r\n";

    #[test]
    fn online_replicas_most_advanced_first() {
        assert_eq!(
            in_sync_replicas(MASTER),
            vec![("10.0.0.3".to_owned(), 6381), ("10.0.0.2".to_owned(), 6380)]
        );
    }

    #[test]
    fn lagging_replicas_are_skipped() {
        let info = "role:master\nslave0:ip=10.0.0.2,port=6380,state=online,offset=5,lag=11\n";
        assert!(in_sync_replicas(info).is_empty());
    }

    #[test]
    fn a_replica_lists_no_replicas() {
        let info = "role:slave\nmaster_host:10.0.0.1\nslave0:ip=10.0.0.2,port=6380,state=online,offset=5,lag=0\n";
        assert!(in_sync_replicas(info).is_empty());
    }

    #[test]
    fn malformed_lines_are_ignored() {
        let info = "role:master\nslave0:ip=10.0.0.2,state=online\nslaves:x\nslave1:garbage\n";
        assert!(in_sync_replicas(info).is_empty());
    }
}
