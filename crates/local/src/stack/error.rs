//! The stack module's error type.
//!
//! Like [`LocalError`], no variant ever carries a password: the env file is
//! described by path and line number, never by content.

use std::path::PathBuf;

use crate::LocalError;

/// Everything that can go wrong while creating, supervising, inspecting or
/// stopping a local stack.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// Starting, probing or stopping a Redis process failed.
    #[error(transparent)]
    Local(#[from] LocalError),

    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `writing /x/state.json`.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The state file could not be parsed or written.
    #[error("state file {}: {source}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The directory holds no stack (no state file).
    #[error("no local stack in {} (run `sessiondb local up` first)", dir.display())]
    NoStack {
        /// The stack directory.
        dir: PathBuf,
    },

    /// The env file with the passwords is malformed or incomplete.
    #[error("{}:{line}: {message}", path.display())]
    EnvFile {
        /// The env file.
        path: PathBuf,
        /// 1-based line number (0 when the problem is not on one line).
        line: usize,
        /// What is wrong (never the value).
        message: String,
    },

    /// A password taken from the environment cannot be used.
    #[error("{variable} cannot be used as a password: {reason}")]
    BadPassword {
        /// The environment variable.
        variable: &'static str,
        /// Why, e.g. "contains a line break".
        reason: &'static str,
    },

    /// The random number generator failed.
    #[error("generating a random password: {0}")]
    Random(getrandom::Error),

    /// A request does not fit the stack (e.g. a failover on a standalone
    /// stack, or an unknown node name).
    #[error("{0}")]
    Invalid(String),

    /// A condition did not hold before its deadline.
    #[error("timed out after {waited:?} waiting for {what}; last observed: {last}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long was waited.
        waited: std::time::Duration,
        /// The last observation.
        last: String,
    },

    /// The supervisor reported that starting the stack failed, or exited
    /// before the stack was up.
    #[error("the supervisor failed: {message}")]
    SupervisorFailed {
        /// Its error message, or how it exited.
        message: String,
    },
}

impl StackError {
    /// A [`StackError::Io`] with context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<getrandom::Error> for StackError {
    fn from(err: getrandom::Error) -> Self {
        Self::Random(err)
    }
}
