//! `redis-cli` against the current master, with the credentials of the connection
//! (the CLI fills in the role's user and password) passed through the environment,
//! never on the command line, and the TLS options of the connection.

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sessiondb_engine::{ConnectionConfig, Topology};

use crate::error::OpsError;
use crate::topology::{addr_string, current_master};

/// The environment variable redis-cli reads the password from.
pub const PASSWORD_VARIABLE: &str = "REDISCLI_AUTH";

/// How to run `redis-cli` against the deployment.
///
/// JSON: `{"program": "/usr/bin/redis-cli", "target": "127.0.0.1:6379", "args": ["-h",
/// …], "env": ["REDISCLI_AUTH"]}` (variable names only, never values).
#[derive(Debug, Clone, Serialize)]
pub struct RedisCliCommand {
    /// The `redis-cli` executable (found on `PATH`).
    pub program: PathBuf,
    /// The node connected to (`host:port`): the current master, or a Cluster seed node
    /// (with `-c`, so redirections are followed).
    pub target: String,
    /// Arguments before the caller's own: address, user, database, TLS options.
    pub args: Vec<String>,
    /// Environment variables to set, by name (values are secrets).
    #[serde(serialize_with = "names_only")]
    pub env: Vec<(String, SecretString)>,
}

fn names_only<S: serde::Serializer>(
    env: &[(String, SecretString)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(env.iter().map(|(name, _)| name))
}

impl RedisCliCommand {
    /// A process ready to spawn: `program`, `args`, then `extra` (the caller's
    /// arguments, e.g. a command to run), with the environment set.
    pub fn command<I, S>(&self, extra: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(&self.program);
        command.args(&self.args).args(extra);
        for (name, value) in &self.env {
            command.env(name, value.expose_secret());
        }
        command
    }
}

impl fmt::Display for RedisCliCommand {
    /// The command line, with the environment shown as `NAME=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, _) in &self.env {
            write!(f, "{name}=… ")?;
        }
        write!(f, "{}", self.program.display())?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

/// Builds the `redis-cli` invocation for the deployment `conn` describes, connecting to
/// the current master (asked from the Sentinels when configured) with `conn`'s user,
/// password (in `REDISCLI_AUTH`), database and TLS settings.
pub async fn redis_cli_command(conn: &ConnectionConfig) -> Result<RedisCliCommand, OpsError> {
    let program = sessiondb_local::redis_cli_binary().map_err(|e| OpsError::Tool {
        tool: "redis-cli".to_owned(),
        detail: e.to_string(),
    })?;
    let (target, cluster) = match &conn.topology {
        Topology::Cluster { nodes } => {
            let first = nodes
                .first()
                .ok_or_else(|| OpsError::invalid("redis.nodes", "no Cluster node is configured"))?;
            (first.clone(), true)
        }
        _ => (current_master(conn).await?, false),
    };
    let mut args = vec![
        "-h".to_owned(),
        target.0.clone(),
        "-p".to_owned(),
        target.1.to_string(),
    ];
    if cluster {
        args.push("-c".to_owned());
    } else if conn.database != 0 {
        args.extend(["-n".to_owned(), conn.database.to_string()]);
    }
    if let Some(user) = &conn.username {
        args.extend(["--user".to_owned(), user.clone()]);
    }
    if let Some(tls) = &conn.tls {
        args.push("--tls".to_owned());
        let path = |flag: &str, file: &Option<PathBuf>| {
            file.as_ref()
                .map(|p| vec![flag.to_owned(), p.display().to_string()])
                .unwrap_or_default()
        };
        args.extend(path("--cacert", &tls.ca_file));
        args.extend(path("--cert", &tls.client_cert_file));
        args.extend(path("--key", &tls.client_key_file));
        if let Some(name) = &tls.server_name {
            args.extend(["--sni".to_owned(), name.clone()]);
        }
    }
    let env = conn
        .password
        .iter()
        .map(|p| (PASSWORD_VARIABLE.to_owned(), p.clone()))
        .collect();
    Ok(RedisCliCommand {
        program,
        target: addr_string(&target),
        args,
        env,
    })
}
