//! One module per subcommand, each owning its arguments and a `run(&Ctx, Args)`.

pub(crate) mod acl;
pub(crate) mod apikey;
pub(crate) mod backup;
pub(crate) mod cleanup;
pub(crate) mod config;
pub(crate) mod health;
pub(crate) mod local;
pub(crate) mod pitr;
pub(crate) mod redis_cli;
pub(crate) mod restore;
pub(crate) mod serve;
pub(crate) mod stats;
pub(crate) mod status;

use std::process::ExitCode;

use clap::Subcommand;

use crate::ctx::Ctx;

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP API (and, with no Redis configured, an embedded redis-server).
    Serve(serve::Args),
    /// Run one cleanup pass (for a CronJob) and print its summary.
    Cleanup(cleanup::Args),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(apikey::Command),
    /// Check a settings file without connecting.
    #[command(subcommand)]
    Config(config::Command),
    /// Check the deployment: one line per check; exit 0 ok, 1 a check failed, 2 could
    /// not run (a probe).
    Health(health::Args),
    /// Show the topology, the Sentinel view, Cluster shards and sessiondb's figures.
    Status(status::Args),
    /// Show live sessions, the per-user distribution, event rates and top users.
    Stats(stats::Args),
    /// Export every sessiondb key with its remaining TTL into one compressed file.
    Backup(backup::Args),
    /// Re-apply a backup file (verified first; newer data kept unless --force).
    Restore(restore::Args),
    /// Point-in-time recovery: a backup file of the data as of a time, from the AOF.
    Pitr(pitr::Args),
    /// Run redis-cli against the current master (password through the environment).
    RedisCli(redis_cli::Args),
    /// Run a local Redis stack (standalone or HA with Sentinel) for development.
    Local(local::LocalArgs),
    /// Redis ACL users of the six roles: write users.acl, verify a live server.
    #[command(subcommand)]
    Acl(acl::Command),
}

/// Runs `command`.
pub(crate) fn run(ctx: &Ctx, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(ctx, &args),
        Command::Cleanup(args) => cleanup::run(ctx, &args),
        Command::Apikey(command) => apikey::run(ctx, &command),
        Command::Config(command) => config::run(ctx, &command),
        Command::Local(args) => local::run(ctx, &args),
        Command::Health(args) => health::run(ctx, &args),
        Command::Status(args) => status::run(ctx, &args),
        Command::Stats(args) => stats::run(ctx, &args),
        Command::Backup(args) => backup::run(ctx, &args),
        Command::Restore(args) => restore::run(ctx, &args),
        Command::Pitr(args) => pitr::run(ctx, &args),
        Command::RedisCli(args) => redis_cli::run(ctx, &args),
        Command::Acl(command) => acl::run(ctx, &command),
    }
}
