//! `sessiondb restore FILE`: verifies the whole file first (checksum, versions), then
//! re-applies its keys with their remaining TTL, skipping what expired and keeping
//! newer data unless `--force`; `--dry-run` reports what it would do. A refused file
//! (truncated, corrupt, another schema) writes nothing and exits 2. Logs in as `admin`.

use std::path::PathBuf;
use std::process::ExitCode;

use sessiondb_ops::RestoreOptions;

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;
use crate::progress::Bar;
use sessiondb_acl::Role;

/// Arguments of `sessiondb restore`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The backup file (from `sessiondb backup` or `sessiondb pitr`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Replace data that exists in the database (newer data is kept otherwise).
    #[arg(long)]
    force: bool,
    /// Decide everything, write nothing, report what a restore would do.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let conn = loaded.connection(Role::Admin)?;
    let options = RestoreOptions {
        force: args.force,
        dry_run: args.dry_run,
    };
    let bar = Bar::new();
    let progress = |p: &sessiondb_ops::restore::RestoreProgress| bar.restore(p);
    let report = ctx.block_on(sessiondb_ops::restore(
        &conn,
        loaded.key_prefix(),
        &args.file,
        &options,
        Some(&progress),
    ));
    bar.finish();
    let report = report??;
    ctx.out().report(&report)?;
    Ok(ExitCode::from(report.exit_status().code()))
}
