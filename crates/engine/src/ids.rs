//! Identifiers: user ids, routing tags and the public ids of device logins (sessions with
//! their refresh families) and deletion tokens.
//!
//! Every key of one user lives under one hash tag (`{<tag>}`), so every script's keys
//! share a Redis Cluster slot. The tag is one of [`TAG_BUCKETS`] buckets derived from a
//! hash of the user id: it routes without revealing the user. Public ids start with the
//! tag, so an id (or a token that embeds one) finds its keys with no other input.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::InvalidInput;

/// Number of routing buckets. Part of the key schema: changing it moves every key.
pub const TAG_BUCKETS: u16 = 1024;

/// Length of the random part of a public id (16 bytes, base64url).
const ID_RANDOM_LEN: usize = 22;
/// Length of a public id: 3 hex tag characters and the random part.
pub(crate) const ID_LEN: usize = 3 + ID_RANDOM_LEN;

/// A user id: 1–256 bytes of UTF-8 without control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Validates a user id.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidInput> {
        let value = value.into();
        if value.is_empty() || value.len() > 256 {
            return Err(InvalidInput::new("user_id", "must be 1-256 bytes of UTF-8"));
        }
        if value.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "user_id",
                "must not contain control characters",
            ));
        }
        Ok(Self(value))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The routing bucket of this user's keys.
    pub fn tag(&self) -> Tag {
        let digest = Sha256::new()
            .chain_update(b"sessiondb/tag\0")
            .chain_update(self.0.as_bytes())
            .finalize();
        Tag(u16::from_be_bytes([digest[0], digest[1]]) % TAG_BUCKETS)
    }

    /// The digest of the id used in key names.
    pub(crate) fn key_hash(&self) -> UserHash {
        let digest = Sha256::new()
            .chain_update(b"sessiondb/user\0")
            .chain_update(self.0.as_bytes())
            .finalize();
        UserHash(URL_SAFE_NO_PAD.encode(&digest[..16]))
    }
}

/// A fixed-length digest of a user id (128 bits, 22 base64url characters), used in key
/// names so they stay short and free of whatever bytes user ids contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserHash(String);

impl UserHash {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// A user hash as it appears in key names (tooling that walks the keyspace).
    pub(crate) fn from_key_part(part: &str) -> Self {
        Self(part.to_owned())
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserId").field(&self.0).finish()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

/// A routing bucket (`0..TAG_BUCKETS`), written as three lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u16);

impl Tag {
    /// Every bucket, in order (the cleanup pass visits each once per run).
    pub fn all() -> impl Iterator<Item = Tag> {
        (0..TAG_BUCKETS).map(Tag)
    }

    fn parse(hex: &[u8]) -> Option<Self> {
        if hex.len() != 3 {
            return None;
        }
        let mut n: u16 = 0;
        for &b in hex {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            n = n * 16 + u16::from(digit);
        }
        (n < TAG_BUCKETS).then_some(Tag(n))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03x}", self.0)
    }
}

/// Bytes from the operating system's CSPRNG, read in blocks of [`RANDOM_BLOCK`] per
/// thread so that a create (a session id and two tokens) usually makes no system call.
/// Every byte is handed out once and zeroed as it leaves the block, so the block never
/// holds a secret already given out.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    const { assert!(N <= RANDOM_BLOCK) };
    RANDOM.with_borrow_mut(|block| {
        if block.used + N > RANDOM_BLOCK {
            getrandom::fill(&mut block.bytes)
                .expect("the operating system's random source is available");
            block.used = 0;
        }
        let taken = &mut block.bytes[block.used..block.used + N];
        let mut out = [0u8; N];
        out.copy_from_slice(taken);
        taken.fill(0);
        block.used += N;
        out
    })
}

/// Bytes read from the operating system at a time, per thread.
const RANDOM_BLOCK: usize = 512;

struct RandomBlock {
    bytes: [u8; RANDOM_BLOCK],
    /// How many leading bytes were handed out (and zeroed).
    used: usize,
}

thread_local! {
    static RANDOM: std::cell::RefCell<RandomBlock> = const {
        std::cell::RefCell::new(RandomBlock { bytes: [0; RANDOM_BLOCK], used: RANDOM_BLOCK })
    };
}

