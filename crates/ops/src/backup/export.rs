//! Reading every key under the prefix from the source nodes, consistently per user.
//!
//! Each source node (the master or a replica; on a Cluster one per shard) is scanned
//! with `SCAN MATCH <prefix>:*`. Users (an index and every record it lists) are read by
//! `backup_users.lua`, each user at one instant, 32 users per call; every other key by
//! `backup_keys.lua`, 64 per call.
//! Live records are only exported with their index: one seen on its own was created
//! after its user was read (or is listed in the index already exported), and exporting
//! it would give a restored login no index entry.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value};
use futures::{stream, StreamExt};

use super::format::{Entry, KeyDump, Writer};
use super::BackupCounts;
use crate::error::OpsError;
use crate::keyspace::{classify, record_id, KeyKind};
use crate::scripts::{int, items, BACKUP_KEYS, BACKUP_USERS};
use crate::topology::{Addr, Node};

/// Keys asked per `SCAN` call.
const SCAN_COUNT: u32 = 1000;
/// Script calls in flight per node.
const CONCURRENCY: usize = 16;
/// Users read per script call (one call blocks Redis for about 20 µs per user).
const USERS_PER_CALL: usize = 32;
/// Keys read on their own per script call.
const KEYS_PER_CALL: usize = 64;
/// Connections per node.
const CONNECTIONS: usize = 4;
/// Reads gathered (over several `SCAN` pages) before they are run.
const BATCH: usize = 4096;

/// A node to read from.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) addr: Addr,
    /// A Cluster replica: its connection must say `READONLY` to serve reads.
    pub(crate) readonly: bool,
}

/// Names already exported from this node, as 128-bit hashes (SCAN may return a key
/// twice; a tombstone may be met after its live record was exported with its user).
struct Seen {
    hashers: (RandomState, RandomState),
    names: HashSet<u128>,
}

impl Seen {
    fn new() -> Self {
        Self {
            hashers: (RandomState::new(), RandomState::new()),
            names: HashSet::new(),
        }
    }

    fn id(&self, name: &str) -> u128 {
        (u128::from(self.hashers.0.hash_one(name)) << 64)
            | u128::from(self.hashers.1.hash_one(name))
    }

    fn contains(&self, name: &str) -> bool {
        self.names.contains(&self.id(name))
    }

    /// True when `name` was not there yet.
    fn insert(&mut self, name: &str) -> bool {
        let id = self.id(name);
        self.names.insert(id)
    }
}

enum Job {
    User { key: String, base: String },
    Key { key: String, record: bool },
}

enum Outcome {
    User(Vec<KeyDump>),
    Key(KeyDump),
    /// A live record met on its own.
    Live,
    /// The key vanished between SCAN and the read.
    Gone,
}

/// Exports every key under `prefix` from `source` into `writer`; `progress` is called
/// after each `SCAN` page.
pub(crate) async fn export_node(
    conn: &sessiondb_engine::ConnectionConfig,
    source: &Source,
    prefix: &str,
    writer: &mut Writer,
    counts: &mut BackupCounts,
    progress: &mut dyn FnMut(&Writer),
) -> Result<(), OpsError> {
    let node = Node::connect_pool(conn, &source.addr, CONNECTIONS).await?;
    let result = scan(&node, source, prefix, writer, counts, progress).await;
    node.close().await;
    result
}

