//! Secrets handed to clients: session, refresh and deletion tokens.
//!
//! Format: `sdb_<kind>1_<id><secret>` where `<kind>` is `s`, `r` or `d`, `<id>` is the
//! 25-character public id of what the token opens (it starts with the routing tag) and
//! `<secret>` is 256 bits from the OS CSPRNG in base64url. The recognisable prefix lets
//! secret scanners find leaked tokens.
//!
//! Redis only ever sees [`TokenHash`]es (the first 128 bits of the SHA-256 of the whole
//! token, as raw bytes: finding a token for a given hash still takes 2^128 work, and a
//! record holds several, so half the bytes matter). Refresh rotation
//! derives the successor tokens from the presented refresh token and a random per-rotation
//! nonce stored in Redis (HMAC-SHA-256), so a retried refresh inside the grace window can
//! be answered with the very same successor tokens although none is stored in clear: a
//! thief needs both the previous token and the nonce, and a copy of the database holds
//! neither the token nor anything to derive it from.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::InvalidInput;
use crate::ids::{is_base64url, parse_id, random_bytes, DeletionId, SessionId, ID_LEN};

/// Length of the encoded secret part (32 bytes, base64url without padding).
const SECRET_LEN: usize = 43;
/// Length of the kind prefix, e.g. `sdb_s1_`.
const PREFIX_LEN: usize = 7;
/// Total token length.
const TOKEN_LEN: usize = PREFIX_LEN + ID_LEN + SECRET_LEN;

/// Length of a stored token hash in bytes.
pub(crate) const HASH_LEN: usize = 16;

/// Truncated SHA-256 of a token: the only form in which a token reaches Redis.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TokenHash([u8; HASH_LEN]);

impl TokenHash {
    fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        let mut hash = [0u8; HASH_LEN];
        hash.copy_from_slice(&digest[..HASH_LEN]);
        Self(hash)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// First 8 hex characters of the hash: enough to trace a request in logs, useless
    /// to an attacker.
    pub(crate) fn log_prefix(&self) -> String {
        log_id(&self.0)
    }
}

/// The first 8 hex characters of a SHA-256: how a token appears in logs.
fn log_id(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// How a token appears in logs (the first 8 hex characters of its SHA-256), also for
/// text that is not a valid token: a request can be traced without revealing anything
/// usable. The same value as the parsed token's `log_id()`.
pub fn token_log_id(raw: &str) -> String {
    log_id(&Sha256::digest(raw.as_bytes()))
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", self.log_prefix())
    }
}

fn encode_secret(bytes: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a token's shape and returns its embedded id.
fn parse_token<'a>(
    field: &'static str,
    prefix: &'static str,
    token: &'a str,
) -> Result<&'a str, InvalidInput> {
    let bad = || InvalidInput::new(field, "is not a valid token");
    // Tokens are ASCII; checking that first makes every slice below fall on a character
    // boundary whatever a client sends.
    if token.len() != TOKEN_LEN || !token.is_ascii() || !token.starts_with(prefix) {
        return Err(bad());
    }
    let id = &token[PREFIX_LEN..PREFIX_LEN + ID_LEN];
    parse_id(field, id).map_err(|_| bad())?;
    if !token[PREFIX_LEN + ID_LEN..].bytes().all(is_base64url) {
        return Err(bad());
    }
    Ok(id)
}

macro_rules! token_type {
    ($(#[$doc:meta])* $name:ident, $id:ident, $prefix:literal, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            secret: SecretString,
            id: $id,
            /// Computed once: every lookup and log line needs it.
            hash: TokenHash,
        }

        impl $name {
            /// The kind prefix every token of this type starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Validates a token received from a client.
            pub fn parse(token: &str) -> Result<Self, InvalidInput> {
                let id = parse_token($field, $prefix, token)?;
                Ok(Self {
                    id: $id::parse(id).expect("the id was validated with the token"),
                    hash: TokenHash::of(token),
                    secret: SecretString::from(token.to_owned()),
                })
            }

            fn from_parts(id: $id, secret: &[u8; 32]) -> Self {
                let token = format!("{}{}{}", $prefix, id, encode_secret(secret));
                Self {
                    id,
                    hash: TokenHash::of(&token),
                    secret: SecretString::from(token),
                }
            }

            /// The public id embedded in the token.
            pub fn id(&self) -> &$id {
                &self.id
            }

            /// The token itself, to hand to the client. Never log it.
            pub fn expose_secret(&self) -> &str {
                self.secret.expose_secret()
            }

            pub(crate) fn hash(&self) -> &TokenHash {
                &self.hash
            }

            /// The first 8 hex characters of the token's SHA-256, to trace a request
            /// in logs without revealing anything usable.
            pub fn log_id(&self) -> String {
                self.hash.log_prefix()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("id", &self.id)
                    .field("hash", &self.hash())
                    .finish_non_exhaustive()
            }
        }
    };
}

