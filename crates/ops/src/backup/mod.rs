//! `backup`: a logical export of every sessiondb key under the prefix, with its
//! remaining TTL, into one compressed file (format: [`format`](mod@format)).
//!
//! Consistency: each user's index and records are read in one atomic read-only script
//! call, so no backup holds half of a create, refresh or cap eviction; deletion tokens,
//! tombstones, the schema, the event stream and the buckets' schedules and counters are
//! read one key at a time (value and TTL together). Operational markers (the cleanup
//! lease, the last cleanup and backup, the health key) are not exported.
//!
//! The file holds what Redis holds: token hashes, never tokens.

pub mod format;

mod export;
mod read;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value};
use serde::Serialize;
use sessiondb_engine::{admin, ConnectionConfig, Topology, SCHEMA_VERSION};

use crate::error::OpsError;
use crate::figures::backup_last_key;
use crate::human;
use crate::outcome::ExitStatus;
use crate::topology::{addr_string, cluster_layout, current_master, probe, Addr, Node};
pub(crate) use export::Source;
pub use format::{BackupHeader, BackupSource};
use format::{Writer, FORMAT_NAME, FORMAT_VERSION};
pub(crate) use read::tag_of;
pub use read::BackupFile;

/// Which nodes a backup reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// The master (each shard's master on a Cluster).
    #[default]
    Master,
    /// An online replica of the master (of each shard), keeping the load off the
    /// master; the backup fails when there is none. Its data lags by the replication
    /// delay.
    Replica,
}

impl ReadFrom {
    fn as_str(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Replica => "replica",
        }
    }
}

/// How to back up.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Master or replica.
    pub from: ReadFrom,
}

/// Progress of a running backup, after each batch of keys.
#[derive(Debug, Clone, Serialize)]
pub struct BackupProgress {
    /// Keys written so far.
    pub keys: u64,
    /// Users written so far.
    pub users: u64,
    /// Compressed bytes written so far.
    pub bytes: u64,
    /// Keys in the source nodes' databases (`DBSIZE`, all prefixes): an upper bound
    /// for a progress bar.
    pub estimated_keys: u64,
}

/// What was exported, by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackupCounts {
    /// Users (index with records).
    pub users: u64,
    /// Device login records exported with their user.
    pub records: u64,
    /// Deletion tokens (live or spent).
    pub deletion_tokens: u64,
    /// Tombstones of logins ended by reuse detection.
    pub tombstones: u64,
    /// Schema, event stream, bucket schedules and counters.
    pub other_keys: u64,
    /// Live records met on their own and left out: their login was created after its
    /// user was read (the user's snapshot is what the backup holds).
    pub live_records_skipped: u64,
    /// Operational markers left out (cleanup lease, last cleanup/backup, health key).
    pub markers: u64,
    /// Keys under the prefix that do not belong to the key schema (e.g. of a longer
    /// prefix), left out.
    pub foreign_keys: u64,
}

/// What `backup` did.
///
/// Exit status ([`BackupReport::exit_status`]): 0 when the file was written and its
/// success recorded in `<prefix>:backup:last`; 1 when the file was written but the
/// record failed (the stale-backup alert would fire); a backup that could not be
/// written returns an [`OpsError`] (exit status 2) and leaves no file behind.
///
/// JSON: `{"status", "file", "bytes", "duration_ms", "header": BackupHeader, "counts":
/// BackupCounts, "recorded", "record_error"}`.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// `ok`, or `failed` when the success could not be recorded.
    pub status: ExitStatus,
    /// The backup file.
    pub file: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How long the backup took.
    pub duration_ms: u64,
    /// The file's header.
    pub header: BackupHeader,
    /// What was exported.
    pub counts: BackupCounts,
    /// Whether `<prefix>:backup:last` was set (never for point-in-time recovery, whose
    /// backup describes the past).
    pub recorded: bool,
    /// Why it was not.
    pub record_error: Option<String>,
}

impl BackupReport {
    /// 0 written and recorded, 1 written but not recorded.
    pub fn exit_status(&self) -> ExitStatus {
        self.status
    }
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backup written to {}: {} users, {} keys, {} in {} (read from {} {})",
            self.file.display(),
            self.counts.users,
            self.header.key_count,
            human::bytes(self.bytes),
            human::duration(std::time::Duration::from_millis(self.duration_ms)),
            self.header.source.read_from,
            self.header.source.nodes.join(", "),
        )?;
        if let Some(error) = &self.record_error {
            writeln!(f, "warning: the success was not recorded: {error}")?;
        }
        Ok(())
    }
}

