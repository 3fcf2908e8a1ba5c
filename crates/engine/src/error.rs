//! Engine errors, each with a stable machine-readable code.

use std::path::PathBuf;
use std::time::SystemTime;

/// Everything an engine operation can fail with.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// Redis refused the login, or its TLS certificate was refused, while connecting:
    /// the credentials or TLS settings (or the server's certificate) need fixing, and
    /// retrying cannot help.
    #[error(transparent)]
    Refused(#[from] Refusal),
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
            Error::Backend(_) | Error::Refused(_) => "backend_unavailable",
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

/// Why a connection was refused, naming the server and what to check: the user and
/// where its password comes from, or the TLS setting the certificate failed. Never a
/// password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The server answered `WRONGPASS`: a wrong password, or the user does not exist or
    /// is disabled (Redis does not say which).
    WrongPassword {
        /// The server, e.g. `Redis at 10.0.0.5:6379`.
        server: String,
        /// The user that logged in (`default` when none is configured).
        user: String,
        /// Where the password came from, e.g. `APP_PASSWORD (acl.app_password)`.
        password_from: Option<String>,
    },
    /// The server answered `NOAUTH`: it requires a login, and no password was sent.
    NoPassword {
        /// The server.
        server: String,
        /// The user the connection is configured with.
        user: String,
        /// Where a password would come from.
        password_from: Option<String>,
    },
    /// The server certificate is not signed by a trusted CA.
    UntrustedCertificate {
        /// The server.
        server: String,
        /// The configured CA file (`redis.tls.ca_file`); `None`: the system's CAs.
        ca_file: Option<PathBuf>,
    },
    /// The server certificate has expired.
    ExpiredCertificate {
        /// The server.
        server: String,
        /// When it stopped being valid, when known.
        not_after: Option<SystemTime>,
    },
    /// The server certificate is not valid yet (or the client's clock is behind).
    CertificateNotYetValid {
        /// The server.
        server: String,
        /// When it becomes valid, when known.
        not_before: Option<SystemTime>,
    },
    /// The server certificate is not valid for the name it was checked against.
    WrongServerName {
        /// The server.
        server: String,
        /// The name it was checked against, when known.
        expected: Option<String>,
        /// Whether that name is `redis.tls.server_name` (otherwise the host).
        configured: bool,
        /// The names the certificate is valid for.
        valid_for: Vec<String>,
    },
    /// TLS is on and the connection got no answer in time: typically a plaintext port,
    /// which never answers a TLS handshake (or a server that does not answer at all).
    NoTlsAnswer {
        /// The server.
        server: String,
        /// How long the connection waited (`redis.command_timeout_ms`).
        waited: std::time::Duration,
    },
    /// Any other reason the certificate was refused.
    OtherCertificate {
        /// The server.
        server: String,
        /// Why, as rustls says it.
        reason: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let certificate = |server: &str| format!("the TLS certificate of {server}");
        match self {
            Refusal::WrongPassword {
                server,
                user,
                password_from,
            } => {
                write!(f, "{server} refused the login of user `{user}`")?;
                if let Some(from) = password_from {
                    write!(f, " with the password from {from}")?;
                }
                write!(
                    f,
                    ": wrong password, or the user does not exist or is disabled"
                )
            }
            Refusal::NoPassword {
                server,
                user,
                password_from,
            } => {
                write!(
                    f,
                    "{server} requires a password, and none is set for user `{user}`"
                )?;
                if let Some(from) = password_from {
                    write!(f, " (expected from {from})")?;
                }
                Ok(())
            }
            Refusal::UntrustedCertificate { server, ca_file } => {
                write!(f, "{} is not signed by ", certificate(server))?;
                match ca_file {
                    Some(path) => write!(f, "a CA in redis.tls.ca_file ({})", path.display()),
                    None => write!(
                        f,
                        "a CA the system trusts (redis.tls.ca_file is not set): set it to \
                         the CA that signed it"
                    ),
                }
            }
            Refusal::ExpiredCertificate { server, not_after } => {
                write!(f, "{} has expired", certificate(server))?;
                if let Some(time) = not_after {
                    write!(f, " (valid until {})", crate::tls::format_time(*time))?;
                }
                Ok(())
            }
            Refusal::CertificateNotYetValid { server, not_before } => {
                write!(f, "{} is not valid yet", certificate(server))?;
                if let Some(time) = not_before {
                    write!(
                        f,
                        " (valid from {}; is this host's clock right?)",
                        crate::tls::format_time(*time)
                    )?;
                }
                Ok(())
            }
            Refusal::WrongServerName {
                server,
                expected,
                configured,
                valid_for,
            } => {
                let checked = match (expected, configured) {
                    (Some(name), true) => format!("{name} (redis.tls.server_name)"),
                    (Some(name), false) => {
                        format!("{name} (the host; redis.tls.server_name is not set)")
                    }
                    (None, true) => "redis.tls.server_name".to_owned(),
                    (None, false) => "the host (redis.tls.server_name is not set)".to_owned(),
                };
                write!(f, "{} is not valid for {checked}", certificate(server))?;
                match valid_for.as_slice() {
                    [] => Ok(()),
                    names => write!(f, "; it is valid for {}", names.join(", ")),
                }
            }
            Refusal::NoTlsAnswer { server, waited } => write!(
                f,
                "{server} did not answer within {} ms over TLS (redis.tls.enabled is on, or \
                 the URL is rediss://): is that port a TLS port? A plaintext Redis never \
                 answers a TLS handshake",
                waited.as_millis()
            ),
            Refusal::OtherCertificate { server, reason } => {
                write!(f, "{} was refused: {reason}", certificate(server))
            }
        }
    }
}

impl std::error::Error for Refusal {}

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
