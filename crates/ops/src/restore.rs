//! `restore`: re-applies a backup file.
//!
//! 1. The whole file is verified first (sizes, both checksums, every entry decoded, key
//!    names checked, counts compared with the header), then the format and schema
//!    versions are compared with this build and the target: a truncated, corrupt or
//!    foreign file is refused before anything is written.
//! 2. Each user is restored atomically (`restore_users.lua`, users of one bucket per
//!    call): the existing data wins
//!    unless `force` — a user whose index or any of whose records exists in the target
//!    is kept as it is; with `force` the backup's state of that user replaces the
//!    current one. Every other key is restored on its own (`restore_keys.lua`), again
//!    only where it does not exist unless `force`. Keys keep their absolute expiry
//!    (`RESTORE … ABSTTL`), so they live exactly as long as they would have; what
//!    expired since the backup is skipped.
//! 3. The buckets' schedules are updated by the user restores; the buckets' live counts
//!    are recomputed from the indexes (`recount.lua`) for every bucket touched. The
//!    schedules and counts in the file are not applied.
//!
//! `dry_run` runs the same decisions without writing and reports what would happen.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fred::prelude::*;
use fred::types::Value;
use futures::{stream, StreamExt};
use serde::Serialize;
use sessiondb_engine::{admin, ConnectionConfig, SCHEMA_VERSION};

use crate::backup::format::{Entry, KeyDump};
use crate::backup::tag_of;
use crate::backup::{BackupFile, BackupHeader};
use crate::error::OpsError;
use crate::human;
use crate::keyspace::{classify, record_id, KeyKind};
use crate::outcome::ExitStatus;
use crate::scripts::{int, items, text, RECOUNT, RESTORE_KEYS, RESTORE_USERS};

/// Entries read from the file per batch: enough for several users per bucket.
const BATCH: usize = 32_768;
/// Script calls in flight.
const CONCURRENCY: usize = 16;
/// Users (of one bucket) restored per script call.
const USERS_PER_CALL: usize = 32;
/// Keys (of one bucket) restored per script call.
const KEYS_PER_CALL: usize = 64;

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Replace existing data (users and keys) with the backup's.
    pub force: bool,
    /// Decide everything, write nothing, report what would happen.
    pub dry_run: bool,
}

/// What a restore is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePhase {
    /// Reading the whole file to check it (`done`/`total` in compressed bytes).
    Verifying,
    /// Applying it (`done`/`total` in keys).
    Restoring,
    /// Recomputing bucket counts (`done`/`total` in buckets).
    Recounting,
}

/// Progress of a running restore.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreProgress {
    /// The phase.
    pub phase: RestorePhase,
    /// Units done.
    pub done: u64,
    /// Units in the phase.
    pub total: u64,
}

/// What happened to users or keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Put back where nothing was.
    pub restored: u64,
    /// Put back over existing data (`force`).
    pub replaced: u64,
    /// Left alone because the target has data there (no `force`).
    pub kept: u64,
    /// Not put back: expired since the backup.
    pub expired: u64,
}

impl Outcomes {
    fn add(&mut self, outcome: &str) -> Result<(), OpsError> {
        match outcome {
            "restored" => self.restored += 1,
            "replaced" => self.replaced += 1,
            "kept" => self.kept += 1,
            "expired" => self.expired += 1,
            other => {
                return Err(OpsError::protocol(
                    "restore",
                    format!("unknown outcome {other:?}"),
                ))
            }
        }
        Ok(())
    }
}

