//! `sessiondb config check [FILE]`: loads and validates the settings (the file, then the
//! environment and `--set`, as `serve` would) without connecting to anything. Exit 0 when
//! valid (printing every setting, secrets redacted), 2 with the key and the reason when
//! not. Deployments use it to check a ConfigMap before rolling it out.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use sessiondb_settings::{LoadOptions, Settings};

use crate::ctx::Ctx;

/// `sessiondb config …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Load and validate the settings without connecting; print them (secrets redacted).
    Check(CheckArgs),
}

/// Arguments of `sessiondb config check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The TOML settings file (default: `--config` / `SESSIONDB_CONFIG`).
    file: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Ctx, command: &Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(ctx, args),
    }
}

fn check(ctx: &Ctx, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let global = ctx.global();
    let file = args.file.clone().or_else(|| global.config.clone());
    let options = LoadOptions::from_process(file.clone(), global.overrides.clone());
    let settings = Settings::load(&options).context("invalid configuration")?;
    ctx.out().report(&Checked {
        file: file.map(|f| f.display().to_string()),
        settings: settings
            .redacted_values()
            .into_iter()
            .map(|(key, value)| Setting { key, value })
            .collect(),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A valid configuration, as loaded.
#[derive(Debug, Serialize)]
struct Checked {
    file: Option<String>,
    settings: Vec<Setting>,
}

#[derive(Debug, Serialize)]
struct Setting {
    key: &'static str,
    value: String,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => writeln!(f, "config: ok ({file}, the environment and --set)")?,
            None => writeln!(f, "config: ok (defaults, the environment and --set)")?,
        }
        let width = self.settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
        for (i, s) in self.settings.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {:width$}  {}", s.key, s.value)?;
        }
        Ok(())
    }
}
