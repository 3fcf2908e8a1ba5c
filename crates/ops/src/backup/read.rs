//! Reading and verifying a backup file (the format is described in
//! [`format`](super::format)).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::format::{
    BackupHeader, Entry, KeyDump, END, FORMAT_NAME, FORMAT_VERSION, GROUP, KEY, MAGIC,
    MAX_HEADER_AREA, MAX_PAYLOAD, TRAILER_LEN, TRAILER_MAGIC,
};
use crate::error::OpsError;
use crate::keyspace::{bucket, classify, KeyKind};

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
            if n.is_multiple_of(4096) {
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
    use crate::backup::format::{partial_path, BackupSource, Writer};
    use std::fs;

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
