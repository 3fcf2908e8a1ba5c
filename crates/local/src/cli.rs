//! Running `redis-cli`.

use std::process::{Command, Stdio};

use secrecy::{ExposeSecret, SecretString};

use crate::error::describe_command;
use crate::{redis_cli_binary, LocalError};

/// Error codes that mark `redis-cli` output as an error reply.
const ERROR_PREFIXES: [&str; 22] = [
    "ERR",
    "(error)",
    "WRONGTYPE",
    "NOAUTH",
    "WRONGPASS",
    "NOPERM",
    "READONLY",
    "LOADING",
    "MASTERDOWN",
    "MISCONF",
    "EXECABORT",
    "NOREPLICAS",
    "CROSSSLOT",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "NOGOODSLAVE",
    "INPROG",
    "MOVED",
    "ASK",
    "OOM",
    "BUSY",
    "NOSCRIPT",
];

/// Runs `redis-cli <conn_args> <args>` with the password in `REDISCLI_AUTH`
/// (never on the command line) and returns its trimmed stdout.
///
/// Fails when `redis-cli` exits unsuccessfully or its output starts with a
/// Redis error code (`ERR`, `(error)`, `WRONGTYPE`, `NOAUTH`, ...).
pub(crate) fn run(
    target: &str,
    password: Option<&SecretString>,
    conn_args: &[&str],
    args: &[&str],
) -> Result<String, LocalError> {
    let mut command = Command::new(redis_cli_binary()?);
    command.args(conn_args).args(args).stdin(Stdio::null());
    match password {
        Some(password) => command.env("REDISCLI_AUTH", password.expose_secret()),
        None => command.env_remove("REDISCLI_AUTH"),
    };
    let output = command
        .output()
        .map_err(|e| LocalError::io("running redis-cli", e))?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let failure = |message: String| LocalError::Command {
        target: target.to_owned(),
        command: describe_command(args),
        message,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let detail = if stderr.is_empty() { stdout } else { stderr };
        return Err(failure(format!("redis-cli {}: {detail}", output.status)));
    }
    if is_error_output(&stdout) {
        return Err(failure(stdout));
    }
    Ok(stdout)
}

fn is_error_output(stdout: &str) -> bool {
    let first = stdout.lines().next().unwrap_or_default();
    ERROR_PREFIXES.iter().any(|code| {
        first
            .strip_prefix(code)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_output_is_recognised() {
        assert!(is_error_output("ERR unknown command"));
        assert!(is_error_output("(error) ERR x"));
        assert!(is_error_output("NOAUTH Authentication required."));
        assert!(!is_error_output("PONG"));
        assert!(!is_error_output("ERRATIC"));
        assert!(!is_error_output(""));
    }
}
