//! The device-login record as the scripts store it (`scripts/lib/record.lua`): a
//! MessagePack stream of fields in a fixed order, of which a session read decodes only
//! the leading ones.

use rmp::decode::{read_int, read_str_len};
use rmp::encode::{write_str_len, write_uint};

use crate::error::Error;

/// `KIND` of a live login (a reuse tombstone is `X`).
const LIVE: &[u8] = b"L";

/// The fields of a new record from `META` on (`META`, `DATA`, `CUR`, `PREV`, `NONCE`,
/// `ROTATED`, `GEN`, `RETIRED`), encoded as `cmsgpack.pack` would: `create_login`
/// (`lib/logins.lua`) appends them to the leading fields it fills in from Redis's clock,
/// so the script does not re-encode the data it was handed.
pub(crate) fn new_tail(metadata: &str, data: &str, refresh_hash: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(metadata.len() + data.len() + refresh_hash.len() + 24);
    for field in [metadata.as_bytes(), data.as_bytes(), refresh_hash, b"", b""] {
        put_str(&mut out, field);
    }
    write_uint(&mut out, 0).expect("writing to a Vec cannot fail"); // ROTATED
    write_uint(&mut out, 1).expect("writing to a Vec cannot fail"); // GEN
    put_str(&mut out, b""); // RETIRED
    out
}

/// A MessagePack string of raw bytes (Lua strings are bytes; `cmsgpack` packs them so).
fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("fields are bounded far below 4 GiB");
    write_str_len(out, len).expect("writing to a Vec cannot fail");
    out.extend_from_slice(bytes);
}

/// The fields of a record a session read or a listing needs, in stored order.
#[derive(Debug)]
pub(crate) struct Head {
    /// False for a tombstone.
    pub(crate) live: bool,
    /// Hash of the current session token.
    pub(crate) token_hash: Vec<u8>,
    pub(crate) user_id: String,
    pub(crate) created: u64,
    pub(crate) seen: u64,
    pub(crate) idle_expiry: u64,
    pub(crate) absolute_expiry: u64,
    pub(crate) version: u64,
    pub(crate) metadata: String,
    pub(crate) data: String,
}

impl Head {
    /// Decodes the leading fields of a record, ignoring the family fields after `data`.
    pub(crate) fn decode(script: &'static str, mut bytes: &[u8]) -> Result<Self, Error> {
        let bad = |detail: &str| Error::Protocol {
            script,
            detail: format!("stored record: {detail}"),
        };
        let rd = &mut bytes;
        let string = |rd: &mut &[u8]| -> Result<Vec<u8>, Error> {
            let len = read_str_len(rd).map_err(|_| bad("expected a string"))?;
            let len = usize::try_from(len).map_err(|_| bad("string too long"))?;
            if rd.len() < len {
                return Err(bad("truncated string"));
            }
            let (value, rest) = rd.split_at(len);
            *rd = rest;
            Ok(value.to_vec())
        };
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| bad("not UTF-8"));
        let int = |rd: &mut &[u8]| read_int::<u64, _>(rd).map_err(|_| bad("expected an integer"));
        let live = string(rd)? == LIVE;
        let token_hash = string(rd)?;
        let user_id = text(string(rd)?)?;
        let _user_hash = string(rd)?;
        let created = int(rd)?;
        let seen = int(rd)?;
        let idle_expiry = int(rd)?;
        let absolute_expiry = int(rd)?;
        let _idle_ms = int(rd)?;
        let version = int(rd)?;
        let _family_expiry = int(rd)?;
        let _family_idle = int(rd)?;
        let _family_used = int(rd)?;
        let metadata = text(string(rd)?)?;
        let data = text(string(rd)?)?;
        Ok(Self {
            live,
            token_hash,
            user_id,
            created,
            seen,
            idle_expiry,
            absolute_expiry,
            version,
            metadata,
            data,
        })
    }
}
