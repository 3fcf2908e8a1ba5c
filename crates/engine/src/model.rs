//! Values the engine takes and returns.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::InvalidInput;
use crate::ids::{DeletionId, SessionId, UserId};
use crate::token::{DeletionToken, RefreshToken, SessionToken};

/// Milliseconds since the Unix epoch, as read from Redis's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

/// A session's free-form JSON object.
pub type SessionData = Map<String, Value>;

/// The member name serde_json (with `arbitrary_precision`) uses to carry an exact number
/// through a map. Parsing turns an object holding it alone into that number; an object
/// holding it among other members would be stored sorted with it first, which no parse
/// reads back (and a re-deserialization of such a value silently keeps only the number),
/// so data holding it is refused.
pub const RESERVED_MEMBER: &str = "$serde_json::private::Number";

/// Whether any object in `values` or below them has a member named [`RESERVED_MEMBER`].
pub fn reserved_member_within<'a>(values: impl IntoIterator<Item = &'a Value>) -> bool {
    let mut pending: Vec<&Value> = values.into_iter().collect();
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(members) if members.contains_key(RESERVED_MEMBER) => return true,
            Value::Object(members) => pending.extend(members.values()),
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    false
}

/// Client information recorded with a session; bounded sizes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMetadata {
    /// The client's address as the API saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The client's User-Agent (at most 512 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// A free-form device label (at most 128 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl SessionMetadata {
    /// Longest accepted user agent, in bytes.
    pub const MAX_USER_AGENT: usize = 512;
    /// Longest accepted device label, in bytes.
    pub const MAX_DEVICE: usize = 128;

    /// Checks the bounded sizes and rejects control characters.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let check = |field: &'static str, value: &Option<String>, max: usize| {
            let Some(v) = value else { return Ok(()) };
            if v.len() > max {
                return Err(InvalidInput::new(
                    field,
                    format!("must be at most {max} bytes"),
                ));
            }
            if v.chars().any(char::is_control) {
                return Err(InvalidInput::new(
                    field,
                    "must not contain control characters",
                ));
            }
            Ok(())
        };
        check(
            "metadata.user_agent",
            &self.user_agent,
            Self::MAX_USER_AGENT,
        )?;
        check("metadata.device", &self.device, Self::MAX_DEVICE)
    }
}

/// A request to create a session.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// Owner of the session.
    pub user_id: UserId,
    /// Initial data. It lives in the device login's one record, so a refresh (also one
    /// after the session idled out) carries the latest data, never an older copy.
    pub data: SessionData,
    /// Client information.
    pub metadata: SessionMetadata,
    /// Idle timeout for this session; `None` uses the configured default. Must lie in
    /// the configured window.
    pub idle_ttl: Option<Duration>,
}

/// The timestamps and version of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionTimes {
    /// When the session was created.
    pub created_at: UnixMillis,
    /// When the session was last used (throttled by the touch interval).
    pub last_seen_at: UnixMillis,
    /// Idle expiry: the session ends here unless used again.
    pub expires_at: UnixMillis,
    /// Absolute expiry: no operation extends the session past it.
    pub absolute_expires_at: UnixMillis,
    /// Incremented by every data update.
    pub version: u64,
}

/// A session as read with its token.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Public id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// The application's data.
    pub data: SessionData,
    /// Client information.
    pub metadata: SessionMetadata,
    /// Timestamps and version.
    pub times: SessionTimes,
}

/// A session as read with its token, its data left as the JSON text the store holds
/// (for callers that pass it on without looking inside: no parse, no re-serialize).
#[derive(Clone, Debug)]
pub struct RawSession {
    /// Public id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// The application's data: a JSON object, exactly as stored.
    pub data: Box<serde_json::value::RawValue>,
    /// Client information.
    pub metadata: SessionMetadata,
    /// Timestamps and version.
    pub times: SessionTimes,
}

