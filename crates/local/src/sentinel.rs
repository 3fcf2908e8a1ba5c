//! A Sentinel-managed replication group: [`SentinelOptions`] and the
//! [`SentinelTopology`] guard (one master, its replicas and the sentinels
//! watching them).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::poll::poll_until;
use crate::process::LOOPBACK;
use crate::sentinel_group::SentinelGroup;
use crate::sentinel_server::SentinelConfig;
use crate::{LocalError, RedisOptions, RedisServer, SentinelServer, TlsClient, TlsFiles};

/// How long a fresh topology gets to become fully connected.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Lower bound for waiting on a forced failover. Sentinel refuses or aborts one while it
/// considers no replica suitable (no fresh `INFO` from them yet, e.g. right after a
/// previous failover), and the request is then repeated; on a loaded machine that took
/// more than 30 s.
pub(crate) const MIN_FAILOVER_WAIT: Duration = Duration::from_secs(60);

/// How to start a [`SentinelTopology`].
#[derive(Debug, Clone)]
pub struct SentinelOptions {
    /// Number of replicas next to the master (default 2).
    pub replicas: usize,
    /// Number of sentinels (default 3).
    pub sentinels: usize,
    /// Sentinels that must agree the master is down (default 2).
    pub quorum: usize,
    /// `down-after-milliseconds` (default 5000).
    pub down_after_ms: u64,
    /// `failover-timeout` (default 30000).
    pub failover_timeout_ms: u64,
    /// The monitored master's name (default `sessiondb`).
    pub service_name: String,
    /// Password of the data nodes (`requirepass`/`masterauth`; sentinels
    /// get it as `auth-pass`).
    pub password: Option<SecretString>,
    /// Password of the sentinels themselves (`requirepass` on sentinels).
    pub sentinel_password: Option<SecretString>,
    /// Append-only file on every data node.
    pub appendonly: bool,
    /// `min-replicas-to-write` on every data node (with
    /// `min-replicas-max-lag 10`).
    pub min_replicas_to_write: Option<u32>,
    /// Shortens Sentinel's internal timers with `SENTINEL DEBUG`
    /// (`info-period` 1000 ms instead of 10 s, `publish-period` 500 ms
    /// instead of 2 s) so sentinels discover each other, notice role changes
    /// and demote a returning old master within a few seconds instead of
    /// 10-20 s. Meant for tests (default `false`); needs Redis 7.0+.
    pub fast_timers: bool,
    /// A command prefix every data node and sentinel is run through (see
    /// [`RedisOptions::launcher`]); empty (the default) runs them directly.
    pub launcher: Vec<OsString>,
    /// Runs every data node and sentinel on TLS only, with these certificates (see
    /// [`RedisOptions::tls`]); `None` (the default): plain TCP.
    pub tls: Option<TlsFiles>,
    /// ACL users on the data nodes (see [`TopologyAcl`]); `None` (the default): the
    /// default user only.
    pub acl: Option<TopologyAcl>,
}

/// ACL users on the data nodes of a [`SentinelTopology`], as a production deployment
/// has them: every data node loads `file`; replicas (`masteruser`) and sentinels
/// (`sentinel auth-user`) log in as `replication_user` instead of the default user.
#[derive(Debug, Clone)]
pub struct TopologyAcl {
    /// The `aclfile`. It must keep the `default` user with
    /// [`SentinelOptions::password`], which the fixture's own probes use.
    pub file: PathBuf,
    /// The user replicas and sentinels log in to the data nodes as.
    pub replication_user: String,
    /// Its password.
    pub replication_password: SecretString,
}

impl Default for SentinelOptions {
    fn default() -> Self {
        Self {
            replicas: 2,
            sentinels: 3,
            quorum: 2,
            down_after_ms: 5000,
            failover_timeout_ms: 30_000,
            service_name: "sessiondb".to_owned(),
            password: None,
            sentinel_password: None,
            appendonly: false,
            min_replicas_to_write: None,
            fast_timers: false,
            launcher: Vec::new(),
            tls: None,
            acl: None,
        }
    }
}

