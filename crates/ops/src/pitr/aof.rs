//! Reading a Redis 7 multi-part append-only file: the manifest, the base file's
//! creation time and the timestamp annotations (`#TS:<unix seconds>`, written with
//! `aof-timestamp-enabled yes`) of the incremental files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::OpsError;

/// One `file … seq … type …` line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManifestEntry {
    pub(crate) name: String,
    pub(crate) seq: u64,
    /// `b` base, `h` history (not loaded), `i` incremental.
    pub(crate) kind: char,
    /// The line as written, to write it back unchanged.
    pub(crate) line: String,
}

/// The manifest of an AOF directory.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    /// The manifest's file name (`<appendfilename>.manifest`).
    pub(crate) file_name: String,
    pub(crate) entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Finds and parses the one `*.manifest` file in `dir`.
    pub(crate) fn find(dir: &Path) -> Result<Self, OpsError> {
        let io = |e| OpsError::io(dir, e);
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let name = entry
                .map_err(io)?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".manifest") {
                found.push(name);
            }
        }
        let file_name = match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(OpsError::invalid(
                    "AOF directory",
                    format!(
                    "{} holds no *.manifest file; point at the appendonlydir of a Redis 7 server",
                    dir.display()
                ),
                ))
            }
            _ => {
                return Err(OpsError::invalid(
                    "AOF directory",
                    format!(
                        "{} holds several manifests: {}",
                        dir.display(),
                        found.join(", ")
                    ),
                ))
            }
        };
        let path = dir.join(&file_name);
        let text = std::fs::read_to_string(&path).map_err(|e| OpsError::io(&path, e))?;
        let entries = parse_manifest(&text).map_err(|reason| {
            OpsError::invalid("AOF manifest", format!("{}: {reason}", path.display()))
        })?;
        Ok(Self { file_name, entries })
    }

    /// The base file, if any.
    pub(crate) fn base(&self) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.kind == 'b')
    }

    /// The incremental files in the order Redis applies them.
    pub(crate) fn incrs(&self) -> Vec<&ManifestEntry> {
        let mut incrs: Vec<&ManifestEntry> =
            self.entries.iter().filter(|e| e.kind == 'i').collect();
        incrs.sort_by_key(|e| e.seq);
        incrs
    }

    /// `<appendfilename>` (the manifest's name without `.manifest`).
    pub(crate) fn append_file_name(&self) -> &str {
        self.file_name.trim_end_matches(".manifest")
    }
}

fn parse_manifest(text: &str) -> Result<Vec<ManifestEntry>, String> {
    let mut entries = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut name = None;
        let mut seq = None;
        let mut kind = None;
        for pair in words.chunks(2) {
            match pair {
                ["file", v] => name = Some(*v),
                ["seq", v] => seq = v.parse::<u64>().ok(),
                ["type", v] => kind = v.chars().next(),
                _ => {}
            }
        }
        match (name, seq, kind) {
            (Some(name), Some(seq), Some(kind)) if !name.contains(['"', '\'', '/']) => {
                entries.push(ManifestEntry {
                    name: name.to_owned(),
                    seq,
                    kind,
                    line: line.to_owned(),
                });
            }
            _ => return Err(format!("cannot read the line {line:?}")),
        }
    }
    if entries.iter().filter(|e| e.kind == 'b').count() > 1 {
        return Err("more than one base file".to_owned());
    }
    Ok(entries)
}

/// When a base file was written: `ctime` of an RDB base, or the first timestamp
/// annotation of an AOF base. `None` when the file does not say.
pub(crate) fn base_time(path: &Path) -> Result<Option<u64>, OpsError> {
    let file = File::open(path).map_err(|e| OpsError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 9];
    let read = reader.read(&mut magic).map_err(|e| OpsError::io(path, e))?;
    if read == 9 && magic.starts_with(b"REDIS") {
        return Ok(rdb_ctime(&mut reader));
    }
    let first = String::from_utf8_lossy(&magic[..read]).into_owned();
    let mut line = first;
    reader
        .read_line(&mut line)
        .map_err(|e| OpsError::io(path, e))?;
    Ok(line
        .strip_prefix("#TS:")
        .and_then(|ts| ts.trim_end().parse().ok()))
}

/// Reads the auxiliary fields at the start of an RDB file (after the 9-byte magic) up
/// to `ctime`.
fn rdb_ctime(reader: &mut impl Read) -> Option<u64> {
    const AUX: u8 = 0xFA;
    loop {
        let mut op = [0u8; 1];
        reader.read_exact(&mut op).ok()?;
        if op[0] != AUX {
            return None;
        }
        let key = rdb_string(reader)?;
        let value = rdb_string(reader)?;
        if key == b"ctime" {
            return std::str::from_utf8(&value).ok()?.parse().ok();
        }
    }
}