token_type!(
    /// Bearer credential for one session (`sdb_s1_…`).
    SessionToken,
    SessionId,
    "sdb_s1_",
    "session_token"
);
token_type!(
    /// Credential that rotates a login's refresh family (`sdb_r1_…`); it embeds the
    /// login's session id.
    RefreshToken,
    SessionId,
    "sdb_r1_",
    "refresh_token"
);
token_type!(
    /// Single-use capability to revoke a session or all of a user's sessions (`sdb_d1_…`).
    DeletionToken,
    DeletionId,
    "sdb_d1_",
    "deletion_token"
);

impl SessionToken {
    pub(crate) fn generate(id: SessionId) -> Self {
        Self::from_parts(id, &random_bytes())
    }
}

impl DeletionToken {
    pub(crate) fn generate(id: DeletionId) -> Self {
        Self::from_parts(id, &random_bytes())
    }
}

/// Random per-rotation value stored in the login; with the previous refresh token it
/// determines the successor tokens.
pub(crate) fn new_nonce() -> [u8; 16] {
    random_bytes()
}

impl RefreshToken {
    pub(crate) fn generate(id: SessionId) -> Self {
        Self::from_parts(id, &random_bytes())
    }

    /// The tokens a rotation with `nonce` issues: the login's next refresh token and its
    /// next session token.
    pub(crate) fn successors(&self, nonce: &[u8]) -> (RefreshToken, SessionToken) {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = Hmac::<Sha256>::new_from_slice(self.expose_secret().as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(label);
            mac.update(nonce);
            mac.finalize().into_bytes().into()
        };
        (
            RefreshToken::from_parts(self.id.clone(), &derive(b"sessiondb/refresh\0")),
            SessionToken::from_parts(self.id.clone(), &derive(b"sessiondb/session\0")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn session_id() -> SessionId {
        SessionId::generate(UserId::parse("carol").unwrap().tag())
    }

    #[test]
    fn token_round_trips_and_has_kind_prefix() {
        let token = SessionToken::generate(session_id());
        assert!(token.expose_secret().starts_with("sdb_s1_"));
        let parsed = SessionToken::parse(token.expose_secret()).unwrap();
        assert_eq!(parsed.id(), token.id());
        assert!(parsed.hash() == token.hash());
    }

    #[test]
    fn tokens_of_another_kind_or_shape_are_rejected() {
        let token = SessionToken::generate(session_id());
        assert!(RefreshToken::parse(token.expose_secret()).is_err());
        assert!(SessionToken::parse(&token.expose_secret()[1..]).is_err());
        let mut bad = token.expose_secret().to_owned();
        bad.pop();
        bad.push('=');
        assert!(SessionToken::parse(&bad).is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = SessionToken::generate(session_id());
        let secret_part = &token.expose_secret()[PREFIX_LEN + ID_LEN..];
        let debug = format!("{token:?}");
        assert!(!debug.contains(secret_part), "{debug}");
    }

    #[test]
    fn non_ascii_input_of_token_length_is_rejected_not_sliced() {
        let token = SessionToken::generate(session_id());
        // Same byte length, with a two-byte character across the id/secret boundary.
        let mut bad = token.expose_secret()[..PREFIX_LEN + ID_LEN - 1].to_owned();
        bad.push('é');
        bad.push_str(&"A".repeat(SECRET_LEN - 1));
        assert_eq!(bad.len(), TOKEN_LEN);
        assert!(SessionToken::parse(&bad).is_err());
        assert!(DeletionToken::parse(&format!("{}a", "é".repeat(TOKEN_LEN / 2))).is_err());
    }

    #[test]
    fn successors_are_deterministic_per_nonce() {
        let refresh = RefreshToken::generate(session_id());
        let (r1, s1) = refresh.successors(b"n1");
        let (r2, s2) = refresh.successors(b"n1");
        let (r3, _) = refresh.successors(b"n2");
        assert_eq!(r1.expose_secret(), r2.expose_secret());
        assert_eq!(s1.expose_secret(), s2.expose_secret());
        assert_ne!(r1.expose_secret(), r3.expose_secret());
        assert_ne!(r1.expose_secret(), refresh.expose_secret());
        assert_eq!(r1.id(), refresh.id());
    }
}
