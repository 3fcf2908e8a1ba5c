//! `sessiondb redis-cli [--role ROLE] [-- ARGS…]`: runs `redis-cli` against the current
//! master (asked from the Sentinels when configured; a Cluster seed node with `-c`),
//! with the connection's TLS options and the password in `REDISCLI_AUTH`, never on the
//! command line. With `--json` it prints the invocation (variable names only) instead
//! of running it.

use std::os::unix::process::CommandExt as _;
use std::process::ExitCode;

use anyhow::bail;

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;
use sessiondb_acl::Role;

use crate::role;

/// Arguments of `sessiondb redis-cli`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Log in as this ACL role (its password must be configured, e.g.
    /// `MONITOR_PASSWORD`); the configured connection's user otherwise.
    #[arg(long, value_parser = role::parse_role, value_name = "ROLE")]
    role: Option<Role>,
    /// Arguments for redis-cli, after `--` (e.g. `-- INFO replication`); none for an
    /// interactive prompt.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let mut conn = loaded.configured()?;
    if let Some(role) = args.role {
        if !role::apply(&mut conn, &loaded.settings, role) {
            let missing = sessiondb_acl::AclError::MissingPassword(role);
            bail!("--role {}: {missing}", role.user());
        }
    }
    let command = ctx.block_on(sessiondb_ops::redis_cli_command(&conn))??;
    if ctx.out().json() {
        ctx.out().report(&command)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Replaces this process: redis-cli gets the terminal, the signals and the exit
    // status. `exec` only returns on failure.
    let error = command.command(&args.args).exec();
    bail!("running {}: {error}", command.program.display())
}
