//! `sessiondb local …`: a local Redis stack (standalone, or `--ha`: master,
//! two replicas, three sentinels) on 127.0.0.1, run by a detached
//! supervisor process. The logic lives in `sessiondb_local::stack`; this
//! module parses arguments, launches the supervisor and prints results.
//!
//! - `lifecycle`: `up`, `start`, `stop`, `down` (and launching the supervisor);
//! - `report`: `status`, `failover`, `logs`;
//! - `supervise`: the hidden `supervise` command the supervisor process runs.
//!
//! Exit codes: 0 ok, 1 unhealthy (`status`), 2 usage or runtime error.

/// `println!` that never panics: output goes through [`crate::ctx::emit`], so a
/// closed pipe (`sessiondb local status | head -1`) or a full disk under the
/// supervisor's log does not abort the command.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::ctx::emit(&format!("{}\n", format_args!($($arg)*)))
    };
}

mod lifecycle;
mod report;
mod supervise;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sessiondb_local::stack::{StackDir, DEFAULT_STACK_DIR};

use crate::ctx::Ctx;

/// Arguments of `sessiondb local`.
#[derive(Debug, Args)]
pub(crate) struct LocalArgs {
    /// Directory of the stack: state, passwords (local.env), data and logs.
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_STACK_DIR)]
    pub(crate) dir: PathBuf,
    #[command(subcommand)]
    pub(crate) command: LocalCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LocalCommand {
    /// Create the stack on first use and start it; returns once it is ready.
    Up(UpArgs),
    /// Show every node, its role and replication, and the Sentinels' view
    /// (exit 1 unless everything is healthy).
    Status,
    /// Stop every process; keep ports, passwords and data.
    Stop,
    /// Start a stopped stack again (same ports, passwords and data).
    Start,
    /// Stop the stack; with --purge also delete its files.
    Down(DownArgs),
    /// Force a Sentinel failover (HA only) and wait until every Sentinel
    /// confirms the new master.
    Failover,
    /// Print the end of a node's log (`redis-0`, `sentinel-1`, `supervisor`,
    /// and with monitoring `exporter-redis-0`, `prometheus`, `alertmanager`).
    Logs(LogsArgs),
    /// Run the supervisor of a stack (started by `up` and `start`).
    #[command(hide = true)]
    Supervise,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// One master, two replicas and three Sentinels (quorum 2) instead of one
    /// standalone server.
    #[arg(long)]
    pub(crate) ha: bool,
    /// First port: the nodes get consecutive ports from it (data nodes, then
    /// Sentinels). Default: free ports. Fixed at the first `up`.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) port: Option<u16>,
    /// Sentinel `down-after-milliseconds` [default: 5000]. Fixed at the first
    /// `up`.
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(100..=600_000)
    )]
    pub(crate) down_after_ms: Option<u64>,
    /// Sentinel `failover-timeout` [default: 30000]. Fixed at the first `up`.
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1000..=3_600_000)
    )]
    pub(crate) failover_timeout_ms: Option<u64>,
    /// Shorten Sentinel's internal timers (for tests).
    #[arg(long, hide = true)]
    pub(crate) fast_sentinel_timers: bool,
    /// Also run one prometheus-redis-exporter per node, Prometheus with the
    /// shipped alert rules, and Alertmanager (Debian packages
    /// prometheus-redis-exporter, prometheus, prometheus-alertmanager).
    /// Fixed at the first `up`.
    #[arg(long)]
    pub(crate) monitoring: bool,
    /// Run every Redis and Sentinel on TLS only: a CA, a server and a client
    /// certificate are generated into `<dir>/tls/`, plaintext ports are off,
    /// replication and Sentinel use TLS, and clients must present the client
    /// certificate. `local.env` points `serve --local` at them. Fixed at the
    /// first `up`.
    #[arg(long)]
    pub(crate) tls: bool,
    /// Prometheus scrape and rule evaluation interval in seconds instead of
    /// the shipped 15 (for tests).
    #[arg(
        long,
        hide = true,
        value_name = "SECS",
        requires = "monitoring",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub(crate) monitoring_interval_secs: Option<u64>,
    /// Load the alert rule files from this directory instead of the shipped
    /// ones (for tests: copies with shorter `for:` durations).
    #[arg(long, hide = true, value_name = "DIR", requires = "monitoring")]
    pub(crate) monitoring_rules_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DownArgs {
    /// Also delete the stack's data, configuration, passwords and logs.
    #[arg(long)]
    pub(crate) purge: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The node: `redis-0`, `redis-1`, …, `sentinel-0`, …, `supervisor`, or a
    /// monitoring process (`exporter-redis-0`, `prometheus`, `alertmanager`).
    pub(crate) node: String,
    /// How many lines to print.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 50)]
    pub(crate) lines: usize,
}

/// Runs one `sessiondb local` subcommand.
pub(crate) fn run(ctx: &Ctx, args: &LocalArgs) -> anyhow::Result<ExitCode> {
    let json = ctx.out().json();
    let dir = StackDir::new(&args.dir)?;
    match &args.command {
        LocalCommand::Up(up) => lifecycle::up(&dir, up, json),
        LocalCommand::Start => lifecycle::start(&dir, json),
        LocalCommand::Stop => lifecycle::stop(&dir, json),
        LocalCommand::Down(down) => lifecycle::down(&dir, down, json),
        LocalCommand::Status => report::status(&dir, json),
        LocalCommand::Failover => report::failover(&dir, json),
        LocalCommand::Logs(logs) => report::logs(&dir, logs),
        LocalCommand::Supervise => supervise::run(&dir),
    }
}

/// ` --dir <dir>` unless `dir` is the one `sessiondb local` uses by default: what to
/// add to a suggested `sessiondb local …` command.
pub(crate) fn dir_flag(dir: &StackDir) -> String {
    dir_word(dir).map_or_else(String::new, |dir| format!(" --dir {dir}"))
}

/// `dir` as one shell word for a suggested command, or `None` when it is the
/// directory `sessiondb local` uses by default.
pub(crate) fn dir_word(dir: &StackDir) -> Option<String> {
    let default = StackDir::new(DEFAULT_STACK_DIR);
    if default.is_ok_and(|d| d.root() == dir.root()) {
        return None;
    }
    let text = dir.root().display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "_.,:/@%+=-".contains(c);
    Some(if text.chars().all(safe) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    })
}
