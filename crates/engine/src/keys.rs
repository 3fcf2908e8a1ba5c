//! The key schema. See `docs/architecture.md` for the full table.
//!
//! Every key of one user is `<prefix>:{<tag>}:<kind>:<id>`; the scripts receive the
//! bucket's base (`<prefix>:{<tag>}:`) and derive the other key names of that bucket
//! themselves, so every key one script touches hashes to the same Cluster slot.

use crate::ids::{Tag, UserHash};

/// Builds key names for one key prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keyspace {
    prefix: String,
}

impl Keyspace {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// `<prefix>:{<tag>}:` — passed to every script as ARGV[1].
    pub(crate) fn base(&self, tag: Tag) -> String {
        format!("{}:{{{tag}}}:", self.prefix)
    }

    /// A device login's record (session and refresh family).
    pub(crate) fn session(&self, tag: Tag, sid: &str) -> String {
        format!("{}s:{sid}", self.base(tag))
    }

    /// A user's index of device logins.
    pub(crate) fn index(&self, tag: Tag, user: &UserHash) -> String {
        format!("{}u:{}", self.base(tag), user.as_str())
    }

    pub(crate) fn deletion(&self, tag: Tag, did: &str) -> String {
        format!("{}d:{did}", self.base(tag))
    }

    pub(crate) fn due(&self, tag: Tag) -> String {
        format!("{}due", self.base(tag))
    }

    pub(crate) fn live_count(&self, tag: Tag) -> String {
        format!("{}n", self.base(tag))
    }

    /// The capped lifecycle event stream (not bucketed: written outside scripts).
    pub(crate) fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// The key schema's version (not bucketed: read once at start-up).
    pub(crate) fn schema(&self) -> String {
        format!("{}:schema", self.prefix)
    }

    /// When the last cleanup pass finished successfully (Unix milliseconds), for every
    /// instance's metrics and for `status`.
    pub(crate) fn cleanup_last(&self) -> String {
        format!("{}:cleanup:last", self.prefix)
    }

    /// When the last backup finished successfully (Unix milliseconds), written by the backup
    /// job.
    pub(crate) fn backup_last(&self) -> String {
        format!("{}:backup:last", self.prefix)
    }

    /// The cleanup lease.
    pub(crate) fn cleanup_lease(&self) -> String {
        format!("{}:cleanup:lease", self.prefix)
    }
}