/// A master, its replicas and the sentinels monitoring them, all on
/// 127.0.0.1. Dropping it kills and reaps every process.
#[derive(Debug)]
pub struct SentinelTopology {
    /// Declared first so sentinels go away before the nodes they watch.
    sentinels: Vec<SentinelServer>,
    data: Vec<RedisServer>,
    service_name: String,
    quorum: usize,
    password: Option<SecretString>,
    sentinel_password: Option<SecretString>,
    tls: Option<TlsClient>,
    failover_wait: Duration,
}

impl SentinelTopology {
    /// Starts the master, the replicas and the sentinels, and waits until
    /// the master reports all replicas online and every sentinel sees the
    /// master (flags `master`), all replicas and all other sentinels.
    pub fn start(opts: SentinelOptions) -> Result<Self, LocalError> {
        validate(&opts)?;
        let mut extra_args = Vec::new();
        if let Some(min) = opts.min_replicas_to_write {
            extra_args.extend(["--min-replicas-to-write".to_owned(), min.to_string()]);
            extra_args.extend(["--min-replicas-max-lag".to_owned(), "10".to_owned()]);
        }
        let node_options = |replica_of| RedisOptions {
            password: opts.password.clone(),
            appendonly: opts.appendonly,
            replica_of,
            extra_args: extra_args.clone(),
            launcher: opts.launcher.clone(),
            tls: opts.tls.clone(),
            acl_file: opts.acl.as_ref().map(|acl| acl.file.clone()),
            master_user: opts.acl.as_ref().map(|acl| {
                (
                    acl.replication_user.clone(),
                    acl.replication_password.clone(),
                )
            }),
            ..RedisOptions::default()
        };
        let master = RedisServer::start(node_options(None))?;
        let master_port = master.port();
        let mut data = vec![master];
        for _ in 0..opts.replicas {
            data.push(RedisServer::start(node_options(Some((
                LOOPBACK.to_owned(),
                master_port,
            ))))?);
        }
        let config = SentinelConfig {
            service_name: &opts.service_name,
            master: (LOOPBACK, master_port),
            quorum: opts.quorum,
            down_after_ms: opts.down_after_ms,
            failover_timeout_ms: opts.failover_timeout_ms,
            data_password: match &opts.acl {
                Some(acl) => Some(&acl.replication_password),
                None => opts.password.as_ref(),
            },
            data_user: opts.acl.as_ref().map(|acl| acl.replication_user.as_str()),
            sentinel_password: opts.sentinel_password.as_ref(),
            launcher: &opts.launcher,
            dir: None,
            port: None,
            tls: opts.tls.as_ref(),
        };
        let sentinels = (0..opts.sentinels)
            .map(|_| {
                let sentinel = SentinelServer::start(&config)?;
                if opts.fast_timers {
                    sentinel.speed_up_timers()?;
                }
                Ok(sentinel)
            })
            .collect::<Result<_, LocalError>>()?;
        let topology = Self {
            sentinels,
            data,
            service_name: opts.service_name,
            quorum: opts.quorum,
            password: opts.password,
            sentinel_password: opts.sentinel_password,
            tls: opts.tls.as_ref().map(TlsFiles::client).transpose()?,
            failover_wait: Duration::from_millis(opts.failover_timeout_ms).max(MIN_FAILOVER_WAIT),
        };
        let what = format!("sentinel topology {} to be ready", topology.service_name);
        let ports = topology.sentinel_ports();
        let group = topology.group(&ports);
        poll_until(&what, READY_TIMEOUT, || {
            group.check_ready(master_port, opts.replicas)
        })?;
        Ok(topology)
    }

    /// The name the sentinels know the master by.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The password of the data nodes, if any.
    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// The password of the sentinels, if any.
    pub fn sentinel_password(&self) -> Option<&SecretString> {
        self.sentinel_password.as_ref()
    }

