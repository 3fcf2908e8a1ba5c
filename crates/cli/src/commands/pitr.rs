//! `sessiondb pitr --aof-dir DIR --to TIME --out FILE`: point-in-time recovery. Copies
//! the AOF, cuts the copy at TIME, loads it in a temporary redis-server and writes a
//! backup file of that state for `sessiondb restore`. Connects to no deployment (only
//! the key prefix comes from the settings).

use std::path::PathBuf;
use std::process::ExitCode;

use sessiondb_ops::pitr::parse_time;
use sessiondb_ops::PitrOptions;

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;
use crate::progress::Bar;

/// Arguments of `sessiondb pitr`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The AOF directory (`appendonlydir`, with its manifest) or the data directory
    /// holding it; only read.
    #[arg(long, value_name = "DIR")]
    aof_dir: PathBuf,
    /// The time to recover to: Unix seconds or RFC 3339 (`2026-05-01T12:00:00Z`); the
    /// state at the end of that second.
    #[arg(long, value_name = "TIME")]
    to: String,
    /// The backup file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Where the AOF copy and the temporary server live (about the AOF's size free);
    /// the system's temporary directory by default.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let options = PitrOptions {
        aof_dir: args.aof_dir.clone(),
        to_unix_seconds: parse_time(&args.to)?,
        work_dir: args.work_dir.clone(),
    };
    let loaded = ctx.load(&ConnectArgs::settings_only())?;
    let bar = Bar::new();
    let progress = |p: &sessiondb_ops::backup::BackupProgress| bar.backup(p);
    let report = ctx.block_on(sessiondb_ops::pitr(
        loaded.key_prefix(),
        &options,
        &args.out,
        Some(&progress),
    ));
    bar.finish();
    let report = report??;
    ctx.out().report(&report)?;
    Ok(ExitCode::from(report.exit_status().code()))
}
