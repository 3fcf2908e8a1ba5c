//! The crate's error type.

use std::time::Duration;

/// Everything that can stop a drill from running to the end.
///
/// Faults the drill injects on purpose (a dead master, 503 answers, timed-out
/// requests) are not errors: they are recorded and counted in the report. An error
/// means the drill itself could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// Starting, killing or restarting a Redis or Sentinel process failed.
    #[error("local Redis fixture: {0}")]
    Local(#[from] sessiondb_local::LocalError),

    /// The engine could not connect.
    #[error("engine: {0}")]
    Engine(#[from] sessiondb_engine::Error),

    /// The HTTP server could not be bound.
    #[error("HTTP server: {0}")]
    Http(#[from] sessiondb_http::HttpError),

    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),

    /// A probe of a Redis or Sentinel process failed.
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),

    /// A condition polled for did not become true before its deadline.
    #[error("timed out after {waited:?} waiting for {what}; last observed: {last}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// How long was waited.
        waited: Duration,
        /// The last observed state, for diagnosis.
        last: String,
    },

    /// A background task of the drill panicked or was cancelled.
    #[error("drill task failed: {0}")]
    Task(#[from] tokio::task::JoinError),

    /// The passwords of a secure topology could not be generated.
    #[error("secure topology: {0}")]
    Secrets(#[from] sessiondb_local::stack::StackError),

    /// The ACL file of a secure topology could not be rendered.
    #[error("secure topology: {0}")]
    Acl(#[from] sessiondb_acl::AclError),

    /// A file of the drill could not be written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The options are inconsistent.
    #[error("invalid drill options: {0}")]
    InvalidOptions(String),
}
