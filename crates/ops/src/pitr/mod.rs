//! Point-in-time recovery from an append-only file (Redis 7 multi-part AOF with
//! `aof-timestamp-enabled yes`, as the shipped configurations run).
//!
//! 1. The AOF directory's manifest names a base file (a snapshot written when the AOF
//!    was last rewritten) and incremental files of commands, annotated with
//!    `#TS:<unix seconds>` whenever the second changes. The base must be older than the
//!    requested time (else an older copy of the AOF directory is needed).
//! 2. The base and the incremental files up to the one holding the requested time are
//!    copied to a work directory; later files are left out (everything in them
//!    happened afterwards). The manifest of the copy lists what was copied.
//! 3. `redis-check-aof --truncate-to-timestamp <time>` cuts the last copied file at the
//!    first annotation later than the time and checks every file.
//! 4. A temporary `redis-server` (on loopback, no persistence of its own beyond the
//!    copy) loads the copy; the state it holds is the state at the end of that second,
//!    minus what has expired since.
//! 5. A backup of that state is written ([`crate::backup`](mod@crate::backup)'s format), for `restore`.
//!
//! The AOF files themselves are only read.

pub(crate) mod aof;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sessiondb_engine::ConnectionConfig;
use sessiondb_local::{RedisOptions, RedisServer};

use crate::backup::{BackupProgress, BackupReport, Export, Label, Source};
use crate::error::OpsError;
use crate::human;
use crate::outcome::ExitStatus;
use aof::{base_time, in_dir, select, timeline, Manifest};

/// The directory name the copy gets inside the work directory.
const COPY_DIR: &str = "appendonlydir";

/// The longest the temporary server may take to load the copy.
const LOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// What to recover.
#[derive(Debug, Clone)]
pub struct PitrOptions {
    /// The AOF directory (`appendonlydir`, holding the manifest), or the data directory
    /// that contains it.
    pub aof_dir: PathBuf,
    /// The time to recover to, in Unix seconds: the state at the end of that second.
    pub to_unix_seconds: u64,
    /// Where the copy and the temporary server live (needs about the AOF's size free);
    /// the system's temporary directory by default. Removed afterwards.
    pub work_dir: Option<PathBuf>,
}

/// What `pitr` did.
///
/// Exit status 0 ([`PitrReport::exit_status`]); a recovery that cannot be done (no
/// manifest, a base newer than the time, `redis-check-aof` failing) returns an
/// [`OpsError`] (exit status 2) and writes no file.
///
/// JSON: `{"status", "aof_dir", "to_unix_seconds", "base_written_at", "aof_ends_at",
/// "files_kept", "files_dropped", "truncated", "note", "load_ms", "backup":
/// BackupReport}`.
#[derive(Debug, Clone, Serialize)]
pub struct PitrReport {
    /// Always `ok`.
    pub status: ExitStatus,
    /// The AOF directory read.
    pub aof_dir: PathBuf,
    /// The time recovered to.
    pub to_unix_seconds: u64,
    /// When the base file was written (Unix seconds), when it says.
    pub base_written_at: Option<u64>,
    /// The last timestamp annotation in the AOF (Unix seconds).
    pub aof_ends_at: Option<u64>,
    /// Files loaded (base first).
    pub files_kept: Vec<String>,
    /// Incremental files left out: they only hold later writes.
    pub files_dropped: Vec<String>,
    /// The file cut at the requested time.
    pub truncated: Option<String>,
    /// Something the operator should know (e.g. the AOF ends before the time).
    pub note: Option<String>,
    /// Time spent copying, checking and loading the AOF.
    pub load_ms: u64,
    /// The backup written of the recovered state.
    pub backup: BackupReport,
}

impl PitrReport {
    /// Always 0.
    pub fn exit_status(&self) -> ExitStatus {
        self.status
    }
}

