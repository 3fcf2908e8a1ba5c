//! Engine errors, each with a stable machine-readable code.

/// Everything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No live session matches (unknown, expired, revoked or wrong token).
    #[error("session not found")]
    SessionNotFound,
    /// An update named a version that is no longer current; nothing changed.
    #[error("version conflict: the session is at version {current}")]
    VersionConflict {
        /// The session's current version.
        current: u64,
    },
    /// The user holds the maximum number of sessions and the cap policy is `reject`.
    #[error("the user already holds the maximum number of live sessions")]
    SessionLimitReached,
    /// The refresh token is unknown, expired or its family was revoked.
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidGrant,
    /// A superseded refresh token was presented; its family (and session) is revoked.
    #[error("refresh token reuse detected; the token family has been revoked")]
    ReuseDetected,
    /// The deletion token is unknown or expired.
    #[error("deletion token not found or expired")]
    TokenNotFound,
    /// The deletion token was already redeemed.
    #[error("deletion token has already been used")]
    TokenSpent,
    /// A value is larger than its configured limit.
    #[error("{field} is too large: {size} bytes exceeds the limit of {limit}")]
    PayloadTooLarge {
        /// The offending field.
        field: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A value failed validation.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// The write was applied on the master but fewer replicas than required confirmed
    /// it in time (replicated durability); retrying is safe.
    #[error("the write was not confirmed by {wanted} replica(s) in time ({acked} confirmed)")]
    NotReplicated {
        /// Replicas that confirmed.
        acked: u64,
        /// Replicas required.
        wanted: u32,
    },
    /// The database holds data of another key schema version.
    #[error("{key} says key schema version {found:?}; this build uses version {expected}")]
    SchemaMismatch {
        /// The schema key.
        key: String,
        /// What it holds.
        found: String,
        /// What this build reads and writes.
        expected: u32,
    },
    /// Redis could not be reached or did not answer in time.
    #[error("the session store is unavailable")]
    Backend(#[source] fred::error::Error),
    /// A script answered something the engine does not understand (a bug or a key
    /// schema mismatch); never caused by client input.
    #[error("unexpected reply from the {script} script: {detail}")]
    Protocol {
        /// Which script.
        script: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl Error {
    /// The stable error code clients and operators match on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::SessionNotFound => "session_not_found",
            Error::VersionConflict { .. } => "version_conflict",
            Error::SessionLimitReached => "session_limit_reached",
            Error::InvalidGrant => "invalid_grant",
            Error::ReuseDetected => "reuse_detected",
            Error::TokenNotFound => "token_not_found",
            Error::TokenSpent => "token_spent",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::InvalidInput(_) => "invalid_request",
            Error::NotReplicated { .. } => "not_replicated",
            Error::Backend(_) => "backend_unavailable",
            Error::Protocol { .. } | Error::SchemaMismatch { .. } => "internal_error",
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Backend(_) | Error::NotReplicated { .. })
    }
}

impl From<fred::error::Error> for Error {
    fn from(error: fred::error::Error) -> Self {
        Error::Backend(error)
    }
}

/// A value that failed validation, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidInput {
    /// The offending field.
    pub field: &'static str,
    /// Why it was rejected, phrased to follow the field name.
    pub reason: String,
}

impl InvalidInput {
    /// A new validation failure.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