/// Backs up every key under `key_prefix` into `out`. `progress` is called after each
/// batch. On success records the time in `<prefix>:backup:last`.
pub async fn backup(
    conn: &ConnectionConfig,
    key_prefix: &str,
    out: &Path,
    options: &BackupOptions,
    progress: Option<&(dyn Fn(&BackupProgress) + Sync)>,
) -> Result<BackupReport, OpsError> {
    let started = Instant::now();
    let pool = admin::connect(conn, 2)
        .await
        .map_err(|e| OpsError::redis("connecting to the deployment", e))?;
    let result = run(conn, &pool, key_prefix, out, options, progress, started).await;
    let _ = pool.quit().await;
    result
}

async fn run(
    conn: &ConnectionConfig,
    pool: &Pool,
    prefix: &str,
    out: &Path,
    options: &BackupOptions,
    progress: Option<&(dyn Fn(&BackupProgress) + Sync)>,
    started: Instant,
) -> Result<BackupReport, OpsError> {
    check_schema(pool, prefix).await?;
    let (topology, sources) = sources(conn, options.from).await?;
    let label = Label {
        topology: topology.to_owned(),
        read_from: options.from.as_str().to_owned(),
        nodes: sources.iter().map(|s| addr_string(&s.addr)).collect(),
        as_of_unix_seconds: None,
    };
    let export = Export {
        conn,
        record: Some(pool),
        prefix,
        out,
        sources: &sources,
        label,
        started,
    };
    export.run(progress).await
}

/// What the header says about the source.
pub(crate) struct Label {
    pub(crate) topology: String,
    pub(crate) read_from: String,
    pub(crate) nodes: Vec<String>,
    pub(crate) as_of_unix_seconds: Option<u64>,
}

/// One export into a file.
pub(crate) struct Export<'a> {
    /// How to reach the sources (credentials, TLS, timeouts).
    pub(crate) conn: &'a ConnectionConfig,
    /// Where to record the success (`<prefix>:backup:last`); `None`: not recorded.
    pub(crate) record: Option<&'a Pool>,
    pub(crate) prefix: &'a str,
    pub(crate) out: &'a Path,
    pub(crate) sources: &'a [Source],
    /// What the header says about the sources.
    pub(crate) label: Label,
    /// When the operation started (for the report's duration).
    pub(crate) started: Instant,
}

impl Export<'_> {
    /// Exports the sources into the file; records the success when asked to.
    pub(crate) async fn run(
        self,
        progress: Option<&(dyn Fn(&BackupProgress) + Sync)>,
    ) -> Result<BackupReport, OpsError> {
        let Export {
            conn,
            record,
            prefix,
            out,
            sources,
            label,
            started,
        } = self;
        let first = sources
            .first()
            .ok_or_else(|| OpsError::Unavailable("no node to read from".to_owned()))?;
        let info = probe(conn, &first.addr).await?;
        let created_at_ms = redis_now(conn, &first.addr).await?;
        let mut estimated_keys = 0;
        for source in sources {
            estimated_keys += probe(conn, &source.addr).await?.keys(conn.database);
        }
        let mut writer = Writer::create(out)?;
        let mut counts = BackupCounts::default();
        let mut report = |writer: &Writer| {
            if let Some(progress) = progress {
                let (keys, users) = writer.counts();
                progress(&BackupProgress {
                    keys,
                    users,
                    bytes: writer.bytes(),
                    estimated_keys: estimated_keys.max(keys),
                });
            }
        };
        for source in sources {
            let exported =
                export::export_node(conn, source, prefix, &mut writer, &mut counts, &mut report)
                    .await;
            if let Err(e) = exported {
                writer.abandon();
                return Err(e);
            }
        }
        let finished_at_ms = match redis_now(conn, &first.addr).await {
            Ok(now) => now,
            Err(e) => {
                writer.abandon();
                return Err(e);
            }
        };
        let header = BackupHeader {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            schema_version: SCHEMA_VERSION,
            key_prefix: prefix.to_owned(),
            created_at_ms,
            finished_at_ms,
            source: BackupSource {
                topology: label.topology,
                read_from: label.read_from,
                nodes: label.nodes,
                redis_version: info.get("redis_version").map(str::to_owned),
                as_of_unix_seconds: label.as_of_unix_seconds,
            },
            key_count: 0,
            user_count: 0,
            compression: "zstd".to_owned(),
        };
        let bytes = writer.finish(header)?;
        let header = BackupFile::open(out)?.header;
        let record_error = match record {
            Some(pool) => {
                let recorded: Result<(), fred::error::Error> = pool
                    .next()
                    .set(
                        backup_last_key(prefix),
                        finished_at_ms.to_string(),
                        None,
                        None,
                        false,
                    )
                    .await;
                recorded.err().map(|e| e.to_string())
            }
            None => None,
        };
        Ok(BackupReport {
            status: if record_error.is_none() {
                ExitStatus::Ok
            } else {
                ExitStatus::Failed
            },
            file: out.to_owned(),
            bytes,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            header,
            counts,
            recorded: record.is_some() && record_error.is_none(),
            record_error,
        })
    }
}