impl fmt::Display for PitrReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "recovered {} as of {} (end of that second)",
            self.aof_dir.display(),
            human::instant(self.to_unix_seconds * 1000)
        )?;
        writeln!(
            f,
            "  loaded: {} (copied, checked and loaded in {})",
            self.files_kept.join(", "),
            human::duration(Duration::from_millis(self.load_ms))
        )?;
        if let Some(file) = &self.truncated {
            writeln!(f, "  cut at the time: {file}")?;
        }
        if !self.files_dropped.is_empty() {
            writeln!(
                f,
                "  left out (later writes only): {}",
                self.files_dropped.join(", ")
            )?;
        }
        if let Some(note) = &self.note {
            writeln!(f, "  note: {note}")?;
        }
        write!(f, "{}", self.backup)?;
        writeln!(
            f,
            "apply it with `sessiondb restore {}`",
            self.backup.file.display()
        )
    }
}

/// Parses a time for `--to`: Unix seconds, or RFC 3339 (`2024-05-01T12:00:00Z`).
pub fn parse_time(text: &str) -> Result<u64, OpsError> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Ok(seconds);
    }
    let time = humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
        OpsError::invalid(
            "time",
            format!("{text:?} is neither Unix seconds nor an RFC 3339 time: {e}"),
        )
    })?;
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| OpsError::invalid("time", format!("{text:?} is before 1970")))
}

/// Recovers the state of the data at `options.to_unix_seconds` from an AOF directory
/// and writes it as a backup file `out` of the keys under `key_prefix`.
pub async fn pitr(
    key_prefix: &str,
    options: &PitrOptions,
    out: &Path,
    progress: Option<&(dyn Fn(&BackupProgress) + Sync)>,
) -> Result<PitrReport, OpsError> {
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if options.to_unix_seconds > now + 60 {
        return Err(OpsError::invalid(
            "time",
            format!(
                "{} is in the future",
                human::instant(options.to_unix_seconds * 1000)
            ),
        ));
    }
    let loading = Instant::now();
    let prepared = {
        let options = options.clone();
        tokio::task::spawn_blocking(move || prepare(&options))
            .await
            .map_err(|e| OpsError::Unavailable(format!("the recovery task failed: {e}")))??
    };
    let load_ms = u64::try_from(loading.elapsed().as_millis()).unwrap_or(u64::MAX);
    let conn = ConnectionConfig {
        command_timeout: Duration::from_secs(30),
        ..ConnectionConfig::standalone("127.0.0.1", prepared.server.port())
    };
    let label = Label {
        topology: "aof".to_owned(),
        read_from: "aof".to_owned(),
        nodes: vec![prepared.aof_dir.display().to_string()],
        as_of_unix_seconds: Some(options.to_unix_seconds),
    };
    let sources = [Source {
        addr: prepared.server.addr(),
        readonly: false,
    }];
    let export = Export {
        conn: &conn,
        record: None,
        prefix: key_prefix,
        out,
        sources: &sources,
        label,
        started,
    };
    let backup = export.run(progress).await;
    let Prepared {
        server,
        work,
        aof_dir,
        base_written_at,
        selection,
        base_name,
    } = prepared;
    tokio::task::spawn_blocking(move || {
        drop(server);
        drop(work);
    })
    .await
    .map_err(|e| OpsError::Unavailable(format!("stopping the temporary server failed: {e}")))?;
    let backup = backup?;
    let note = match selection.ends_at {
        Some(end) if end < options.to_unix_seconds && selection.truncate.is_none() => {
            Some(format!(
            "the AOF's last timestamp is {}: it holds nothing later, so this is its whole content",
            human::instant(end * 1000)
        ))
        }
        None => Some("the AOF has no timestamp annotations after its base".to_owned()),
        _ => None,
    };
    Ok(PitrReport {
        status: ExitStatus::Ok,
        aof_dir,
        to_unix_seconds: options.to_unix_seconds,
        base_written_at,
        aof_ends_at: selection.ends_at,
        files_kept: base_name.into_iter().chain(selection.keep).collect(),
        files_dropped: selection.drop,
        truncated: selection.truncate,
        note,
        load_ms,
        backup,
    })
}

/// The loaded copy.
struct Prepared {
    server: RedisServer,
    /// Holds the copy and the server's directory; removed when dropped.
    work: tempfile::TempDir,
    aof_dir: PathBuf,
    base_written_at: Option<u64>,
    base_name: Option<String>,
    selection: aof::Selection,
}

