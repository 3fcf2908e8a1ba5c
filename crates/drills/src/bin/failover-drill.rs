//! `failover-drill`: kills the Redis master with SIGKILL under a steady write load
//! through the sessiondb API, `--runs` times per durability mode, each run on a
//! fresh topology (1 master, 2 replicas, 3 Sentinels, quorum 2, AOF), and prints per
//! run the time to the first successful write after the kill, acknowledged and lost
//! writes and requests that hung longer than 2 s, then the median per mode. With
//! `--secure` the topology runs as production does: ACL roles, a Sentinel password
//! and TLS on every Redis and Sentinel connection.
//! Exits with status 1 when a guarantee was violated (an acknowledged write lost in
//! replicated mode, a retried refresh taken for reuse).
//!
//! Needs `redis-server` and `redis-sentinel` on `PATH`. Logs go to stderr only when
//! `RUST_LOG` is set.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use sessiondb_drills::drill::{kill_master, DrillOptions, Mode, Security};
use sessiondb_drills::load::LoadOptions;
use sessiondb_drills::report::{mode_summary, outcome_line, table_header, table_row};

/// Kill -9 the Redis master under load and count what the API acknowledged and lost.
#[derive(Debug, Parser)]
#[command(name = "failover-drill", version)]
struct Args {
    /// Runs per durability mode.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Durability mode(s) to drill.
    #[arg(long, value_enum, default_value_t = ModeArg::Both)]
    mode: ModeArg,
    /// Sentinel `down-after-milliseconds`.
    #[arg(long, default_value_t = 5000)]
    down_after_ms: u64,
    /// Requests per second over all clients.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Client timeout of every request, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Shorten Sentinel's INFO/hello periods (`SENTINEL DEBUG`); failure detection
    /// keeps `--down-after-ms`.
    #[arg(long)]
    fast_timers: bool,
    /// ACL roles, Sentinel password and TLS on every connection: the data nodes and
    /// Sentinels speak TLS only and require client certificates, the engine logs in as
    /// `app`, replicas and Sentinels as `sentinel`.
    #[arg(long)]
    secure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    Async,
    Replicated,
    Both,
}

/// The validated plan: which modes, how many runs, with which options.
#[derive(Debug)]
struct Plan {
    modes: Vec<Mode>,
    runs: usize,
    options: DrillOptions,
}

impl Args {
    fn plan(&self) -> anyhow::Result<Plan> {
        if !(1..=100).contains(&self.runs) {
            bail!("--runs must be between 1 and 100");
        }
        if !(100..=60_000).contains(&self.down_after_ms) {
            bail!("--down-after-ms must be between 100 and 60000");
        }
        if !self.rate.is_finite() || self.rate <= 0.0 || self.rate > 5_000.0 {
            bail!("--rate must be above 0 and at most 5000 requests per second");
        }
        if !(1..=256).contains(&self.clients) {
            bail!("--clients must be between 1 and 256");
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            bail!("--timeout-ms must be between 100 and 60000");
        }
        let modes = match self.mode {
            ModeArg::Async => vec![Mode::Async],
            ModeArg::Replicated => vec![Mode::Replicated],
            ModeArg::Both => vec![Mode::Async, Mode::Replicated],
        };
        let mut options = DrillOptions::new(Mode::Async);
        options.down_after_ms = self.down_after_ms;
        options.fast_timers = self.fast_timers;
        options.security = if self.secure {
            Security::Secure
        } else {
            Security::Open
        };
        options.load = LoadOptions {
            clients: self.clients,
            rate_per_sec: self.rate,
        };
        options.client_timeout = Duration::from_millis(self.timeout_ms);
        options.warmup_writes = (self.rate * 2.0).ceil().max(10.0) as u64;
        Ok(Plan {
            modes,
            runs: self.runs,
            options,
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match args.plan().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("failover-drill: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(plan: Plan) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(drill(plan))
}

async fn drill(plan: Plan) -> anyhow::Result<()> {
    let o = &plan.options;
    println!(
        "failover drill: kill -9 the master under load; 1 master + 2 replicas + 3 sentinels \
         (quorum 2), AOF, down-after {} ms, sentinel timers {}",
        o.down_after_ms,
        if o.fast_timers { "fast" } else { "default" },
    );
    println!("security: {}", o.security);
    println!(
        "load: {} clients, {} req/s (create/update/refresh/update), client timeout {} ms; \
         replicated = WAIT 1 1000 + min-replicas-to-write 1",
        o.load.clients,
        o.load.rate_per_sec,
        o.client_timeout.as_millis(),
    );
    println!();
    println!("{}", table_header());
    let mut summaries = Vec::new();
    let mut violations = Vec::new();
    for &mode in &plan.modes {
        let mut reports = Vec::new();
        for run in 1..=plan.runs {
            let options = DrillOptions { mode, ..*o };
            let report = kill_master(&options)
                .await
                .with_context(|| format!("{mode} run {run}"))?;
            println!("{}", table_row(run, &report));
            println!("{}", outcome_line(&report));
            let _ = std::io::stdout().flush();
            let v = &report.verification;
            if mode == Mode::Replicated && v.lost_writes > 0 {
                violations.push(format!(
                    "{mode} run {run} lost {} acknowledged writes",
                    v.lost_writes
                ));
            }
            if v.false_reuse > 0 {
                violations.push(format!(
                    "{mode} run {run}: {} refresh retries taken for reuse",
                    v.false_reuse
                ));
            }
            reports.push(report);
        }
        summaries.push(mode_summary(mode, &reports));
    }
    println!();
    for summary in summaries {
        println!("{summary}");
    }
    if !violations.is_empty() {
        bail!("guarantees violated: {}", violations.join("; "));
    }
    Ok(())
}
