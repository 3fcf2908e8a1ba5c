//! `sessiondb status`: the topology, the Sentinel view, the Cluster's shards and
//! sessiondb's figures. Exit 0 when everything answered, 1 when something did not,
//! 2 when no data node answered. Logs in as `monitor`.

use std::process::ExitCode;

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;
use sessiondb_acl::Role;

/// Arguments of `sessiondb status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let conn = loaded.connection(Role::Monitor)?;
    let report = ctx.block_on(sessiondb_ops::status(&conn, loaded.key_prefix()))??;
    ctx.out().report(&report)?;
    Ok(ExitCode::from(report.exit_status().code()))
}
