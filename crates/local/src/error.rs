//! The crate's single error type.
//!
//! No variant ever carries a password: commands are described by their name
//! only (see [`describe_command`]) and configuration files are never echoed.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting, driving or stopping local
/// Redis processes.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A required Redis binary is not installed (or not on `PATH`).
    ///
    /// The message is meant to be shown to end users as-is.
    #[error("`{binary}` was not found on PATH; {hint}")]
    BinaryNotFound {
        /// The binary that was looked for, e.g. `redis-server`.
        binary: &'static str,
        /// How to install it.
        hint: &'static str,
    },

    /// An I/O operation failed (files, sockets, spawning processes).
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `writing /tmp/x/redis.conf`.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A process exited or never became ready while starting.
    #[error(
        "{program} on 127.0.0.1:{port} failed to start: {reason}\n\
         --- last lines of {} ---\n{log_tail}",
        log.display()
    )]
    StartFailed {
        /// `redis-server` or `redis-sentinel`.
        program: &'static str,
        /// The port it was asked to listen on.
        port: u16,
        /// Why starting was considered failed (exit status, timeout, ...).
        reason: String,
        /// The log file the tail comes from.
        log: PathBuf,
        /// The last lines the process wrote (log file and stdout/stderr).
        log_tail: String,
    },

    /// A condition polled for did not become true before its deadline.
    #[error("timed out after {waited:?} waiting for {what}; last observed: {last}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long was waited.
        waited: Duration,
        /// The last observed state or error, for diagnosis.
        last: String,
    },

    /// A Redis command returned an error reply, or `redis-cli` failed.
    #[error("{target}: {command} failed: {message}")]
    Command {
        /// The instance it was sent to, e.g. `127.0.0.1:6379`.
        target: String,
        /// The command name (arguments are never included).
        command: String,
        /// The error reply or `redis-cli`'s stderr.
        message: String,
    },

    /// A reply did not have the expected shape.
    #[error("{target}: unexpected reply to {command}: {message}")]
    Protocol {
        /// The instance it came from.
        target: String,
        /// The command name.
        command: String,
        /// What was wrong with it.
        message: String,
    },

    /// No usable loopback port could be found.
    #[error("no free loopback port found after {attempts} attempts")]
    NoFreePort {
        /// How many candidates were tried.
        attempts: u32,
    },

    /// The options passed in are inconsistent.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

impl LocalError {
    /// An [`LocalError::Io`] with context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// True when a start failed because the port (or cluster bus port) was
    /// taken between picking it and binding it.
    pub(crate) fn is_address_in_use(&self) -> bool {
        matches!(self, Self::StartFailed { log_tail, .. } if log_tail.contains("Address already in use"))
    }
}

/// Describes a command for error messages without leaking its arguments:
/// the command name, plus the sub-command for container commands
/// (`SENTINEL MASTER`, `CONFIG SET`, ...). Argument lists that start with a
/// `redis-cli` option (which may carry a value such as `-a <password>`) are
/// described as just `redis-cli`.
pub(crate) fn describe_command(args: &[&str]) -> String {
    const CONTAINERS: [&str; 8] = [
        "SENTINEL", "CLUSTER", "CONFIG", "CLIENT", "ACL", "INFO", "OBJECT", "MEMORY",
    ];
    let mut words = args.iter();
    let Some(first) = words.next() else {
        return "(empty command)".to_owned();
    };
    if first.starts_with('-') {
        return "redis-cli".to_owned();
    }
    let first = first.to_ascii_uppercase();
    match words.next() {
        Some(second) if CONTAINERS.contains(&first.as_str()) => {
            format!("{first} {}", second.to_ascii_uppercase())
        }
        _ => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_command_hides_arguments() {
        assert_eq!(describe_command(&["auth", "hunter2"]), "AUTH");
        assert_eq!(
            describe_command(&["CONFIG", "SET", "requirepass", "x"]),
            "CONFIG SET"
        );
        assert_eq!(describe_command(&["-a", "hunter2", "ping"]), "redis-cli");
        assert_eq!(describe_command(&["set", "k", "v"]), "SET");
        assert_eq!(describe_command(&[]), "(empty command)");
    }

    #[test]
    fn address_in_use_is_detected_from_the_log() {
        let err = LocalError::StartFailed {
            program: "redis-server",
            port: 1,
            reason: "exited".into(),
            log: PathBuf::from("x"),
            log_tail: "bind: Address already in use".into(),
        };
        assert!(err.is_address_in_use());
    }
}
