//! `sessiondb health`: one line per check; exit 0 all ok, 1 a check failed, 2 could
//! not run. Bounded by `--timeout`, so it can serve as a probe. Logs in as `monitor`.

use std::process::ExitCode;
use std::time::Duration;

use sessiondb_ops::HealthOptions;

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;
use sessiondb_acl::Role;

/// Arguments of `sessiondb health`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Replicas each master needs online (default: 1 with Sentinel, 0 otherwise).
    #[arg(long, value_name = "N")]
    min_replicas: Option<u32>,
    /// Longest acceptable replication lag, e.g. `10s` (plain numbers are seconds).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    max_lag: Duration,
    /// Highest acceptable used_memory / maxmemory, in (0, 1].
    #[arg(long, value_name = "RATIO", default_value_t = 0.9)]
    max_memory_ratio: f64,
    /// Bound of the whole run, e.g. `2s` or `500ms`: what has not answered by then fails.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let conn = loaded.connection(Role::Monitor)?;
    let options = HealthOptions {
        min_replicas: args.min_replicas,
        max_lag: args.max_lag,
        max_memory_ratio: args.max_memory_ratio,
        timeout: args.timeout,
    };
    let report = ctx.block_on(sessiondb_ops::health(&conn, loaded.key_prefix(), &options))??;
    ctx.out().report(&report)?;
    Ok(ExitCode::from(report.exit_status().code()))
}

/// A duration: plain seconds (`10`, `0.5`) or with units (`2s`, `500ms`, `1m`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Ok(Duration::from_secs_f64(seconds))
        }
        Ok(_) => Err(format!("{text:?} is not a duration")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration (e.g. 2s, 500ms): {e}")),
    }?;
    if parsed.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(parsed)
}
