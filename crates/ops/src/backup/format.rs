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
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::OpsError;
use crate::keyspace::{bucket, classify, KeyKind};

/// First bytes of every backup file.
pub const MAGIC: &[u8; 8] = b"SDBACKUP";
/// First bytes of the trailer.
pub const TRAILER_MAGIC: &[u8; 8] = b"SDBTRAIL";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// `format` in every header.
pub const FORMAT_NAME: &str = "sessiondb-backup";

const HEADER_AREA: u32 = 4096;
const MAX_HEADER_AREA: u32 = 1 << 20;
const TRAILER_LEN: u64 = 8 + 8 + 32 + 32;
const GROUP: u8 = 0x01;
const KEY: u8 = 0x02;
const END: u8 = 0x00;
/// Largest `DUMP` payload accepted when reading (a record is under 64 KiB; the event
/// stream is the largest key).
const MAX_PAYLOAD: u32 = 1 << 30;
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

fn partial_path(target: &Path) -> PathBuf {
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

/// A backup file whose frame (magic, header, trailer, sizes) has been checked.
#[derive(Debug, Clone)]
pub struct BackupFile {
    path: PathBuf,
    /// The header.
    pub header: BackupHeader,
    body_start: u64,
    body_len: u64,
    body_hash: [u8; 32],
}

impl BackupFile {
    /// Opens `path` and checks everything but the body: magic, sizes (a truncated file
    /// is refused here), the header's checksum and the format version.
    pub fn open(path: &Path) -> Result<Self, OpsError> {
        let bad = |reason: String| OpsError::BadBackup {
            path: path.to_owned(),
            reason,
        };
        let io = |e| OpsError::io(path, e);
        let mut file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut head = [0u8; 12];
        if size < 12 {
            return Err(bad(format!(
                "truncated: {size} bytes is shorter than any backup"
            )));
        }
        file.read_exact(&mut head).map_err(io)?;
        if &head[..8] != MAGIC {
            return Err(bad("not a sessiondb backup (wrong magic bytes)".to_owned()));
        }
        let area_len = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        if area_len > MAX_HEADER_AREA {
            return Err(bad(format!(
                "corrupt: header length {area_len} is implausible"
            )));
        }
        let body_start = 12 + u64::from(area_len);
        if size < body_start + TRAILER_LEN {
            return Err(bad(format!(
                "truncated: {size} bytes cannot hold the header and the trailer"
            )));
        }
        let mut area = vec![0u8; area_len as usize];
        file.read_exact(&mut area).map_err(io)?;
        file.seek(SeekFrom::Start(size - TRAILER_LEN)).map_err(io)?;
        let mut trailer = [0u8; TRAILER_LEN as usize];
        file.read_exact(&mut trailer).map_err(io)?;
        if &trailer[..8] != TRAILER_MAGIC {
            return Err(bad(
                "truncated or corrupt: the trailer is missing".to_owned()
            ));
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&trailer[8..16]);
        let body_len = u64::from_be_bytes(word);
        if body_start + body_len + TRAILER_LEN != size {
            return Err(bad(format!(
                "truncated or corrupt: the trailer announces a {body_len}-byte body, the file holds {}",
                size.saturating_sub(body_start + TRAILER_LEN)
            )));
        }
        let header_hash = Sha256::new()
            .chain_update(head)
            .chain_update(&area)
            .finalize();
        if header_hash.as_slice() != &trailer[16..48] {
            return Err(bad(
                "corrupt: the header's checksum does not match".to_owned()
            ));
        }
        let header: BackupHeader = serde_json::from_slice(&area)
            .map_err(|e| bad(format!("corrupt: unreadable header: {e}")))?;
        if header.format != FORMAT_NAME || header.compression != "zstd" {
            return Err(bad(format!(
                "not a sessiondb backup (format {:?}, compression {:?})",
                header.format, header.compression
            )));
        }
        if header.format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} is not supported (this build reads version {FORMAT_VERSION})",
                header.format_version
            )));
        }
        let mut body_hash = [0u8; 32];
        body_hash.copy_from_slice(&trailer[48..80]);
        Ok(Self {
            path: path.to_owned(),
            header,
            body_start,
            body_len,
            body_hash,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn bad(&self, reason: String) -> OpsError {
        OpsError::BadBackup {
            path: self.path.clone(),
            reason,
        }
    }

    /// Reads the whole body: checks its SHA-256, decodes every entry, checks every key
    /// name and compares the counts with the header. Nothing is trusted before this
    /// passed. `progress` receives the compressed bytes read so far.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<(), OpsError> {
        let io = |e| OpsError::io(&self.path, e);
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(self.body_start)).map_err(io)?;
        let mut tee = Tee {
            inner: BufReader::new(file).take(self.body_len),
            hasher: Sha256::new(),
            read: 0,
        };
        let decoded = self.decode_all(&mut tee, progress);
        // Hash what the decoder did not need (or could not read) too.
        io::copy(&mut tee, &mut io::sink()).map_err(io)?;
        if tee.hasher.finalize().as_slice() != self.body_hash {
            return Err(self.bad("corrupt: the body's checksum does not match".to_owned()));
        }
        let (keys, users) = decoded?;
        if keys != self.header.key_count || users != self.header.user_count {
            return Err(self.bad(format!(
                "corrupt: the body holds {keys} keys of {users} users, the header says {} of {}",
                self.header.key_count, self.header.user_count
            )));
        }
        Ok(())
    }

    fn decode_all(
        &self,
        tee: &mut Tee,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(u64, u64), OpsError> {
        let mut entries = Entries::new(self, &mut *tee)?;
        let (mut keys, mut users) = (0u64, 0u64);
        let mut n = 0u64;
        while let Some(entry) = entries.next_entry()? {
            n += 1;
            check_entry(&entry).map_err(|why| self.bad(format!("corrupt: entry {n}: {why}")))?;
            keys += entry.keys();
            users += u64::from(matches!(entry, Entry::User(_)));
            if n % 4096 == 0 {
                progress(entries.compressed_read());
            }
        }
        progress(self.body_len);
        Ok((keys, users))
    }

    /// The entries, decoded from the start of the body. Call [`BackupFile::verify`]
    /// first.
    pub(crate) fn entries(&self) -> Result<Entries<BufReader<io::Take<File>>>, OpsError> {
        let io = |e| OpsError::io(&self.path, e);
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(self.body_start)).map_err(io)?;
        Entries::new(self, BufReader::new(file.take(self.body_len)))
    }
}

