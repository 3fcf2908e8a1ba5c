//! API keys: generation and hashing (for `sessiondb apikey new`), the configured key
//! ring, and the [`Authorized`] extractor that guards each route with one scope.
//!
//! Keys travel as `Authorization: Bearer <key>`. The configuration holds only SHA-256
//! hashes; a presented key is hashed and compared in constant time against every
//! configured hash (no early exit), so neither the key nor which entry matched leaks
//! through timing. A missing or unknown key is 401; a valid key without the route's scope
//! is 403. Logs carry the key's configured `name`, never the key or its hash.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::{ApiKeyConfig, Scope};
use crate::error::{ApiError, HttpError};
use crate::state::AppState;

/// Prefix of generated API keys (kind `k`, format version 1), so leaked keys are
/// recognisable by secret scanners.
const KEY_PREFIX: &str = "sdb_k1_";

/// Longest accepted `Authorization` header, in bytes.
pub(crate) const MAX_AUTHORIZATION_LEN: usize = 512;

/// Lowercase hex SHA-256 of an API key: the form the configuration stores.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new API key: `sdb_k1_` followed by 256 bits from the OS CSPRNG in base64url.
///
/// # Panics
/// When the operating system's random source is unavailable (nothing secure can be
/// generated then).
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// One configured key, decoded.
#[derive(Debug, Clone)]
struct Key {
    /// For logs and error messages.
    name: String,
    /// SHA-256 of the key.
    hash: [u8; 32],
    /// What it may do.
    scopes: Vec<Scope>,
}

/// Every accepted key.
#[derive(Debug, Clone)]
pub(crate) struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// Decodes the configured hashes; a malformed one is a configuration error.
    pub(crate) fn new(config: &[ApiKeyConfig]) -> Result<Self, HttpError> {
        let keys = config
            .iter()
            .map(|k| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&k.sha256_hex, &mut hash).map_err(|_| {
                    HttpError::InvalidConfig {
                        field: format!("api_keys[{}].sha256_hex", k.name),
                        reason: "must be 64 hexadecimal characters".to_owned(),
                    }
                })?;
                Ok(Key {
                    name: k.name.clone(),
                    hash,
                    scopes: k.scopes.clone(),
                })
            })
            .collect::<Result<_, HttpError>>()?;
        Ok(Self { keys })
    }

    /// The key matching `presented`, compared in constant time against every entry.
    fn find(&self, presented: &str) -> Option<&Key> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (i, key) in self.keys.iter().enumerate() {
            let matches = key.hash.ct_eq(&digest);
            index = u64::conditional_select(&index, &(i as u64), matches);
            found |= matches;
        }
        bool::from(found).then(|| &self.keys[index as usize])
    }

    /// Checks the `Authorization` header for a key holding `scope`.
    fn authorize(&self, parts: &Parts, scope: Scope) -> Result<&Key, ApiError> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(ApiError::Unauthorized { presented: false });
        };
        let presented = ApiError::Unauthorized { presented: true };
        if header.len() > MAX_AUTHORIZATION_LEN {
            return Err(presented);
        }
        let Some(key) = header.to_str().ok().and_then(bearer) else {
            return Err(presented);
        };
        let key = self.find(key).ok_or(presented)?;
        if !key.scopes.contains(&scope) {
            tracing::Span::current().record("api_key", key.name.as_str());
            return Err(ApiError::Forbidden { scope });
        }
        Ok(key)
    }
}

/// The credential of `Bearer <credential>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credential) = value.split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

/// A scope a route requires, as a type so the requirement shows in the handler signature.
pub(crate) trait RequiredScope: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// `sessions:read`.
#[derive(Debug)]
pub(crate) struct Read;
/// `sessions:write`.
#[derive(Debug)]
pub(crate) struct Write;
/// `sessions:admin`.
#[derive(Debug)]
pub(crate) struct Admin;

impl RequiredScope for Read {
    const SCOPE: Scope = Scope::SessionsRead;
}
impl RequiredScope for Write {
    const SCOPE: Scope = Scope::SessionsWrite;
}
impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::SessionsAdmin;
}

/// Proof that the request carries an API key holding scope `S`; put it first among a
/// handler's extractors so 401/403 come before any body parsing.
#[derive(Debug)]
pub(crate) struct Authorized<S>(PhantomData<S>);

impl<S: RequiredScope> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let key = app.keys.authorize(parts, S::SCOPE)?;
        tracing::Span::current().record("api_key", key.name.as_str());
        Ok(Self(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(&[
            ApiKeyConfig {
                name: "reader".to_owned(),
                sha256_hex: hash_api_key("key-r"),
                scopes: vec![Scope::SessionsRead],
            },
            ApiKeyConfig {
                name: "writer".to_owned(),
                sha256_hex: hash_api_key("key-w"),
                scopes: vec![Scope::SessionsWrite],
            },
        ])
        .expect("valid ring")
    }

    #[test]
    fn generated_keys_have_the_prefix_and_256_bits() {
        let key = generate_api_key();
        assert!(key.starts_with("sdb_k1_"));
        assert_eq!(key.len(), 7 + 43);
        assert_ne!(key, generate_api_key());
        assert_eq!(hash_api_key(&key).len(), 64);
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn find_matches_any_entry_and_nothing_else() {
        let ring = ring();
        assert_eq!(ring.find("key-r").map(|k| k.name.as_str()), Some("reader"));
        assert_eq!(ring.find("key-w").map(|k| k.name.as_str()), Some("writer"));
        assert!(ring.find("key-x").is_none());
        assert!(ring.find("").is_none());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn malformed_hash_is_a_config_error_naming_the_key() {
        let err = KeyRing::new(&[ApiKeyConfig {
            name: "svc".to_owned(),
            sha256_hex: "zz".to_owned(),
            scopes: vec![],
        }])
        .expect_err("invalid hex");
        assert!(err.to_string().contains("api_keys[svc]"), "{err}");
    }
}