    /// How clients reach the nodes and sentinels, when they speak TLS only.
    pub fn tls(&self) -> Option<&TlsClient> {
        self.tls.as_ref()
    }

    /// `(host, port)` of every sentinel, in start order.
    pub fn sentinel_addrs(&self) -> Vec<(String, u16)> {
        self.sentinels.iter().map(SentinelServer::addr).collect()
    }

    /// The master according to the sentinels
    /// (`SENTINEL GET-MASTER-ADDR-BY-NAME`): the first sentinel that answers.
    pub fn current_master(&self) -> Result<(String, u16), LocalError> {
        let ports = self.sentinel_ports();
        self.group(&ports).current_master()
    }

    /// The data nodes: the master first at start, then the replicas. Roles
    /// change with failovers; use [`node_by_port`](Self::node_by_port) or
    /// [`master`](Self::master) to find a node by role.
    pub fn data_nodes(&mut self) -> &mut [RedisServer] {
        &mut self.data
    }

    /// The data node listening on `port`.
    pub fn node_by_port(&mut self, port: u16) -> Option<&mut RedisServer> {
        self.data.iter_mut().find(|node| node.port() == port)
    }

    /// The data node the sentinels currently report as master.
    pub fn master(&mut self) -> Result<&mut RedisServer, LocalError> {
        let (host, port) = self.current_master()?;
        self.node_by_port(port).ok_or_else(|| LocalError::Protocol {
            target: "sentinels".to_owned(),
            command: "SENTINEL GET-MASTER-ADDR-BY-NAME".to_owned(),
            message: format!("reported master {host}:{port} is not one of our nodes"),
        })
    }

    /// The sentinels, in start order.
    pub fn sentinels(&mut self) -> &mut [SentinelServer] {
        &mut self.sentinels
    }

    /// Forces a failover (`SENTINEL FAILOVER`, retried while the sentinels
    /// have no suitable replica yet) and waits until the sentinels agree on
    /// a new master that reports `ROLE` master. Returns the new master.
    pub fn failover(&self) -> Result<(String, u16), LocalError> {
        let ports = self.sentinel_ports();
        let group = self.group(&ports);
        let old = group.current_master()?;
        group.failover(&old, self.failover_wait, self.quorum)
    }

    /// Waits up to `deadline` until the sentinels report a master other
    /// than `old` and that node says `ROLE` master.
    ///
    /// Every reachable sentinel must report the same new address, and at
    /// least a quorum of sentinels must answer (sentinels that were killed
    /// are ignored).
    pub fn wait_for_master_change(
        &self,
        old: (String, u16),
        deadline: Duration,
    ) -> Result<(String, u16), LocalError> {
        let ports = self.sentinel_ports();
        self.group(&ports)
            .wait_for_master_change(old, deadline, self.quorum)
    }

    fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(SentinelServer::port).collect()
    }

    fn group<'a>(&'a self, sentinel_ports: &'a [u16]) -> SentinelGroup<'a> {
        SentinelGroup {
            service_name: &self.service_name,
            sentinel_ports,
            password: self.password.as_ref(),
            sentinel_password: self.sentinel_password.as_ref(),
            tls: self.tls.as_ref(),
        }
    }
}

fn validate(opts: &SentinelOptions) -> Result<(), LocalError> {
    let invalid = |m: &str| Err(LocalError::InvalidOptions(m.to_owned()));
    let name_ok = !opts.service_name.is_empty()
        && opts
            .service_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return invalid("service_name must be non-empty ASCII letters, digits, '-', '_' or '.'");
    }
    if opts.sentinels == 0 {
        return invalid("at least one sentinel is needed");
    }
    if opts.quorum == 0 || opts.quorum > opts.sentinels {
        return invalid("quorum must be between 1 and the number of sentinels");
    }
    Ok(())
}
