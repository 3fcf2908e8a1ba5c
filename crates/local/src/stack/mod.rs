//! A persistent local stack: the engine behind `sessiondb local …`.
//!
//! Unlike the test fixtures ([`crate::RedisServer`],
//! [`crate::SentinelTopology`]), whose processes live as long as a guard in
//! the calling process, a stack lives in a directory and outlives the
//! command that started it:
//!
//! - `up` plans a [`Topology`] (fixed ports), writes the state file and
//!   `local.env` (the six role passwords and the `sessiondb serve`
//!   settings), and launches a detached supervisor process;
//! - the supervisor ([`supervise`]) owns the Redis processes through the
//!   crate's guards, launched with [`crate::parent_death_launcher`] so they
//!   die with it, restarts any that exits, records pids, phase and current
//!   master in the state file, and stops everything gracefully on request;
//!   with `--monitoring` ([`MonitoringSpec`]) it also runs one exporter per
//!   node, Prometheus and Alertmanager the same way;
//! - the other commands read the state file: [`collect_status`],
//!   [`stop`], [`failover`], [`kill_leftovers`], [`purge`].
//!
//! See `docs/local-stack.md` for the user's view.
//!
//! # Layout
//!
//! | File                     | Contents |
//! |--------------------------|----------|
//! | `stack/topology.rs`      | [`Topology`], [`NodeSpec`], [`StackMode`]: nodes and fixed ports |
//! | `stack/state.rs`         | [`StackDir`] (paths), [`StackState`] (`state.json`), [`Phase`] |
//! | `stack/secrets.rs`       | [`StackPasswords`], `local.env` writing and parsing |
//! | `stack/nodes.rs`         | starting, restarting and stopping one node of a stack |
//! | `stack/monitoring.rs`    | [`MonitoringSpec`]: exporters, Prometheus, Alertmanager; their configs |
//! | `stack/service.rs`       | running one monitoring process (HTTP readiness, restart, stop) |
//! | `stack/supervisor.rs`    | [`supervise`], [`SupervisorEvent`] |
//! | `stack/control.rs`       | [`wait_running`], [`stop`], [`kill_leftovers`], [`failover`], [`purge`] |
//! | `stack/status.rs`        | [`collect_status`], [`StackStatus`] |
//! | `stack/procfs.rs`        | pid liveness and identity via `/proc`, signals via `kill` |
//! | `stack/error.rs`         | [`StackError`] |

mod control;
mod error;
mod monitoring;
mod nodes;
pub mod procfs;
mod secrets;
mod service;
mod state;
mod status;
mod supervisor;
mod topology;

pub use control::{
    failover, kill_leftovers, purge, stop, wait_gone, wait_running, FailoverOutcome, PurgeOutcome,
    StopOutcome,
};
pub use error::StackError;
pub use monitoring::{
    alertmanager_config, prometheus_config, service_log, ExporterSpec, MonitoringOptions,
    MonitoringSpec, ServiceKind, ServiceSpec, ALERTMANAGER_BINARY, EXPORTER_BINARY, JOB_REDIS,
    JOB_SENTINEL, JOB_SESSIONDB, PROMETHEUS_BINARY,
};
pub use secrets::{
    parse_env_file, write_acl_file, write_env_file, StackPasswords, PASSWORD_VARIABLES,
    STACK_KEY_PREFIX,
};
pub use state::{Phase, StackDir, StackState, SupervisorState, DEFAULT_STACK_DIR};
pub use status::{
    collect_status, NodeStatus, Role, SentinelView, ServiceStatus, StackStatus, SupervisorStatus,
};
pub use supervisor::{supervise, SupervisorEvent};
pub use topology::{NodeKind, NodeSpec, StackMode, Topology, TopologyOptions};
