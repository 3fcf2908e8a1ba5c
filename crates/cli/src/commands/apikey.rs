//! `sessiondb apikey new`: prints a new API key once, and the hash to configure.

use std::fmt;
use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;
use sessiondb_http::config::Scope;

use crate::ctx::Ctx;

/// `sessiondb apikey …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print a new API key (once) and the hash to put in the configuration.
    New(NewArgs),
}

/// Arguments of `sessiondb apikey new`.
#[derive(Debug, clap::Args)]
pub(crate) struct NewArgs {
    /// A label for the key (the calling service's name).
    #[arg(long, default_value = "default")]
    name: String,
    /// Scopes to grant (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sessions:read,sessions:write"
    )]
    scopes: Vec<String>,
}

pub(crate) fn run(ctx: &Ctx, command: &Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::New(args) => new(ctx, args),
    }
}

fn new(ctx: &Ctx, args: &NewArgs) -> anyhow::Result<ExitCode> {
    let mut scopes = Vec::new();
    for s in &args.scopes {
        match s.parse::<Scope>() {
            Ok(scope) => scopes.push(scope.as_str()),
            Err(_) => bail!(
                "unknown scope {s:?}: expected sessions:read, sessions:write or sessions:admin"
            ),
        }
    }
    let key = sessiondb_http::generate_api_key();
    let sha256 = sessiondb_http::hash_api_key(&key);
    ctx.out().report(&NewKey {
        name: &args.name,
        key: &key,
        sha256: &sha256,
        scopes,
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A new key and how to configure it.
#[derive(Debug, Serialize)]
struct NewKey<'a> {
    name: &'a str,
    key: &'a str,
    sha256: &'a str,
    scopes: Vec<&'static str>,
}

impl fmt::Display for NewKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, hash, scopes) = (self.name, self.sha256, &self.scopes);
        writeln!(
            f,
            "API key (shown once; give it to the calling service):\n  {}\n",
            self.key
        )?;
        writeln!(f, "Add to the sessiondb configuration file:\n")?;
        writeln!(f, "[[server.api_keys]]")?;
        writeln!(f, "name = {name:?}")?;
        writeln!(f, "sha256 = {hash:?}")?;
        writeln!(f, "scopes = {scopes:?}\n")?;
        write!(
            f,
            "or in the environment: SESSIONDB_SERVER__API_KEYS='{name}:{hash}:{}'",
            scopes.join(",")
        )
    }
}