/// What `restore` did (or, with `dry_run`, would do).
///
/// Exit status 0 ([`RestoreReport::exit_status`]): kept and expired data are expected
/// outcomes, not failures. A file that cannot be restored returns an [`OpsError`]
/// (exit status 2) before anything is written.
///
/// JSON: `{"status", "dry_run", "force", "file", "backup": BackupHeader, "users":
/// Outcomes, "records_restored", "records_expired", "keys": Outcomes,
/// "rebuilt_not_applied", "buckets_recounted", "counts_corrected", "duration_ms"}`.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// Always `ok`.
    pub status: ExitStatus,
    /// Nothing was written.
    pub dry_run: bool,
    /// Existing data was replaced.
    pub force: bool,
    /// The backup file.
    pub file: PathBuf,
    /// Its header.
    pub backup: BackupHeader,
    /// Users.
    pub users: Outcomes,
    /// Device login records put back (with their users).
    pub records_restored: u64,
    /// Records of restored users that expired since the backup.
    pub records_expired: u64,
    /// Keys restored on their own: deletion tokens, tombstones, schema, event stream.
    pub keys: Outcomes,
    /// Bucket schedules and counters in the file, rebuilt from the indexes instead.
    pub rebuilt_not_applied: u64,
    /// Buckets whose live count was recomputed.
    pub buckets_recounted: u64,
    /// Of those, buckets whose count changed.
    pub counts_corrected: u64,
    /// How long the restore took.
    pub duration_ms: u64,
}

impl RestoreReport {
    /// Always 0.
    pub fn exit_status(&self) -> ExitStatus {
        self.status
    }
}

impl fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: backup of {} taken {} from {}{}",
            self.file.display(),
            self.backup.key_prefix,
            human::instant(self.backup.created_at_ms),
            self.backup.source.nodes.join(", "),
            if self.dry_run {
                " (dry run: nothing written, this is what a restore would do)"
            } else {
                ""
            }
        )?;
        let line = |what: &str, o: &Outcomes| {
            format!(
                "  {what:<5} {} restored, {} replaced, {} kept (existing data), {} expired",
                o.restored, o.replaced, o.kept, o.expired
            )
        };
        writeln!(f, "{}", line("users", &self.users))?;
        writeln!(
            f,
            "        with {} records restored, {} expired",
            self.records_restored, self.records_expired
        )?;
        writeln!(f, "{}", line("keys", &self.keys))?;
        if !self.dry_run {
            writeln!(
                f,
                "  {} bucket counts recomputed ({} corrected)",
                self.buckets_recounted, self.counts_corrected
            )?;
        }
        writeln!(
            f,
            "  took {}",
            human::duration(std::time::Duration::from_millis(self.duration_ms))
        )
    }
}

/// Restores `file` under `key_prefix` (the backup's own prefix need not match).
pub async fn restore(
    conn: &ConnectionConfig,
    key_prefix: &str,
    file: &Path,
    options: &RestoreOptions,
    progress: Option<&(dyn Fn(&RestoreProgress) + Sync)>,
) -> Result<RestoreReport, OpsError> {
    let started = Instant::now();
    let report = |phase, done, total| {
        if let Some(progress) = progress {
            progress(&RestoreProgress { phase, done, total });
        }
    };
    let backup = BackupFile::open(file)?;
    let size = std::fs::metadata(file)
        .map_err(|e| OpsError::io(file, e))?
        .len();
    backup.verify(&mut |done| report(RestorePhase::Verifying, done, size))?;
    let header = backup.header.clone();
    if header.schema_version != SCHEMA_VERSION {
        return Err(OpsError::BadBackup {
            path: file.to_owned(),
            reason: format!(
                "it holds key schema version {}; this build restores version {SCHEMA_VERSION}",
                header.schema_version
            ),
        });
    }
    let pool = admin::connect(conn, 8)
        .await
        .map_err(|e| OpsError::redis("connecting to the deployment", e))?;
    let result = apply(&pool, key_prefix, &backup, options, &report).await;
    let _ = pool.quit().await;
    let mut done = result?;
    done.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    done.file = file.to_owned();
    Ok(done)
}