/// An RDB string: length-prefixed, or an integer encoding (returned as its decimal
/// text). LZF-compressed strings do not occur among the auxiliary fields read here.
fn rdb_string(reader: &mut impl Read) -> Option<Vec<u8>> {
    let mut b = [0u8; 1];
    reader.read_exact(&mut b).ok()?;
    let len = match b[0] >> 6 {
        0 => u64::from(b[0] & 0x3F),
        1 => {
            let mut next = [0u8; 1];
            reader.read_exact(&mut next).ok()?;
            (u64::from(b[0] & 0x3F) << 8) | u64::from(next[0])
        }
        2 if b[0] == 0x80 => {
            let mut n = [0u8; 4];
            reader.read_exact(&mut n).ok()?;
            u64::from(u32::from_be_bytes(n))
        }
        2 if b[0] == 0x81 => {
            let mut n = [0u8; 8];
            reader.read_exact(&mut n).ok()?;
            u64::from_be_bytes(n)
        }
        3 => {
            let value: i64 = match b[0] & 0x3F {
                0 => {
                    let mut n = [0u8; 1];
                    reader.read_exact(&mut n).ok()?;
                    i64::from(n[0] as i8)
                }
                1 => {
                    let mut n = [0u8; 2];
                    reader.read_exact(&mut n).ok()?;
                    i64::from(i16::from_le_bytes(n))
                }
                2 => {
                    let mut n = [0u8; 4];
                    reader.read_exact(&mut n).ok()?;
                    i64::from(i32::from_le_bytes(n))
                }
                _ => return None,
            };
            return Some(value.to_string().into_bytes());
        }
        _ => return None,
    };
    if len > 1 << 20 {
        return None;
    }
    let mut value = vec![0u8; usize::try_from(len).ok()?];
    reader.read_exact(&mut value).ok()?;
    Some(value)
}

/// What the timestamp annotations of one incremental file say about `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timeline {
    /// The first annotation's time.
    pub(crate) first: Option<u64>,
    /// The last annotation's time.
    pub(crate) last: Option<u64>,
    /// Where the first annotation later than `to` starts, if any.
    pub(crate) cut_at: Option<u64>,
}

/// Walks the commands of an incremental AOF file (RESP arrays and `#` annotations,
/// so payload bytes are never mistaken for annotations) and reports its timeline
/// relative to `to` (Unix seconds). A partial command at the end (a copy of a file
/// being written) ends the walk.
pub(crate) fn timeline(path: &Path, to: u64) -> Result<Timeline, OpsError> {
    let file = File::open(path).map_err(|e| OpsError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut timeline = Timeline {
        first: None,
        last: None,
        cut_at: None,
    };
    let mut offset = 0u64;
    let mut line = Vec::new();
    let bad = |offset: u64, what: &str| {
        OpsError::invalid(
            "AOF file",
            format!("{} at byte {offset}: {what}", path.display()),
        )
    };
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| OpsError::io(path, e))?;
        if n == 0 || !line.ends_with(b"\r\n") {
            return Ok(timeline);
        }
        let start = offset;
        offset += n as u64;
        match line.first() {
            Some(b'#') => {
                let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
                if let Some(ts) = text.strip_prefix("TS:").and_then(|t| t.parse::<u64>().ok()) {
                    timeline.first.get_or_insert(ts);
                    timeline.last = Some(ts);
                    if ts > to && timeline.cut_at.is_none() {
                        timeline.cut_at = Some(start);
                    }
                }
            }
            Some(b'*') => {
                let count: u64 = std::str::from_utf8(&line[1..line.len() - 2])
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| bad(start, "unreadable command"))?;
                for _ in 0..count {
                    line.clear();
                    let n = reader
                        .read_until(b'\n', &mut line)
                        .map_err(|e| OpsError::io(path, e))?;
                    if n == 0 || !line.ends_with(b"\r\n") {
                        return Ok(timeline);
                    }
                    offset += n as u64;
                    let len: u64 = line
                        .strip_prefix(b"$")
                        .and_then(|l| std::str::from_utf8(&l[..l.len() - 2]).ok())
                        .and_then(|l| l.parse().ok())
                        .ok_or_else(|| bad(offset, "unreadable argument"))?;
                    let skipped = io::copy(&mut (&mut reader).take(len + 2), &mut io::sink())
                        .map_err(|e| OpsError::io(path, e))?;
                    if skipped < len + 2 {
                        return Ok(timeline);
                    }
                    offset += skipped;
                }
            }
            _ => return Err(bad(start, "neither a command nor an annotation")),
        }
    }
}

/// Which incremental files a recovery to `to` keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Files kept, in order; the last may need truncating.
    pub(crate) keep: Vec<String>,
    /// Files dropped: everything in them happened after `to`.
    pub(crate) drop: Vec<String>,
    /// The kept file that holds writes after `to` (truncated by `redis-check-aof`).
    pub(crate) truncate: Option<String>,
    /// The last annotation in the files, for "the AOF ends at …".
    pub(crate) ends_at: Option<u64>,
}

