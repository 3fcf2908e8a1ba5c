//! The `sessiondb` binary: parses arguments, loads settings, sets up logging and hands
//! off to one function per subcommand (`commands/`).
//!
//! Exit codes: 0 success, 1 a check failed or work was refused, 2 usage or runtime error.

mod cli;
mod commands;
mod embedded;
mod stack_env;
mod telemetry;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use sessiondb_local::stack::StackDir;
use sessiondb_settings::{LoadOptions, Settings};

use cli::{ApikeyCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sessiondb: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Cli { global, command } = cli;
    if let Command::Apikey(ApikeyCommand::New(args)) = &command {
        return commands::apikey::new(args, global.json);
    }
    if let Command::Local(args) = &command {
        return commands::local::run(args, global.json);
    }
    let mut overrides = global.overrides.clone();
    if let Command::Serve(args) = &command {
        if let Some(listen) = &args.listen {
            overrides.push(format!("server.listen={listen}"));
        }
        if let Some(admin) = &args.admin_listen {
            overrides.push(format!("server.admin_listen={admin}"));
        }
    }
    let local_stack = match &command {
        Command::Serve(args) if args.local => Some(StackDir::new(&args.local_dir)?),
        _ => None,
    };
    let options = match &local_stack {
        Some(dir) => stack_env::load_options(dir, global.config.clone(), overrides)?,
        None => LoadOptions::from_process(global.config.clone(), overrides),
    };
    let settings = Settings::load(&options).context("invalid configuration")?;
    telemetry::init(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match command {
            Command::Serve(_) => commands::serve::run(settings, local_stack).await,
            Command::Cleanup(args) => commands::cleanup::run(settings, &args, global.json).await,
            Command::Apikey(_) | Command::Local(_) => {
                unreachable!("handled before loading settings")
            }
        }
    })
}
