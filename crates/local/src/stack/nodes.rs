//! Starting, restarting and stopping the processes of a stack, in its own
//! directory and on its fixed ports, each through the parent-death launcher.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use sessiondb_acl::Role;

use super::monitoring::{self, ServiceKind, ServiceSpec};
use super::secrets::StackPasswords;
use super::service::{Service, ServiceCommand};
use super::state::StackDir;
use super::topology::{NodeKind, NodeSpec, StackMode, Topology};
use super::StackError;
use crate::process::LOOPBACK;
use crate::sentinel_server::SentinelConfig;
use crate::{LocalError, RedisOptions, RedisServer, SentinelServer, TlsFiles};

/// First pause before retrying a failed restart; doubles up to
/// [`MAX_RETRY_BACKOFF`].
const FIRST_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Longest pause between two restart attempts of a failing node.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// The guard of one running node.
#[derive(Debug)]
enum Guard {
    Redis(RedisServer),
    Sentinel(SentinelServer),
}

impl Guard {
    fn pid(&self) -> Option<u32> {
        match self {
            Self::Redis(s) => s.pid(),
            Self::Sentinel(s) => s.pid(),
        }
    }

    fn is_running(&mut self) -> bool {
        match self {
            Self::Redis(s) => s.is_running(),
            Self::Sentinel(s) => s.is_running(),
        }
    }

    fn restart(&mut self, fast_timers: bool) -> Result<(), LocalError> {
        match self {
            Self::Redis(s) => s.restart(),
            Self::Sentinel(s) => {
                s.restart()?;
                if fast_timers {
                    s.speed_up_timers()?;
                }
                Ok(())
            }
        }
    }

    fn stop(&mut self) -> Result<(), LocalError> {
        match self {
            Self::Redis(s) => s.stop(),
            Self::Sentinel(s) => s.stop(),
        }
    }
}

/// One supervised node: its spec, guard and restart backoff.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) spec: NodeSpec,
    guard: Guard,
    /// When a failed restart may be tried again, and the current backoff.
    retry: Option<(Instant, Duration)>,
}

/// What happened when a dead node was handled.
#[derive(Debug)]
pub(crate) enum Revival {
    /// It exited and was started again with a new pid.
    Restarted { pid: Option<u32> },
    /// It exited (or is still down) and starting it failed.
    Failed {
        error: LocalError,
        retry_in: Duration,
    },
}

/// Everything needed to start the nodes of one stack.
#[derive(Debug)]
pub(crate) struct Launch<'a> {
    pub(crate) dir: &'a StackDir,
    pub(crate) topology: &'a Topology,
    pub(crate) passwords: &'a StackPasswords,
    /// The parent-death launcher prefix.
    pub(crate) launcher: &'a [OsString],
    /// The certificates, when the stack runs on TLS only.
    pub(crate) tls: Option<&'a TlsFiles>,
}

impl Launch<'_> {
    /// Starts data node `spec`, as master when it is `master`, otherwise as
    /// its replica; waits until it answers PING.
    pub(crate) fn start_redis(
        &self,
        spec: &NodeSpec,
        master: &NodeSpec,
    ) -> Result<Node, StackError> {
        let ha = self.topology.mode == StackMode::Ha;
        let mut extra_args = Vec::new();
        if ha {
            for arg in [
                "--min-replicas-to-write",
                "1",
                "--min-replicas-max-lag",
                "10",
            ] {
                extra_args.push(arg.to_owned());
            }
        }
        let options = RedisOptions {
            password: Some(self.passwords.admin.clone()),
            appendonly: true,
            replica_of: (ha && spec.name != master.name)
                .then(|| (LOOPBACK.to_owned(), master.port)),
            extra_args,
            dir: Some(self.dir.node_dir(&spec.name)),
            port: Some(spec.port),
            launcher: self.launcher.to_vec(),
            acl_file: Some(self.dir.acl_file()),
            master_user: Some((
                Role::Sentinel.user().to_owned(),
                self.passwords.sentinel.clone(),
            )),
            tls: self.tls.cloned(),
            ..RedisOptions::default()
        };
        let server = RedisServer::start(options)?;
        Ok(Node::new(spec, Guard::Redis(server)))
    }

    /// Starts sentinel `spec` monitoring `master`; waits until it answers.
    pub(crate) fn start_sentinel(
        &self,
        spec: &NodeSpec,
        master: &NodeSpec,
    ) -> Result<Node, StackError> {
        let config = SentinelConfig {
            service_name: &self.topology.service_name,
            master: (LOOPBACK, master.port),
            quorum: self.topology.quorum,
            down_after_ms: self.topology.down_after_ms,
            failover_timeout_ms: self.topology.failover_timeout_ms,
            data_user: Some(Role::Sentinel.user()),
            data_password: Some(&self.passwords.sentinel),
            sentinel_password: Some(&self.passwords.sentinel),
            launcher: self.launcher,
            dir: Some(self.dir.node_dir(&spec.name)),
            port: Some(spec.port),
            tls: self.tls,
        };
        let sentinel = SentinelServer::start(&config)?;
        if self.topology.fast_timers {
            sentinel.speed_up_timers()?;
        }
        Ok(Node::new(spec, Guard::Sentinel(sentinel)))
    }
}