/// Keeps every incremental file up to the first one with an annotation later than
/// `to`; that one is kept for truncation unless it starts with such an annotation
/// (then it holds nothing from before `to` and is dropped).
pub(crate) fn select(files: &[(String, Timeline)]) -> Selection {
    let mut selection = Selection {
        keep: Vec::new(),
        drop: Vec::new(),
        truncate: None,
        ends_at: files.iter().filter_map(|(_, t)| t.last).max(),
    };
    let mut cut = false;
    for (name, timeline) in files {
        if cut {
            selection.drop.push(name.clone());
            continue;
        }
        match timeline.cut_at {
            None => selection.keep.push(name.clone()),
            Some(0) => {
                selection.drop.push(name.clone());
                cut = true;
            }
            Some(_) => {
                selection.keep.push(name.clone());
                selection.truncate = Some(name.clone());
                cut = true;
            }
        }
    }
    selection
}

/// The path of `name` inside `dir`.
pub(crate) fn in_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn command(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(bytes))
            .expect("test file written");
        path
    }

    #[test]
    fn annotations_inside_values_are_not_timestamps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bytes = b"#TS:100\r\n".to_vec();
        bytes.extend(command(&[b"SET", b"k", b"x\r\n#TS:999\r\n"]));
        bytes.extend_from_slice(b"#TS:105\r\n");
        let second = bytes.len() as u64 - 9;
        bytes.extend(command(&[b"SET", b"k", b"y"]));
        bytes.extend_from_slice(b"*3\r\n$3\r\nSET"); // a partial command at the end
        let path = write(dir.path(), "a.incr.aof", &bytes);
        let t = timeline(&path, 102).expect("readable");
        assert_eq!(t.first, Some(100));
        assert_eq!(t.last, Some(105));
        assert_eq!(t.cut_at, Some(second));
        assert_eq!(timeline(&path, 200).expect("readable").cut_at, None);
        assert_eq!(timeline(&path, 50).expect("readable").cut_at, Some(0));
    }

    #[test]
    fn files_after_the_time_are_dropped_and_the_one_spanning_it_truncated() {
        let t = |cut_at: Option<u64>| Timeline {
            first: Some(1),
            last: Some(9),
            cut_at,
        };
        let files = vec![
            ("1".to_owned(), t(None)),
            ("2".to_owned(), t(Some(40))),
            ("3".to_owned(), t(Some(0))),
        ];
        let s = select(&files);
        assert_eq!(s.keep, ["1", "2"]);
        assert_eq!(s.drop, ["3"]);
        assert_eq!(s.truncate.as_deref(), Some("2"));

        let files = vec![("1".to_owned(), t(None)), ("2".to_owned(), t(Some(0)))];
        let s = select(&files);
        assert_eq!(
            (s.keep.as_slice(), s.truncate.as_deref()),
            (&["1".to_owned()][..], None)
        );
    }

    #[test]
    fn manifests_list_base_history_and_incremental_files() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
            file appendonly.aof.1.incr.aof seq 1 type h\n\
            file appendonly.aof.3.incr.aof seq 3 type i\n\
            file appendonly.aof.2.incr.aof seq 2 type i\n";
        let entries = parse_manifest(text).expect("readable");
        let manifest = Manifest {
            file_name: "appendonly.aof.manifest".to_owned(),
            entries,
        };
        assert_eq!(
            manifest.base().map(|b| b.name.as_str()),
            Some("appendonly.aof.2.base.rdb")
        );
        let incrs: Vec<&str> = manifest.incrs().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            incrs,
            ["appendonly.aof.2.incr.aof", "appendonly.aof.3.incr.aof"]
        );
        assert_eq!(manifest.append_file_name(), "appendonly.aof");
        assert!(parse_manifest("file \"a b\" seq 1 type b\n").is_err());
    }

    #[test]
    fn rdb_ctime_is_read_from_the_auxiliary_fields() {
        let mut rdb = b"REDIS0010".to_vec();
        rdb.extend_from_slice(&[0xFA, 9]);
        rdb.extend_from_slice(b"redis-ver");
        rdb.extend_from_slice(&[6]);
        rdb.extend_from_slice(b"7.0.15");
        rdb.extend_from_slice(&[0xFA, 5]);
        rdb.extend_from_slice(b"ctime");
        rdb.push(0xC2);
        rdb.extend_from_slice(&1_700_000_000i32.to_le_bytes());
        rdb.push(0xFE);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "b.rdb", &rdb);
        assert_eq!(base_time(&path).expect("readable"), Some(1_700_000_000));
        let path = write(
            dir.path(),
            "b.aof",
            b"#TS:1700000001\r\n*1\r\n$4\r\nPING\r\n",
        );
        assert_eq!(base_time(&path).expect("readable"), Some(1_700_000_001));
    }
}