async fn scan(
    node: &Node,
    source: &Source,
    prefix: &str,
    writer: &mut Writer,
    counts: &mut BackupCounts,
    progress: &mut dyn FnMut(&Writer),
) -> Result<(), OpsError> {
    if source.readonly {
        for client in node.pool.clients() {
            let readonly = CustomCommand::new_static("READONLY", ClusterHash::Random, false);
            let _: Value = client
                .custom(readonly, Vec::<Value>::new())
                .await
                .map_err(|e| OpsError::redis(format!("READONLY on {}", node.name()), e))?;
        }
    }
    let client = node.client();
    let pool = &node.pool;
    let pattern = format!("{prefix}:*");
    let strip = prefix.len() + 1;
    let mut seen = Seen::new();
    // Records met on their own wait until the scan is over: by then most were exported
    // with their user, and only the rest (tombstones, logins created after their user
    // was read) cost a read. A session id (25 bytes) names the record and its bucket.
    let mut deferred: Vec<[u8; 25]> = Vec::new();
    let mut cursor = "0".to_owned();
    let mut jobs = Vec::new();
    loop {
        let page: Value = client
            .scan_page(cursor.as_str(), pattern.as_str(), Some(SCAN_COUNT), None)
            .await
            .map_err(|e| OpsError::redis(format!("SCAN on {}", node.name()), e))?;
        let mut page = items(page).into_iter();
        cursor = page
            .next()
            .and_then(|c| c.as_string())
            .ok_or_else(|| OpsError::protocol(format!("SCAN on {}", node.name()), "no cursor"))?;
        let keys: Vec<String> = page
            .next()
            .map(items)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| k.as_string())
            .collect();
        for key in keys {
            let relative = key.get(strip..).unwrap_or_default();
            if seen.contains(relative) {
                continue;
            }
            match classify(relative) {
                KeyKind::Index { tag } => jobs.push(Job::User {
                    base: format!("{prefix}:{{{tag}}}:"),
                    key,
                }),
                KeyKind::Record { .. } => {
                    let sid =
                        record_id(relative).and_then(|s| <[u8; 25]>::try_from(s.as_bytes()).ok());
                    deferred.extend(sid);
                }
                KeyKind::Deletion | KeyKind::Bucket | KeyKind::Schema | KeyKind::Events => {
                    jobs.push(Job::Key { key, record: false });
                }
                KeyKind::Marker => counts.markers += 1,
                KeyKind::Foreign => counts.foreign_keys += 1,
            }
        }
        if jobs.len() >= BATCH || cursor == "0" {
            run_jobs(
                pool,
                std::mem::take(&mut jobs),
                strip,
                &mut seen,
                writer,
                counts,
            )
            .await?;
            progress(writer);
        }
        if cursor == "0" {
            break;
        }
    }
    deferred.sort_unstable();
    deferred.dedup();
    for chunk in deferred.chunks(BATCH) {
        let jobs = chunk
            .iter()
            .filter_map(|sid| std::str::from_utf8(sid).ok())
            .map(|sid| format!("{{{}}}:s:{sid}", &sid[..3]))
            .filter(|relative| !seen.contains(relative))
            .map(|relative| Job::Key {
                key: format!("{prefix}:{relative}"),
                record: true,
            })
            .collect();
        run_jobs(pool, jobs, strip, &mut seen, writer, counts).await?;
        progress(writer);
    }
    Ok(())
}

/// Runs the reads of `jobs` (batched per script call, calls in flight concurrently)
/// and writes what they found.
async fn run_jobs(
    pool: &Pool,
    jobs: Vec<Job>,
    strip: usize,
    seen: &mut Seen,
    writer: &mut Writer,
    counts: &mut BackupCounts,
) -> Result<(), OpsError> {
    let (users, keys): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|j| matches!(j, Job::User { .. }));
    let mut calls: Vec<Vec<Job>> = Vec::new();
    let mut users = users.into_iter().peekable();
    while users.peek().is_some() {
        calls.push(users.by_ref().take(USERS_PER_CALL).collect());
    }
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        calls.push(keys.by_ref().take(KEYS_PER_CALL).collect());
    }
    let outcomes: Vec<Vec<Outcome>> = stream::iter(calls)
        .map(|call| read(pool.next(), call, strip))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    // Users first, so a tombstone read in the same batch as the user whose live record
    // it replaced is recognised as already exported.
    let (users, singles): (Vec<Outcome>, Vec<Outcome>) = outcomes
        .into_iter()
        .flatten()
        .partition(|o| matches!(o, Outcome::User(_)));
    for outcome in users.into_iter().chain(singles) {
        match outcome {
            Outcome::User(keys) => {
                if !seen.insert(&keys[0].name) {
                    continue;
                }
                for record in &keys[1..] {
                    seen.insert(&record.name);
                }
                counts.records += keys.len() as u64 - 1;
                counts.users += 1;
                writer.write(&Entry::User(keys))?;
            }
            Outcome::Key(key) => {
                if !seen.insert(&key.name) {
                    continue;
                }
                match classify(&key.name) {
                    KeyKind::Record { .. } => counts.tombstones += 1,
                    KeyKind::Deletion => counts.deletion_tokens += 1,
                    _ => counts.other_keys += 1,
                }
                writer.write(&Entry::Key(key))?;
            }
            Outcome::Live => counts.live_records_skipped += 1,
            Outcome::Gone => {}
        }
    }
    Ok(())
}

