//! `sessiondb stats [--watch [SECS]]`: live sessions, users, the per-user distribution,
//! event rates and top users. Logs in as `monitor`. With `--watch` it runs again every
//! SECS seconds until interrupted (SIGINT or SIGTERM; text: the screen is redrawn on a
//! terminal; JSON: one document per line).

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use sessiondb_ops::StatsOptions;
use tokio::signal::unix::{signal, SignalKind};

use crate::cli::ConnectArgs;
use crate::ctx::{emit, Ctx};
use sessiondb_acl::Role;

/// Arguments of `sessiondb stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Refresh every SECS seconds (default 5) until interrupted. Each refresh costs one
    /// full run (see docs/operations.md): about 5 s of Redis time per million users.
    #[arg(
        long,
        value_name = "SECS",
        num_args = 0..=1,
        default_missing_value = "5",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    watch: Option<u64>,
    /// Show the ids of the top users (only their counts otherwise).
    #[arg(long)]
    show_users: bool,
    /// How many of the users with the most logins to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Window of the event rates, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    window: u64,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = ctx.load(&args.connect)?;
    let conn = loaded.connection(Role::Admin)?;
    let options = StatsOptions {
        cap: loaded.settings.session.max_per_user,
        top: args.top,
        show_users: args.show_users,
        window: Duration::from_secs(args.window),
        ..StatsOptions::default()
    };
    let prefix = loaded.key_prefix();
    let Some(every) = args.watch else {
        let report = ctx.block_on(sessiondb_ops::stats(&conn, prefix, &options))??;
        ctx.out().report(&report)?;
        return Ok(ExitCode::SUCCESS);
    };
    let redraw = !ctx.out().json() && std::io::stdout().is_terminal();
    ctx.block_on(async {
        // Listening from the start, so an interrupt during a run is not missed.
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        loop {
            let report = sessiondb_ops::stats(&conn, prefix, &options).await?;
            if redraw {
                // Clear the screen and go home, then draw the new figures.
                emit("\x1b[2J\x1b[H");
            }
            ctx.out().report(&report)?;
            tokio::select! {
                _ = interrupt.recv() => return anyhow::Ok(()),
                _ = terminate.recv() => return anyhow::Ok(()),
                () = tokio::time::sleep(Duration::from_secs(every)) => {}
            }
        }
    })??;
    Ok(ExitCode::SUCCESS)
}