async fn apply(
    pool: &Pool,
    prefix: &str,
    backup: &BackupFile,
    options: &RestoreOptions,
    report: &(dyn Fn(RestorePhase, u64, u64) + Sync),
) -> Result<RestoreReport, OpsError> {
    let header = &backup.header;
    let schema_key = admin::KeyNames::new(prefix).schema();
    let found: Option<String> = pool
        .next()
        .get(&schema_key)
        .await
        .map_err(|e| OpsError::redis(format!("GET {schema_key}"), e))?;
    if let Some(found) = found.filter(|v| *v != header.schema_version.to_string()) {
        return Err(OpsError::SchemaMismatch {
            key: schema_key,
            found,
            expected: header.schema_version,
        });
    }
    let mut done = RestoreReport {
        status: ExitStatus::Ok,
        dry_run: options.dry_run,
        force: options.force,
        file: PathBuf::new(),
        backup: header.clone(),
        users: Outcomes::default(),
        records_restored: 0,
        records_expired: 0,
        keys: Outcomes::default(),
        rebuilt_not_applied: 0,
        buckets_recounted: 0,
        counts_corrected: 0,
        duration_ms: 0,
    };
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let mut entries = backup.entries()?;
    let mut keys_done = 0u64;
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            match entries.next_entry()? {
                Some(entry) => batch.push(entry),
                None => break,
            }
        }
        if batch.is_empty() {
            break;
        }
        keys_done += batch.iter().map(Entry::keys).sum::<u64>();
        let calls = plan(batch, &mut done.rebuilt_not_applied);
        let results: Vec<Result<Vec<Applied>, OpsError>> = stream::iter(calls)
            .map(|call| call.run(pool.next(), prefix, options))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for applied in results {
            for applied in applied? {
                match applied {
                    Applied::User {
                        outcome,
                        tag,
                        restored,
                        expired,
                    } => {
                        done.users.add(&outcome)?;
                        done.records_restored += restored;
                        done.records_expired += expired;
                        if outcome == "restored" || outcome == "replaced" {
                            touched.insert(tag);
                        }
                    }
                    Applied::Key(outcome) => done.keys.add(&outcome)?,
                }
            }
        }
        report(RestorePhase::Restoring, keys_done, header.key_count);
    }
    if options.dry_run {
        return Ok(done);
    }
    // A backup of an empty database has no schema key; the engine would write it.
    let _: Value = pool
        .next()
        .set(
            &schema_key,
            header.schema_version.to_string(),
            None,
            Some(SetOptions::NX),
            false,
        )
        .await
        .map_err(|e| OpsError::redis(format!("SET {schema_key}"), e))?;
    let total = touched.len() as u64;
    for (i, tag) in touched.iter().enumerate() {
        let script = &*RECOUNT;
        let base = format!("{prefix}:{{{tag}}}:");
        let reply = items(
            script
                .run(
                    pool.next(),
                    format!("{base}due"),
                    vec![Value::from(base.as_str())],
                )
                .await?,
        );
        let (before, after) = (int(script, reply.first())?, int(script, reply.get(1))?);
        done.buckets_recounted += 1;
        done.counts_corrected += u64::from(before != after);
        report(RestorePhase::Recounting, i as u64 + 1, total);
    }
    Ok(done)
}

enum Applied {
    User {
        outcome: String,
        tag: String,
        restored: u64,
        expired: u64,
    },
    Key(String),
}

/// One script call: users of one bucket, or keys of one bucket (or one untagged key).
enum Call {
    Users {
        tag: String,
        users: Vec<Vec<KeyDump>>,
    },
    Keys {
        keys: Vec<KeyDump>,
    },
}

