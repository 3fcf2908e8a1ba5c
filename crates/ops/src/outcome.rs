//! Exit statuses shared by every report.

use std::fmt;

use serde::Serialize;

/// How an operation ended, as a process exit status: what a probe, a CronJob or a
/// script acts on.
///
/// | status | exit code | meaning |
/// |---|---:|---|
/// | [`ExitStatus::Ok`] | 0 | everything ran and every check passed (warnings allowed) |
/// | [`ExitStatus::Failed`] | 1 | it ran and at least one check failed |
/// | [`ExitStatus::CouldNotRun`] | 2 | it could not run: bad input, nothing answered, unreadable file |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Exit code 0.
    Ok,
    /// Exit code 1.
    Failed,
    /// Exit code 2.
    CouldNotRun,
}

impl ExitStatus {
    /// The process exit code: 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Failed => 1,
            Self::CouldNotRun => 2,
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check passed.
    Ok,
    /// Worth a look, but not a failure (exit code 0).
    Warn,
    /// The check failed (exit code 1).
    Fail,
}

impl CheckStatus {
    /// `ok`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