/// One script call for a batch of jobs of one kind.
async fn read(client: &Client, jobs: Vec<Job>, strip: usize) -> Result<Vec<Outcome>, OpsError> {
    let relative = |key: &str| key.get(strip..).unwrap_or_default().to_owned();
    let Some(first) = jobs.first() else {
        return Ok(Vec::new());
    };
    let users = matches!(first, Job::User { .. });
    let script = if users { &*BACKUP_USERS } else { &*BACKUP_KEYS };
    let route = match first {
        Job::User { key, .. } | Job::Key { key, .. } => key.clone(),
    };
    let mut args = vec![Value::from(jobs.len() as i64)];
    for job in &jobs {
        match job {
            Job::User { key, base } => {
                args.push(Value::from(key.as_str()));
                args.push(Value::from(base.as_str()));
            }
            Job::Key { key, record } => {
                args.push(Value::from(key.as_str()));
                args.push(Value::from(if *record { "1" } else { "0" }));
            }
        }
    }
    let replies = items(script.run(client, route, args).await?);
    if replies.len() != jobs.len() {
        return Err(OpsError::protocol(
            script.name,
            format!("{} replies for {} keys", replies.len(), jobs.len()),
        ));
    }
    jobs.into_iter()
        .zip(replies)
        .map(|(job, reply)| {
            let reply = items(reply);
            match job {
                Job::User { key, base } => {
                    if reply.is_empty() {
                        return Ok(Outcome::Gone);
                    }
                    let now = int(script, reply.first())?.max(0) as u64;
                    let mut keys = vec![KeyDump {
                        name: relative(&key),
                        expire_at_ms: 0,
                        payload: payload(script.name, reply.get(1))?,
                    }];
                    let base_relative = relative(&base);
                    for record in reply.get(2..).unwrap_or_default().chunks(3) {
                        let sid = record.first().and_then(Value::as_string).ok_or_else(|| {
                            OpsError::protocol(script.name, "expected a session id")
                        })?;
                        keys.push(KeyDump {
                            name: format!("{base_relative}s:{sid}"),
                            expire_at_ms: expiry(now, int(script, record.get(2))?),
                            payload: payload(script.name, record.get(1))?,
                        });
                    }
                    Ok(Outcome::User(keys))
                }
                Job::Key { key, .. } => match reply.len() {
                    0 => Ok(Outcome::Gone),
                    1 => Ok(Outcome::Live),
                    _ => {
                        let now = int(script, reply.first())?.max(0) as u64;
                        Ok(Outcome::Key(KeyDump {
                            name: relative(&key),
                            payload: payload(script.name, reply.get(1))?,
                            expire_at_ms: expiry(now, int(script, reply.get(2))?),
                        }))
                    }
                },
            }
        })
        .collect()
}

/// `PTTL` (ms left, -1 none) read at `now` → expiry instant (0 = none).
fn expiry(now: u64, pttl: i64) -> u64 {
    if pttl < 0 {
        0
    } else {
        now + pttl as u64
    }
}

fn payload(script: &str, value: Option<&Value>) -> Result<Vec<u8>, OpsError> {
    value
        .and_then(Value::as_bytes)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| OpsError::protocol(script, "expected a DUMP payload"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_absolute_and_zero_means_none() {
        assert_eq!(expiry(1_000, 500), 1_500);
        assert_eq!(expiry(1_000, -1), 0);
    }

    #[test]
    fn seen_names_are_remembered() {
        let mut seen = Seen::new();
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.contains("a") && !seen.contains("b"));
    }
}
