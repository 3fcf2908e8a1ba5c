//! The backup file format, version 1.
//!
//! ```text
//! offset              size   field
//! 0                   8      magic "SDBACKUP"
//! 8                   4      header length H (big-endian u32; 4096 in version 1)
//! 12                  H      header: UTF-8 JSON (BackupHeader), padded with spaces
//! 12+H                B      body: one zstd frame (with its content checksum) of entries
//! 12+H+B              8      trailer magic "SDBTRAIL"
//! 20+H+B              8      body length B (big-endian u64)
//! 28+H+B              32     SHA-256 of bytes 0 .. 12+H (magic, length, header)
//! 60+H+B              32     SHA-256 of the body
//! ```
//!
//! The decompressed body is a sequence of entries (integers big-endian):
//!
//! ```text
//! entry := 0x01 count:u32 key × count    one user: the index first, then its records
//!        | 0x02 key                      one key on its own
//!        | 0x00                          end of the body (exactly once, last)
//! key   := name_len:u16 name expire_at_ms:u64 payload_len:u32 payload
//! ```
//!
//! `name` is the key name without `<prefix>:` (so a backup can be restored under
//! another prefix); `expire_at_ms` is when the key expires (Unix ms, Redis's clock;
//! 0 = no expiry); `payload` is the key's `DUMP` serialization.
//!
//! Files are written to `<file>.partial` (mode 0600) and renamed into place once
//! complete, so a file under the final name is always whole.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::OpsError;

/// First bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"SDBACKUP";
/// First bytes of the trailer.
pub const TRAILER_MAGIC: &[u8; 8] = b"SDBTRAIL";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// `format` in every header.
pub const FORMAT_NAME: &str = "sessiondb-backup";

pub(crate) const HEADER_AREA: u32 = 4096;
pub(crate) const MAX_HEADER_AREA: u32 = 1 << 20;
pub(crate) const TRAILER_LEN: u64 = 8 + 8 + 32 + 32;
pub(crate) const GROUP: u8 = 0x01;
pub(crate) const KEY: u8 = 0x02;
pub(crate) const END: u8 = 0x00;
/// Largest `DUMP` payload accepted when reading (a record is under 64 KiB; the event
/// stream is the largest key).
pub(crate) const MAX_PAYLOAD: u32 = 1 << 30;
/// zstd level: fast, and most of a record is random hashes that do not compress anyway.
const LEVEL: i32 = 3;

/// Where a backup was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSource {
    /// `standalone`, `sentinel`, `cluster` or `aof` (point-in-time recovery).
    pub topology: String,
    /// `master` or `replica`.
    pub read_from: String,
    /// The nodes read (`host:port`), or the AOF directory.
    pub nodes: Vec<String>,
    /// `redis_version` of the first node read; `DUMP` payloads restore into this or a
    /// later Redis version.
    pub redis_version: Option<String>,
    /// For a point-in-time recovery: the second the data is as of (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of_unix_seconds: Option<u64>,
}

/// The header of a backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// Always `sessiondb-backup`.
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The key schema version of the data (`<prefix>:schema`).
    pub schema_version: u32,
    /// The key prefix the data was read under.
    pub key_prefix: String,
    /// When reading started (Unix ms, Redis's clock).
    pub created_at_ms: u64,
    /// When reading ended (Unix ms, Redis's clock).
    pub finished_at_ms: u64,
    /// Where the data came from.
    pub source: BackupSource,
    /// Keys in the body.
    pub key_count: u64,
    /// Users (index with its records) in the body.
    pub user_count: u64,
    /// Always `zstd`.
    pub compression: String,
}

/// One key as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDump {
    /// The name without `<prefix>:`.
    pub(crate) name: String,
    /// Unix ms; 0 = no expiry.
    pub(crate) expire_at_ms: u64,
    /// `DUMP` serialization.
    pub(crate) payload: Vec<u8>,
}

/// One body entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A user's index (first) and records, read in one atomic script call.
    User(Vec<KeyDump>),
    /// A key read on its own.
    Key(KeyDump),
}

impl Entry {
    pub(crate) fn keys(&self) -> u64 {
        match self {
            Entry::User(keys) => keys.len() as u64,
            Entry::Key(_) => 1,
        }
    }
}

/// Counts and hashes what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a backup file entry by entry.
pub(crate) struct Writer {
    partial: PathBuf,
    target: PathBuf,
    encoder: zstd::stream::write::Encoder<'static, Hashing<BufWriter<File>>>,
    keys: u64,
    users: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("target", &self.target)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

pub(crate) fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}

