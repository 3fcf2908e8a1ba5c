//! One module per subcommand, each owning its arguments and a `run(&Ctx, Args)`.

pub(crate) mod acl;
pub(crate) mod apikey;
pub(crate) mod cleanup;
pub(crate) mod config;
pub(crate) mod local;
pub(crate) mod serve;

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
        Command::Acl(command) => acl::run(ctx, &command),
    }
}
