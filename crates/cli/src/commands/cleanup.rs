//! `sessiondb cleanup`: one cleanup pass (for a CronJob every few minutes).

use std::fmt;
use std::process::ExitCode;

use serde::Serialize;
use sessiondb_acl::Role;
use sessiondb_engine::{CleanupOptions, CleanupReport};

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;

/// Arguments of `sessiondb cleanup`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run even if another instance holds the cleanup lease.
    #[arg(long)]
    ignore_lease: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let report = ctx.block_on(async {
        let engine = loaded.engine_as(Role::Cleanup).await?;
        let report = engine
            .cleanup(CleanupOptions {
                ignore_lease: args.ignore_lease,
            })
            .await;
        engine.flush_events().await;
        engine.shutdown().await?;
        anyhow::Ok(report?)
    })??;
    ctx.out().report(&Summary::from(&report))?;
    // A pass skipped because another instance is cleaning is not a failure.
    Ok(ExitCode::SUCCESS)
}

/// The summary line (`--json`: the same fields).
#[derive(Debug, Serialize)]
struct Summary {
    ran: bool,
    removed: u64,
    users_visited: u64,
    active_sessions: u64,
    duration_ms: u64,
}

impl From<&CleanupReport> for Summary {
    fn from(r: &CleanupReport) -> Self {
        Self {
            ran: r.ran,
            removed: r.removed,
            users_visited: r.users_visited,
            active_sessions: r.active_sessions,
            duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ran {
            write!(
                f,
                "cleanup: ok, removed {} expired index entries, visited {} users, {} active sessions, {} ms",
                self.removed, self.users_visited, self.active_sessions, self.duration_ms
            )
        } else {
            write!(
                f,
                "cleanup: skipped, another instance holds the cleanup lease (use --ignore-lease to run anyway)"
            )
        }
    }
}