/// A session as listed for its user: metadata, never tokens or data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionSummary {
    /// Public id.
    pub id: SessionId,
    /// Client information.
    pub metadata: SessionMetadata,
    /// Timestamps and version.
    #[serde(flatten)]
    pub times: SessionTimes,
}

/// The result of a create.
#[derive(Clone, Debug)]
pub struct CreatedSession {
    /// The new device login's id (the session id; it stays the same across refreshes).
    pub session_id: SessionId,
    /// Bearer token for the session.
    pub session_token: SessionToken,
    /// Starts the login's refresh family.
    pub refresh_token: RefreshToken,
    /// Timestamps of the new session.
    pub times: SessionTimes,
    /// When the refresh family ends.
    pub refresh_expires_at: UnixMillis,
    /// Device logins revoked to make room under the per-user cap (`evict_lru`).
    pub evicted: Vec<SessionId>,
}

/// The result of a data update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Updated {
    /// The new version.
    pub version: u64,
    /// Last use (the update itself).
    pub last_seen_at: UnixMillis,
    /// Idle expiry after the update.
    pub expires_at: UnixMillis,
    /// Absolute expiry (unchanged).
    pub absolute_expires_at: UnixMillis,
}

/// The result of a token rotation.
#[derive(Clone, Debug)]
pub struct Rotated {
    /// The session's new token; the old one no longer works.
    pub session_token: SessionToken,
    /// The login's new refresh token; every earlier one is now retired (presenting one
    /// is reuse).
    pub refresh_token: RefreshToken,
    /// Idle expiry.
    pub expires_at: UnixMillis,
    /// Absolute expiry.
    pub absolute_expires_at: UnixMillis,
    /// When the refresh family ends (unchanged by a rotation).
    pub refresh_expires_at: UnixMillis,
}

/// The result of a refresh.
#[derive(Clone, Debug)]
pub struct Refreshed {
    /// The device login (the same id as before the refresh).
    pub session_id: SessionId,
    /// The login's new session token; the previous one no longer opens it.
    pub session_token: SessionToken,
    /// The family's next refresh token.
    pub refresh_token: RefreshToken,
    /// Idle expiry of the replacement session.
    pub expires_at: UnixMillis,
    /// Absolute expiry of the replacement session (never past the family's).
    pub absolute_expires_at: UnixMillis,
    /// When the refresh family ends.
    pub refresh_expires_at: UnixMillis,
    /// True when this answer repeats an earlier rotation (a retry inside the grace window).
    pub replayed: bool,
}

/// What a deletion token revokes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeletionTarget {
    /// One device login of the user: its session and its refresh family, whatever
    /// refreshes happen before the token is redeemed.
    Session {
        /// Owner (checked).
        user_id: UserId,
        /// The session.
        session_id: SessionId,
    },
    /// Every session and refresh family of the user.
    User {
        /// The user.
        user_id: UserId,
    },
}

/// A freshly issued deletion token.
#[derive(Clone, Debug)]
pub struct IssuedDeletionToken {
    /// Its public id.
    pub id: DeletionId,
    /// The token, to put in the link; shown once.
    pub token: DeletionToken,
    /// When it stops working.
    pub expires_at: UnixMillis,
}

/// Whether a deletion token targeted one session or a whole user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionScope {
    /// One session.
    Session,
    /// All of a user's sessions and families.
    User,
}

/// What a redemption revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redemption {
    /// The token's scope.
    pub scope: DeletionScope,
    /// The user whose sessions were targeted.
    pub user_id: UserId,
    /// Device logins revoked (empty when the target was already gone).
    pub revoked_sessions: Vec<SessionId>,
    /// How many of them still had a usable refresh family.
    pub revoked_families: u64,
}

/// What a revoke-all revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedAll {
    /// Device logins revoked.
    pub sessions: Vec<SessionId>,
    /// How many of them still had a usable refresh family.
    pub families: u64,
}

/// One page of a user's live sessions.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionPage {
    /// The sessions on this page, in order of when their logins end.
    pub sessions: Vec<SessionSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<u64>,
}