/// Groups a batch of entries into script calls by bucket (a call's keys share a
/// Cluster slot). Bucket schedules and counters are counted, not applied.
fn plan(batch: Vec<Entry>, rebuilt: &mut u64) -> Vec<Call> {
    let mut users: BTreeMap<String, Vec<Vec<KeyDump>>> = BTreeMap::new();
    let mut tagged: BTreeMap<String, Vec<KeyDump>> = BTreeMap::new();
    let mut calls = Vec::new();
    for entry in batch {
        match entry {
            Entry::User(keys) => {
                let tag = keys
                    .first()
                    .and_then(|k| tag_of(&k.name))
                    .unwrap_or_default()
                    .to_owned();
                users.entry(tag).or_default().push(keys);
            }
            Entry::Key(key) => match classify(&key.name) {
                KeyKind::Bucket => *rebuilt += 1,
                _ => match tag_of(&key.name) {
                    Some(tag) => tagged.entry(tag.to_owned()).or_default().push(key),
                    None => calls.push(Call::Keys { keys: vec![key] }),
                },
            },
        }
    }
    for (tag, list) in users {
        let mut list = list.into_iter().peekable();
        while list.peek().is_some() {
            calls.push(Call::Users {
                tag: tag.clone(),
                users: list.by_ref().take(USERS_PER_CALL).collect(),
            });
        }
    }
    for (_, list) in tagged {
        let mut list = list.into_iter().peekable();
        while list.peek().is_some() {
            calls.push(Call::Keys {
                keys: list.by_ref().take(KEYS_PER_CALL).collect(),
            });
        }
    }
    calls
}

fn flag(on: bool) -> Value {
    Value::from(if on { "1" } else { "0" })
}

fn dump(key: &KeyDump) -> Value {
    Value::Bytes(key.payload.clone().into())
}

fn expiry(key: &KeyDump) -> Value {
    Value::from(i64::try_from(key.expire_at_ms).unwrap_or(i64::MAX))
}

impl Call {
    async fn run(
        self,
        client: &Client,
        prefix: &str,
        options: &RestoreOptions,
    ) -> Result<Vec<Applied>, OpsError> {
        match self {
            Call::Users { tag, users } => {
                let script = &*RESTORE_USERS;
                let full = |name: &str| format!("{prefix}:{name}");
                let route = full(&users[0][0].name);
                let mut args = vec![
                    Value::from(format!("{prefix}:{{{tag}}}:")),
                    flag(options.force),
                    flag(options.dry_run),
                    Value::from(users.len() as i64),
                ];
                for keys in &users {
                    let (index, records) = keys
                        .split_first()
                        .ok_or_else(|| OpsError::protocol(script.name, "a user without keys"))?;
                    args.push(Value::from(full(&index.name)));
                    args.push(dump(index));
                    args.push(Value::from(records.len() as i64));
                    for record in records {
                        args.push(Value::from(record_id(&record.name).unwrap_or_default()));
                        args.push(expiry(record));
                        args.push(dump(record));
                    }
                }
                let replies = items(script.run(client, route, args).await?);
                if replies.len() != users.len() {
                    return Err(OpsError::protocol(
                        script.name,
                        "one reply per user expected",
                    ));
                }
                replies
                    .into_iter()
                    .map(|reply| {
                        let reply = items(reply);
                        Ok(Applied::User {
                            outcome: text(script, reply.first())?,
                            tag: tag.clone(),
                            restored: int(script, reply.get(1))?.max(0) as u64,
                            expired: int(script, reply.get(2))?.max(0) as u64,
                        })
                    })
                    .collect()
            }
            Call::Keys { keys } => {
                let script = &*RESTORE_KEYS;
                let route = format!("{prefix}:{}", keys[0].name);
                let mut args = vec![
                    flag(options.force),
                    flag(options.dry_run),
                    Value::from(keys.len() as i64),
                ];
                for key in &keys {
                    args.push(Value::from(format!("{prefix}:{}", key.name)));
                    args.push(expiry(key));
                    args.push(dump(key));
                }
                let replies = items(script.run(client, route, args).await?);
                if replies.len() != keys.len() {
                    return Err(OpsError::protocol(
                        script.name,
                        "one reply per key expected",
                    ));
                }
                replies
                    .iter()
                    .map(|r| Ok(Applied::Key(text(script, Some(r))?)))
                    .collect()
            }
        }
    }
}