/// Whether an entry's key names fit the schema: a user is an index followed by records
/// of the same bucket; a key on its own is anything but an index, a marker or a foreign
/// key.
fn check_entry(entry: &Entry) -> Result<(), String> {
    match entry {
        Entry::User(keys) => {
            let Some((index, records)) = keys.split_first() else {
                return Err("a user without keys".to_owned());
            };
            let KeyKind::Index { tag } = classify(&index.name) else {
                return Err(format!("{:?} is not a user index", index.name));
            };
            for record in records {
                match classify(&record.name) {
                    KeyKind::Record { tag: t } if t == tag => {}
                    _ => {
                        return Err(format!(
                            "{:?} is not a record of {:?}",
                            record.name, index.name
                        ))
                    }
                }
            }
            Ok(())
        }
        Entry::Key(key) => match classify(&key.name) {
            KeyKind::Index { .. } | KeyKind::Marker | KeyKind::Foreign => {
                Err(format!("{:?} cannot be restored on its own", key.name))
            }
            _ => Ok(()),
        },
    }
}

/// Reads and hashes.
struct Tee {
    inner: io::Take<BufReader<File>>,
    hasher: Sha256,
    read: u64,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Counts compressed bytes read.
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Decodes entries from a body.
pub(crate) struct Entries<R: Read> {
    path: PathBuf,
    decoder: zstd::stream::read::Decoder<'static, BufReader<Counting<R>>>,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    done: bool,
}

impl<R: Read> Entries<R> {
    fn new(file: &BackupFile, body: R) -> Result<Self, OpsError> {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counting = Counting {
            inner: body,
            read: read.clone(),
        };
        let decoder = zstd::stream::read::Decoder::new(counting)
            .map_err(|e| file.bad(format!("corrupt: cannot start decompressing: {e}")))?;
        Ok(Self {
            path: file.path.clone(),
            decoder: decoder.single_frame(),
            read,
            done: false,
        })
    }

    /// Compressed bytes consumed so far.
    pub(crate) fn compressed_read(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn bad(&self, reason: impl std::fmt::Display) -> OpsError {
        OpsError::BadBackup {
            path: self.path.clone(),
            reason: format!("corrupt: {reason}"),
        }
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), OpsError> {
        self.decoder.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.bad("the body ends before its end marker"),
            _ => self.bad(format_args!("cannot decompress the body: {e}")),
        })
    }

    fn u16(&mut self) -> Result<u16, OpsError> {
        let mut b = [0u8; 2];
        self.exact(&mut b)?;
        Ok(u16::from_be_bytes(b))
    }

