//! Operations logic of sessiondb: `health`, `status`, `stats`, `backup`, `restore`,
//! point-in-time recovery and `redis-cli` access, on standalone, Sentinel and Cluster
//! deployments alike.
//!
//! The command line stays thin: each operation is one function taking the connection
//! (with the credentials of the Redis role meant for the job: `monitor` for
//! health/status/stats, `backup` for backup, `admin` for restore), the key prefix and
//! typed options, and returning a typed report. Every report implements
//! [`serde::Serialize`] (for `--json`) and [`std::fmt::Display`] (for people), and says
//! which exit status it stands for ([`ExitStatus`]: 0 ok, 1 a check failed, 2 could not
//! run). Operations that cannot run at all return [`OpsError`] (exit status 2).
//!
//! See `docs/operations.md` for the commands, their output and their cost, and
//! `docs/operations/backup-and-recovery.md` for the backup file format and runbooks.
//!
//! # Layout
//!
//! | module | file | contents |
//! |---|---|---|
//! | [`health`](mod@health) | `health/` | [`health()`](health::health): gathering answers within a timeout (`mod.rs`), one verdict per check (`checks.rs`) |
//! | [`status`](mod@status) | `status/` | [`status()`](status::status): topology, Sentinel view, Cluster shards, sessiondb figures (`mod.rs`), the text tables (`display.rs`) |
//! | [`stats`](mod@stats) | `stats.rs` | [`stats()`](stats::stats): sessions, users, per-user distribution, event rates, top users |
//! | [`backup`](mod@backup) | `backup/` | [`backup()`](backup::backup): the file format and writer (`format.rs`), reading and verifying (`read.rs`), the consistent export (`export.rs`) |
//! | [`restore`](mod@restore) | `restore.rs` | [`restore()`](restore::restore): verification, re-application, recount |
//! | [`pitr`](mod@pitr) | `pitr/` | [`pitr()`](pitr::pitr): AOF copy, truncation, temporary server, backup of that state; reading manifests and timestamp annotations (`aof.rs`) |
//! | [`redis_cli`](mod@redis_cli) | `redis_cli.rs` | [`redis_cli_command()`](redis_cli::redis_cli_command): `redis-cli` argv and environment |
//! | `scripts` | `scripts.rs`, `scripts/*.lua` | the Lua scripts (stats, backup, restore), each headed by KEYS, ARGV, return value, invariant |
//! | `keyspace` | `keyspace.rs` | what a key under the prefix is, from its name |
//! | `topology` | `topology.rs` | finding nodes, asking data nodes, Sentinels and Cluster nodes |
//! | [`figures`](mod@figures) | `figures.rs` | sessiondb's own figures (live sessions, users, last cleanup and backup) |
//! | `info` | `info.rs` | parsing `INFO` |
//! | `human` | `human.rs` | sizes, instants, tables for the text output |
//! | [`outcome`](mod@outcome) | `outcome.rs` | [`ExitStatus`], [`CheckStatus`] |
//! | [`error`](mod@error) | `error.rs` | [`OpsError`] |

#![deny(missing_docs)]

pub mod backup;
pub mod error;
pub mod figures;
pub mod health;
pub mod outcome;
pub mod pitr;
pub mod redis_cli;
pub mod restore;
pub mod stats;
pub mod status;

mod human;
mod info;
mod keyspace;
mod scripts;
mod topology;

pub use backup::{backup, BackupFile, BackupHeader, BackupOptions, BackupReport, ReadFrom};
pub use error::OpsError;
pub use figures::SessionFigures;
pub use health::{health, Check, HealthOptions, HealthReport};
pub use outcome::{CheckStatus, ExitStatus};
pub use pitr::{pitr, PitrOptions, PitrReport};
pub use redis_cli::{redis_cli_command, RedisCliCommand};
pub use restore::{restore, RestoreOptions, RestoreReport};
pub use stats::{stats, StatsOptions, StatsReport};
pub use status::{status, StatusReport};
