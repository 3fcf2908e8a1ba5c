//! The error of every operation that can fail as a whole.

use std::path::PathBuf;

/// Why an operation could not run (exit status 2 in the CLI). Checks that ran and
/// failed are not errors: they are reported in the operation's report.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// An option or argument was not usable.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which option or argument.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// Redis (or a Sentinel) could not be reached or refused a command.
    #[error("{what}: {source}")]
    Redis {
        /// What was being done, e.g. `connecting to 127.0.0.1:6379`.
        what: String,
        /// The engine's or client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Redis answered something this tool does not understand.
    #[error("{what}: unexpected reply: {detail}")]
    Protocol {
        /// The command or script.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The deployment cannot serve the operation (e.g. no replica to read from).
    #[error("{0}")]
    Unavailable(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A backup file is truncated, corrupt or of an unsupported version; nothing was
    /// written.
    #[error("{}: {reason}", path.display())]
    BadBackup {
        /// The backup file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The database holds data of another key schema version than the backup.
    #[error(
        "{key} holds key schema version {found:?}, the backup has version {expected}; \
         nothing was restored"
    )]
    SchemaMismatch {
        /// The schema key of the target.
        key: String,
        /// What the target holds.
        found: String,
        /// What the backup holds.
        expected: u32,
    },
    /// An external tool (`redis-check-aof`, `redis-server`) failed.
    #[error("{tool}: {detail}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its error or the last lines of its output.
        detail: String,
    },
}

impl OpsError {
    pub(crate) fn redis(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Redis {
            what: what.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Protocol {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
