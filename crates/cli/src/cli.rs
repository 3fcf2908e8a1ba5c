//! Command-line arguments shared by every subcommand. Each subcommand's own arguments
//! live beside its code (`commands/<name>`); everything else takes [`Settings`], loaded
//! once from these arguments, the environment and the config file.
//!
//! [`Settings`]: sessiondb_settings::Settings

use std::path::PathBuf;

use clap::{Args, Parser};
use sessiondb_local::stack::DEFAULT_STACK_DIR;

use crate::commands::Command;

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
#[derive(Debug, Clone, Args)]
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

/// Where a command that talks to Redis finds it: the settings (file, environment,
/// `--set`), or with `--local` the stack of `sessiondb local up`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
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

impl ConnectArgs {
    /// The settings alone (file, environment, `--set`), for a command that reads no
    /// stack.
    pub(crate) fn settings_only() -> Self {
        Self {
            local: false,
            local_dir: PathBuf::from(DEFAULT_STACK_DIR),
        }
    }
}