impl Writer {
    /// Starts `<target>.partial` (owner-only), with room for the header.
    pub(crate) fn create(target: &Path) -> Result<Self, OpsError> {
        if target.file_name().is_none() {
            return Err(OpsError::invalid(
                "output file",
                format!("{} is not a file name", target.display()),
            ));
        }
        let partial = partial_path(target);
        let io = |e| OpsError::io(&partial, e);
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = BufWriter::new(options.open(&partial).map_err(io)?);
        file.write_all(MAGIC).map_err(io)?;
        file.write_all(&HEADER_AREA.to_be_bytes()).map_err(io)?;
        file.write_all(&[b' '; HEADER_AREA as usize]).map_err(io)?;
        let body = Hashing {
            inner: file,
            hasher: Sha256::new(),
            len: 0,
        };
        let mut encoder = zstd::stream::write::Encoder::new(body, LEVEL).map_err(io)?;
        encoder.include_checksum(true).map_err(io)?;
        Ok(Self {
            partial,
            target: target.to_owned(),
            encoder,
            keys: 0,
            users: 0,
        })
    }

    /// Appends one entry.
    pub(crate) fn write(&mut self, entry: &Entry) -> Result<(), OpsError> {
        let mut buf = Vec::new();
        match entry {
            Entry::User(keys) => {
                buf.push(GROUP);
                buf.extend_from_slice(&u32::try_from(keys.len()).unwrap_or(u32::MAX).to_be_bytes());
                for key in keys {
                    encode_key(&mut buf, key)?;
                }
                self.users += 1;
            }
            Entry::Key(key) => {
                buf.push(KEY);
                encode_key(&mut buf, key)?;
            }
        }
        self.keys += entry.keys();
        self.encoder
            .write_all(&buf)
            .map_err(|e| OpsError::io(&self.partial, e))
    }

    /// Keys and users written so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.keys, self.users)
    }

    /// Compressed bytes written so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.encoder.get_ref().len
    }

    /// Ends the body, writes the header (with the final counts) and the trailer, syncs
    /// and renames the file into place. Returns the file's size. On failure the partial
    /// file is removed.
    pub(crate) fn finish(self, header: BackupHeader) -> Result<u64, OpsError> {
        let partial = self.partial.clone();
        let finished = self.complete(header);
        if finished.is_err() {
            let _ = fs::remove_file(&partial);
        }
        finished
    }

    fn complete(mut self, mut header: BackupHeader) -> Result<u64, OpsError> {
        let partial = self.partial.clone();
        let io = |e| OpsError::io(&partial, e);
        self.encoder.write_all(&[END]).map_err(io)?;
        let body = self.encoder.finish().map_err(io)?;
        let (mut file, body_hash, body_len) = (body.inner, body.hasher.finalize(), body.len);
        header.key_count = self.keys;
        header.user_count = self.users;
        let mut area = serde_json::to_vec(&header)
            .map_err(|e| OpsError::invalid("backup header", e.to_string()))?;
        if area.len() > HEADER_AREA as usize {
            return Err(OpsError::invalid(
                "backup header",
                format!("{} bytes do not fit in {HEADER_AREA}", area.len()),
            ));
        }
        area.resize(HEADER_AREA as usize, b' ');
        let header_hash = Sha256::new()
            .chain_update(MAGIC)
            .chain_update(HEADER_AREA.to_be_bytes())
            .chain_update(&area)
            .finalize();
        file.write_all(TRAILER_MAGIC).map_err(io)?;
        file.write_all(&body_len.to_be_bytes()).map_err(io)?;
        file.write_all(&header_hash).map_err(io)?;
        file.write_all(&body_hash).map_err(io)?;
        let mut file = file.into_inner().map_err(|e| io(e.into_error()))?;
        file.seek(SeekFrom::Start(12)).map_err(io)?;
        file.write_all(&area).map_err(io)?;
        file.sync_all().map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        drop(file);
        fs::rename(&self.partial, &self.target).map_err(|e| OpsError::io(&self.target, e))?;
        Ok(size)
    }

    /// Removes the partial file (after a failure).
    pub(crate) fn abandon(self) {
        let partial = self.partial.clone();
        drop(self);
        let _ = fs::remove_file(partial);
    }
}

fn encode_key(buf: &mut Vec<u8>, key: &KeyDump) -> Result<(), OpsError> {
    let name_len = u16::try_from(key.name.len())
        .map_err(|_| OpsError::invalid("key name", format!("{} is too long", key.name)))?;
    let payload_len = u32::try_from(key.payload.len())
        .map_err(|_| OpsError::invalid("key", format!("{} is too large to back up", key.name)))?;
    buf.extend_from_slice(&name_len.to_be_bytes());
    buf.extend_from_slice(key.name.as_bytes());
    buf.extend_from_slice(&key.expire_at_ms.to_be_bytes());
    buf.extend_from_slice(&payload_len.to_be_bytes());
    buf.extend_from_slice(&key.payload);
    Ok(())
}