/// Refuses data of another key schema version than this build's.
async fn check_schema(pool: &Pool, prefix: &str) -> Result<(), OpsError> {
    let key = admin::KeyNames::new(prefix).schema();
    let found: Option<String> = pool
        .next()
        .get(&key)
        .await
        .map_err(|e| OpsError::redis(format!("GET {key}"), e))?;
    match found {
        Some(v) if v != SCHEMA_VERSION.to_string() => Err(OpsError::Unavailable(format!(
            "{key} says key schema version {v}; this build backs up version {SCHEMA_VERSION}"
        ))),
        _ => Ok(()),
    }
}

/// Redis's clock on `addr`, in Unix ms.
pub(crate) async fn redis_now(conn: &ConnectionConfig, addr: &Addr) -> Result<u64, OpsError> {
    let node = Node::connect(conn, addr).await?;
    let command = CustomCommand::new_static("TIME", ClusterHash::Random, false);
    let time: Result<Vec<String>, _> = node.client().custom(command, Vec::<Value>::new()).await;
    node.close().await;
    let time = time.map_err(|e| OpsError::redis(format!("TIME on {}", addr_string(addr)), e))?;
    let part = |i: usize| time.get(i).and_then(|v| v.parse::<u64>().ok());
    match (part(0), part(1)) {
        (Some(s), Some(us)) => Ok(s * 1000 + us / 1000),
        _ => Err(OpsError::protocol("TIME", format!("{time:?}"))),
    }
}

/// The topology's name and the nodes to read.
async fn sources(
    conn: &ConnectionConfig,
    from: ReadFrom,
) -> Result<(&'static str, Vec<Source>), OpsError> {
    match &conn.topology {
        Topology::Cluster { nodes } => {
            let (layout, _) = cluster_layout(conn, nodes).await?;
            let mut sources = Vec::new();
            for master in layout
                .iter()
                .filter(|n| n.is_master() && !n.slots.is_empty())
            {
                let source = match from {
                    ReadFrom::Master => Source {
                        addr: master.addr.clone(),
                        readonly: false,
                    },
                    ReadFrom::Replica => {
                        let replica = layout
                            .iter()
                            .find(|r| r.master_id.as_ref() == Some(&master.id) && !r.failed())
                            .ok_or_else(|| {
                                OpsError::Unavailable(format!(
                                    "the shard of {} has no healthy replica; back up from the masters instead",
                                    addr_string(&master.addr)
                                ))
                            })?;
                        Source {
                            addr: replica.addr.clone(),
                            readonly: true,
                        }
                    }
                };
                sources.push(source);
            }
            Ok(("cluster", sources))
        }
        topology => {
            let name = if matches!(topology, Topology::Sentinel { .. }) {
                "sentinel"
            } else {
                "standalone"
            };
            let master = current_master(conn).await?;
            let addr = match from {
                ReadFrom::Master => master,
                ReadFrom::Replica => {
                    let info = probe(conn, &master).await?;
                    let mut replicas: Vec<_> = info
                        .replicas()
                        .into_iter()
                        .filter(|r| r.state == "online")
                        .collect();
                    replicas.sort_by_key(|r| (r.lag, std::cmp::Reverse(r.offset)));
                    let best = replicas.into_iter().next().ok_or_else(|| {
                        OpsError::Unavailable(format!(
                            "{} has no online replica; back up from the master instead",
                            addr_string(&master)
                        ))
                    })?;
                    (best.host, best.port)
                }
            };
            Ok((
                name,
                vec![Source {
                    addr,
                    readonly: false,
                }],
            ))
        }
    }
}