/// Copies, truncates and loads the AOF (blocking file and process work).
fn prepare(options: &PitrOptions) -> Result<Prepared, OpsError> {
    let aof_dir = locate(&options.aof_dir)?;
    let manifest = Manifest::find(&aof_dir)?;
    let to = options.to_unix_seconds;
    let base = manifest.base().cloned();
    let base_written_at = match &base {
        Some(base) => base_time(&in_dir(&aof_dir, &base.name))?,
        None => None,
    };
    if let Some(written) = base_written_at.filter(|written| *written > to) {
        return Err(OpsError::Unavailable(format!(
            "this AOF starts at {} (its base was written then, by a rewrite), after {}; \
             recover from an older copy of the AOF directory",
            human::instant(written * 1000),
            human::instant(to * 1000)
        )));
    }
    let mut timelines = Vec::new();
    for incr in manifest.incrs() {
        timelines.push((
            incr.name.clone(),
            timeline(&in_dir(&aof_dir, &incr.name), to)?,
        ));
    }
    let selection = select(&timelines);
    if base.is_none() && selection.keep.is_empty() {
        return Err(OpsError::Unavailable(format!(
            "nothing in {} is older than {}",
            aof_dir.display(),
            human::instant(to * 1000)
        )));
    }

    let parent = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("sessiondb-pitr-")
        .tempdir_in(&parent)
        .map_err(|e| OpsError::io(&parent, e))?;
    let copy = work.path().join(COPY_DIR);
    std::fs::create_dir(&copy).map_err(|e| OpsError::io(&copy, e))?;
    let mut manifest_text = String::new();
    let kept = base
        .iter()
        .map(|b| b.name.clone())
        .chain(selection.keep.iter().cloned());
    for name in kept {
        let from = in_dir(&aof_dir, &name);
        std::fs::copy(&from, copy.join(&name)).map_err(|e| OpsError::io(&from, e))?;
        if let Some(entry) = manifest.entries.iter().find(|e| e.name == name) {
            manifest_text.push_str(&entry.line);
            manifest_text.push('\n');
        }
    }
    let manifest_copy = copy.join(&manifest.file_name);
    std::fs::write(&manifest_copy, manifest_text).map_err(|e| OpsError::io(&manifest_copy, e))?;
    truncate(&manifest_copy, to)?;
    let server = RedisServer::start(RedisOptions {
        appendonly: true,
        dir: Some(work.path().to_owned()),
        extra_args: vec![
            "--appendfilename".to_owned(),
            manifest.append_file_name().to_owned(),
            "--appenddirname".to_owned(),
            COPY_DIR.to_owned(),
            "--aof-load-truncated".to_owned(),
            "yes".to_owned(),
        ],
        // Loading takes as long as the AOF is large; the server answers LOADING till then.
        start_timeout: Some(LOAD_TIMEOUT),
        ..RedisOptions::default()
    })
    .map_err(|e| OpsError::Tool {
        tool: "redis-server".to_owned(),
        detail: format!("loading the AOF copy failed: {e}"),
    })?;
    Ok(Prepared {
        server,
        work,
        aof_dir,
        base_written_at,
        base_name: base.map(|b| b.name),
        selection,
    })
}

/// The directory holding the manifest: `dir` itself or its `appendonlydir`.
fn locate(dir: &Path) -> Result<PathBuf, OpsError> {
    let nested = dir.join(COPY_DIR);
    if nested.is_dir() {
        return Ok(nested);
    }
    if dir.is_dir() {
        return Ok(dir.to_owned());
    }
    Err(OpsError::invalid(
        "AOF directory",
        format!("{} is not a directory", dir.display()),
    ))
}

/// Runs `redis-check-aof --truncate-to-timestamp` on the copy's manifest: it cuts the
/// last file at the first annotation later than `to` and checks every file.
fn truncate(manifest: &Path, to: u64) -> Result<(), OpsError> {
    let tool = || OpsError::Tool {
        tool: "redis-check-aof".to_owned(),
        detail:
            "not found on PATH; it comes with Redis (Debian/Ubuntu: apt-get install redis-tools)"
                .to_owned(),
    };
    let output = Command::new("redis-check-aof")
        .arg("--truncate-to-timestamp")
        .arg(to.to_string())
        .arg(manifest)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => tool(),
            _ => OpsError::io(manifest, e),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let tail: Vec<&str> = text.lines().rev().take(4).collect();
    Err(OpsError::Tool {
        tool: "redis-check-aof".to_owned(),
        detail: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
    })
}
