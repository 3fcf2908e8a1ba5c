//! `sessiondb backup --out FILE`: a consistent logical export of every sessiondb key
//! into one compressed file (docs/operations/backup-and-recovery.md). A progress bar on
//! a terminal, the one-line summary otherwise. On success the library records the time
//! in `<prefix>:backup:last`, which `serve`'s
//! `sessiondb_backup_last_success_timestamp_seconds` gauge reads. Logs in as `backup`.
//!
//! Exit 0 written and recorded, 1 written but not recorded, 2 nothing written.

use std::path::PathBuf;
use std::process::ExitCode;

use sessiondb_ops::{BackupOptions, ReadFrom};

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;
use crate::progress::Bar;
use sessiondb_acl::Role;

/// Arguments of `sessiondb backup`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The backup file to write (replaced only once complete).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Read from the master or from an online replica (each shard's on a Cluster).
    #[arg(long, value_enum, default_value_t = From::Master)]
    from: From,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Where `backup` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum From {
    /// The master.
    Master,
    /// A replica, keeping the load off the master (its data lags by the replication
    /// delay).
    Replica,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let conn = loaded.connection(Role::Backup)?;
    let options = BackupOptions {
        from: match args.from {
            From::Master => ReadFrom::Master,
            From::Replica => ReadFrom::Replica,
        },
    };
    let bar = Bar::new();
    let progress = |p: &sessiondb_ops::backup::BackupProgress| bar.backup(p);
    let report = ctx.block_on(sessiondb_ops::backup(
        &conn,
        loaded.key_prefix(),
        &args.out,
        &options,
        Some(&progress),
    ));
    bar.finish();
    let report = report??;
    ctx.out().report(&report)?;
    Ok(ExitCode::from(report.exit_status().code()))
}