    fn u32(&mut self) -> Result<u32, OpsError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, OpsError> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    fn key(&mut self) -> Result<KeyDump, OpsError> {
        let mut name = vec![0u8; usize::from(self.u16()?)];
        self.exact(&mut name)?;
        let name = String::from_utf8(name).map_err(|_| self.bad("a key name is not UTF-8"))?;
        let expire_at_ms = self.u64()?;
        let len = self.u32()?;
        if len > MAX_PAYLOAD {
            return Err(self.bad(format_args!("a {len}-byte key is implausible")));
        }
        let mut payload = vec![0u8; len as usize];
        self.exact(&mut payload)?;
        Ok(KeyDump {
            name,
            expire_at_ms,
            payload,
        })
    }

    /// The next entry; `None` after the end marker.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, OpsError> {
        if self.done {
            return Ok(None);
        }
        let mut tag = [0u8; 1];
        self.exact(&mut tag)?;
        match tag[0] {
            END => {
                self.done = true;
                let mut rest = [0u8; 1];
                match self.decoder.read(&mut rest) {
                    Ok(0) => Ok(None),
                    Ok(_) => Err(self.bad("data follows the end marker")),
                    Err(e) => Err(self.bad(format_args!("cannot decompress the body: {e}"))),
                }
            }
            KEY => Ok(Some(Entry::Key(self.key()?))),
            GROUP => {
                let count = self.u32()?;
                if count == 0 || count > 1 + sessiondb_engine::MAX_SESSIONS_PER_USER * 4 {
                    return Err(self.bad(format_args!("a user with {count} keys is implausible")));
                }
                let keys = (0..count).map(|_| self.key()).collect::<Result<_, _>>()?;
                Ok(Some(Entry::User(keys)))
            }
            other => Err(self.bad(format_args!("unknown entry type {other:#04x}"))),
        }
    }
}

/// The bucket tag of an index's name, for the recount after a restore.
pub(crate) fn tag_of(name: &str) -> Option<&str> {
    bucket(name).map(|(tag, _)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BackupHeader {
        BackupHeader {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            schema_version: 2,
            key_prefix: "sdb".to_owned(),
            created_at_ms: 1,
            finished_at_ms: 2,
            source: BackupSource {
                topology: "standalone".to_owned(),
                read_from: "master".to_owned(),
                nodes: vec!["127.0.0.1:6379".to_owned()],
                redis_version: Some("7.0.15".to_owned()),
                as_of_unix_seconds: None,
            },
            key_count: 0,
            user_count: 0,
            compression: "zstd".to_owned(),
        }
    }

    fn key(name: &str, expire_at_ms: u64) -> KeyDump {
        KeyDump {
            name: name.to_owned(),
            expire_at_ms,
            payload: name.bytes().rev().collect(),
        }
    }

    #[test]
    fn entries_come_back_as_written_with_counts_in_the_header() -> Result<(), OpsError> {
        let dir = tempfile::tempdir().map_err(|e| OpsError::io("tempdir", e))?;
        let path = dir.path().join("b");
        let sid = "1a2bcdefghijklmnopqrstuvw";
        let entries = vec![
            Entry::User(vec![
                key("{1a2}:u:abcdefghijklmnopqrstuv", 0),
                key(&format!("{{1a2}}:s:{sid}"), 99),
            ]),
            Entry::Key(key("schema", 0)),
        ];
        let mut writer = Writer::create(&path)?;
        for entry in &entries {
            writer.write(entry)?;
        }
        let size = writer.finish(header())?;
        assert_eq!(
            fs::metadata(&path)
                .map_err(|e| OpsError::io(&path, e))?
                .len(),
            size
        );
        assert!(!partial_path(&path).exists());
        let file = BackupFile::open(&path)?;
        assert_eq!((file.header.key_count, file.header.user_count), (3, 1));
        file.verify(&mut |_| {})?;
        let mut read = Vec::new();
        let mut it = file.entries()?;
        while let Some(entry) = it.next_entry()? {
            read.push(entry);
        }
        assert_eq!(read, entries);
        Ok(())
    }

    #[test]
    fn entries_must_fit_the_key_schema() {
        let sid = "1a2bcdefghijklmnopqrstuvw";
        let index = key("{1a2}:u:abcdefghijklmnopqrstuv", 0);
        let other_bucket = key("{1a3}:s:1a3bcdefghijklmnopqrstuvw", 1);
        assert!(check_entry(&Entry::User(vec![
            index.clone(),
            key(&format!("{{1a2}}:s:{sid}"), 1)
        ]))
        .is_ok());
        assert!(check_entry(&Entry::User(vec![index.clone(), other_bucket])).is_err());
        assert!(check_entry(&Entry::Key(index)).is_err());
        assert!(check_entry(&Entry::Key(key("cleanup:lease", 1))).is_err());
        assert!(check_entry(&Entry::Key(key("elsewhere:x", 1))).is_err());
        assert!(check_entry(&Entry::Key(key("{1a2}:n", 0))).is_ok());
    }
}