pub(crate) fn random_id(tag: Tag) -> String {
    format!("{tag}{}", URL_SAFE_NO_PAD.encode(random_bytes::<16>()))
}

/// Checks the shape of a public id and returns its tag.
pub(crate) fn parse_id(field: &'static str, s: &str) -> Result<Tag, InvalidInput> {
    let bad = || InvalidInput::new(field, "is not a valid id");
    // Checked on bytes: input may hold multi-byte characters, and slicing a `str` across
    // one would panic.
    let bytes = s.as_bytes();
    if bytes.len() != ID_LEN || !bytes[3..].iter().copied().all(is_base64url) {
        return Err(bad());
    }
    Tag::parse(&bytes[..3]).ok_or_else(bad)
}

pub(crate) fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates the shape of an id received from outside.
            pub fn parse(s: &str) -> Result<Self, InvalidInput> {
                parse_id($field, s)?;
                Ok(Self(s.to_owned()))
            }

            pub(crate) fn generate(tag: Tag) -> Self {
                Self(random_id(tag))
            }

            /// The id's routing bucket.
            pub fn tag(&self) -> Tag {
                parse_id($field, &self.0).expect("ids are validated on construction")
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                parse_id($field, &value)?;
                Ok(Self(value))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

public_id!(
    /// The public, non-secret id of a device login: a session and its refresh-token
    /// family. It stays the same across token rotation and refresh, so it reaches the
    /// login (and every credential of it) for as long as the login lives.
    SessionId,
    "session_id"
);
public_id!(
    /// The public id of a deletion token.
    DeletionId,
    "deletion_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_draws_never_repeat_across_block_refills() {
        // 100 draws of 32 bytes span several blocks of RANDOM_BLOCK bytes.
        let draws: std::collections::HashSet<[u8; 32]> =
            (0..100).map(|_| random_bytes::<32>()).collect();
        assert_eq!(draws.len(), 100);
        assert!(draws.iter().all(|d| d.iter().any(|&b| b != 0)));
        RANDOM.with_borrow(|block| {
            assert!(
                block.bytes[..block.used].iter().all(|&b| b == 0),
                "handed-out bytes are zeroed"
            );
        });
    }

    #[test]
    fn user_id_rejects_empty_long_and_control_characters() {
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a".repeat(257)).is_err());
        assert!(UserId::parse("a\nb").is_err());
        assert!(UserId::parse("a".repeat(256)).is_ok());
        assert!(UserId::parse("zoë@example.com").is_ok());
    }

    #[test]
    fn tag_is_stable_and_in_range() {
        let user = UserId::parse("alice").unwrap();
        assert_eq!(user.tag(), user.tag());
        let tags: std::collections::HashSet<_> = (0..5000)
            .map(|i| UserId::parse(format!("u{i}")).unwrap().tag())
            .collect();
        assert!(
            tags.len() > 900,
            "users spread over the buckets: {}",
            tags.len()
        );
        assert!(tags.iter().all(|t| t.0 < TAG_BUCKETS));
    }

    #[test]
    fn ids_carry_their_tag_and_validate_shape() {
        let tag = UserId::parse("bob").unwrap().tag();
        let id = SessionId::generate(tag);
        assert_eq!(id.tag(), tag);
        assert_eq!(SessionId::parse(id.as_str()).unwrap(), id);
        assert!(SessionId::parse("fff").is_err());
        assert!(SessionId::parse(&format!("zzz{}", &id.as_str()[3..])).is_err());
        assert!(SessionId::parse(&format!("400{}", &id.as_str()[3..])).is_err());
        assert!(SessionId::parse(&format!("{}!", &id.as_str()[..ID_LEN - 1])).is_err());
    }

    #[test]
    fn multi_byte_characters_are_rejected_not_sliced() {
        // 25 bytes with a two-byte character across the 3-byte tag boundary.
        assert!(SessionId::parse("00é789012345678901234567").is_err());
        assert!(SessionId::parse("0aé").is_err());
        assert!(SessionId::parse(&"é".repeat(12)).is_err());
    }
}