impl Launch<'_> {
    /// Starts monitoring process `service` of `spec`; waits until it
    /// answers over HTTP. The exporter of a data node gets its credentials
    /// through the environment, never on its command line.
    pub(crate) fn start_service(&self, service: ServiceSpec) -> Result<Service, StackError> {
        let binary = crate::monitoring_binary(service.binary())?;
        let args = monitoring::service_args(self.dir, self.topology, &service)?;
        let mut secret_env = Vec::new();
        let mut env = Vec::new();
        if service.kind == ServiceKind::Exporter {
            let node = service.node.as_deref().and_then(|n| self.topology.node(n));
            if let Some((user, password)) =
                node.and_then(|n| monitoring::exporter_credentials(n, self.passwords))
            {
                secret_env.push(("REDIS_PASSWORD", password.clone()));
                if let Some(user) = user {
                    env.push(("REDIS_USER", user.to_owned()));
                }
            }
        }
        let command = ServiceCommand {
            binary,
            args,
            secret_env,
            env,
            dir: monitoring::service_dir(self.dir, &service),
            log: monitoring::service_log(self.dir, &service),
            launcher: self.launcher.to_vec(),
        };
        Service::start(service, command)
    }
}

impl Node {
    fn new(spec: &NodeSpec, guard: Guard) -> Self {
        Self {
            spec: spec.clone(),
            guard,
            retry: None,
        }
    }

    /// The pid of the process last started.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.guard.pid()
    }

    /// Restarts the node when its process has died (not before its retry
    /// time after a failed attempt). `None` when it is running or waiting
    /// for its next attempt.
    pub(crate) fn revive(&mut self, fast_timers: bool) -> Option<Revival> {
        if self.guard.is_running() {
            self.retry = None;
            return None;
        }
        let now = Instant::now();
        if self.retry.is_some_and(|(at, _)| now < at) {
            return None;
        }
        match self.guard.restart(fast_timers) {
            Ok(()) => {
                self.retry = None;
                Some(Revival::Restarted { pid: self.pid() })
            }
            Err(error) => {
                let backoff = self
                    .retry
                    .map_or(FIRST_RETRY_BACKOFF, |(_, b)| (b * 2).min(MAX_RETRY_BACKOFF));
                self.retry = Some((Instant::now() + backoff, backoff));
                Some(Revival::Failed {
                    error,
                    retry_in: backoff,
                })
            }
        }
    }

    /// Graceful stop (SHUTDOWN, then SIGKILL after a deadline).
    pub(crate) fn stop(&mut self) -> Result<(), LocalError> {
        self.guard.stop()
    }
}

/// The pids of `nodes` by name.
pub(crate) fn pids(nodes: &[Node]) -> BTreeMap<String, u32> {
    nodes
        .iter()
        .filter_map(|n| Some((n.spec.name.clone(), n.pid()?)))
        .collect()
}

/// The order to stop nodes in: sentinels first (so they do not start a
/// failover while data nodes go away), then the replicas, the master last
/// (its SHUTDOWN then has no replicas to wait for).
pub(crate) fn stop_order(nodes: &[Node], master: &str) -> Vec<usize> {
    let rank = |n: &Node| match n.spec.kind {
        NodeKind::Sentinel => 0,
        NodeKind::Redis if n.spec.name != master => 1,
        NodeKind::Redis => 2,
    };
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| rank(&nodes[i]));
    order
}
