//! Starts and supervises real `redis-server` and `redis-sentinel` processes
//! on 127.0.0.1.
//!
//! This is the test fixture of the engine's tests and the engine behind
//! `sessiondb local up` / `--ha`. Everything is synchronous (`std::process`,
//! `std::net`), so it works from a plain `fn main()` harness as well as from
//! async tests.
//!
//! Three shapes are provided, each as an RAII guard that kills and reaps its
//! processes when dropped (also while a panicking test unwinds) and removes
//! the temporary directories it created:
//!
//! - [`RedisServer`]: one standalone server (optionally a replica, a cluster
//!   node, password-protected or with an append-only file).
//! - [`SentinelTopology`]: a master, replicas and sentinels, with forced
//!   [`failover`](SentinelTopology::failover).
//! - [`RedisCluster`]: a Redis Cluster of masters, optionally with replicas and
//!   ACL users ([`ClusterOptions`]).
//!
//! The [`stack`] module builds a persistent stack on top of these guards:
//! one directory with state, passwords, data and logs, run by a detached
//! supervisor process (`sessiondb local up`).
//!
//! Readiness is always established by polling with a deadline, never by
//! sleeping. Ports are picked automatically ([`free_port`]) and a start is
//! retried on a new port if the chosen one is taken before the server binds
//! it. Passwords are kept in [`secrecy::SecretString`], written only to
//! owner-readable config files and handed to `redis-cli` through
//! `REDISCLI_AUTH`; they never appear on command lines, in `Debug` output or
//! in errors.
//!
//! ```no_run
//! use sessiondb_local::{RedisOptions, RedisServer};
//!
//! let server = RedisServer::start(RedisOptions::default())?;
//! assert_eq!(server.cli(&["PING"])?, "PONG");
//! # Ok::<(), sessiondb_local::LocalError>(())
//! ```
//!
//! # Layout
//!
//! | Module                 | File                        | Contents |
//! |------------------------|-----------------------------|----------|
//! | `server`               | `src/server.rs`             | [`RedisOptions`], [`RedisServer`] |
//! | `sentinel`             | `src/sentinel.rs`           | [`SentinelOptions`], [`SentinelTopology`] |
//! | `sentinel_server`      | `src/sentinel_server.rs`    | [`SentinelServer`] (one sentinel process) |
//! | `sentinel_group`       | `src/sentinel_group.rs`     | readiness, current master and failover of sentinels known by port |
//! | `cluster`              | `src/cluster.rs`            | [`ClusterOptions`], [`RedisCluster`] |
//! | `process`              | `src/process.rs`            | spawning, readiness, stop/kill/reap, log tails |
//! | `cli`                  | `src/cli.rs`                | running `redis-cli` (password via `REDISCLI_AUTH`) |
//! | `conf`                 | `src/conf.rs`               | writing quoted `redis.conf`/`sentinel.conf` files (mode 0600) |
//! | [`resp`]               | `src/resp.rs`               | minimal blocking RESP2 client for probes (also used by the drills) |
//! | `poll`                 | `src/poll.rs`               | poll-until-deadline helper |
//! | `ports`                | `src/ports.rs`              | [`free_port`], [`free_cluster_port`] |
//! | `binaries`             | `src/binaries.rs`           | [`redis_server_binary`], [`redis_cli_binary`], [`monitoring_binary`], [`parent_death_launcher`] |
//! | `error`                | `src/error.rs`              | [`LocalError`] |
//! | `tls`                  | `src/tls.rs`                | [`TlsFiles`]: a throw-away CA, server and client certificate; [`TlsClient`] |
//! | [`stack`]              | `src/stack/`                | a persistent stack in a directory, run by a supervisor (`sessiondb local`) |

mod binaries;
mod cli;
mod cluster;
mod conf;
mod error;
mod poll;
mod ports;
mod private_dir;
mod process;
pub mod resp;
mod sentinel;
mod sentinel_group;
mod sentinel_server;
mod server;
pub mod stack;
pub mod testkit;
mod tls;

pub use binaries::{
    monitoring_binary, parent_death_launcher, redis_cli_binary, redis_server_binary,
};
pub use cluster::{ClusterOptions, RedisCluster};
pub use error::LocalError;
pub use ports::{free_cluster_port, free_port};
pub use private_dir::{check_private_dir, ensure_private_dir};
pub use sentinel::{SentinelOptions, SentinelTopology, TopologyAcl};
pub use sentinel_server::SentinelServer;
pub use server::{RedisOptions, RedisServer};
pub use tls::{TlsClient, TlsFiles};

/// Re-exported so callers can build passwords without depending on
/// `secrecy` themselves.
pub use secrecy::SecretString;

#[cfg(test)]
mod tests {
    /// The guards can be moved to and shared with other threads (tokio
    /// tests, a harness holding one topology for many tests).
    #[test]
    fn guards_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<crate::RedisServer>();
        assert_send_sync::<crate::SentinelServer>();
        assert_send_sync::<crate::SentinelTopology>();
        assert_send_sync::<crate::RedisCluster>();
        assert_send_sync::<crate::LocalError>();
    }
}
