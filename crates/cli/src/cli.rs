//! Command-line arguments. Parsed once here; everything else takes [`Settings`]
//! (loaded from these arguments, the environment and the config file).
//!
//! [`Settings`]: sessiondb_settings::Settings

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::local::DEFAULT_STACK_DIR;

/// sessiondb: a session database for microservices, on Redis.
#[derive(Debug, Parser)]
#[command(name = "sessiondb", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// TOML configuration file (also `SESSIONDB_CONFIG`).
    #[arg(long, global = true, env = "SESSIONDB_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Override one setting, e.g. `--set session.max_per_user=10` (repeatable; beats
    /// the file and the environment).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// Print machine-readable JSON instead of human output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP API (and, with no Redis configured, an embedded redis-server).
    Serve(ServeArgs),
    /// Run one cleanup pass (for a CronJob) and print its summary.
    Cleanup(CleanupArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Run a local Redis stack (standalone or HA with Sentinel) for development.
    Local(crate::commands::local::LocalArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address of the public API listener (shortcut for `--set server.listen=…`).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// Address of the admin listener (shortcut for `--set server.admin_listen=…`).
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin_listen: Option<String>,
    /// Use the stack of `sessiondb local up`: the Redis connection comes from its
    /// local.env, not from the environment (`--set` still wins).
    #[arg(long)]
    pub(crate) local: bool,
    /// The stack's directory, as `sessiondb local --dir`.
    #[arg(
        long,
        value_name = "DIR",
        default_value = DEFAULT_STACK_DIR,
        requires = "local"
    )]
    pub(crate) local_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CleanupArgs {
    /// Run even if another instance holds the cleanup lease.
    #[arg(long)]
    pub(crate) ignore_lease: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApikeyCommand {
    /// Print a new API key (once) and the hash to put in the configuration.
    New(ApikeyNewArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ApikeyNewArgs {
    /// A label for the key (the calling service's name).
    #[arg(long, default_value = "default")]
    pub(crate) name: String,
    /// Scopes to grant (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sessions:read,sessions:write"
    )]
    pub(crate) scopes: Vec<String>,
}
