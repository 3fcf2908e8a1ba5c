//! The cleanup pass: removes index entries of sessions that expired.
//!
//! Redis expires sessions, families, deletion tokens and tombstones by itself (each key
//! carries its own TTL). What it cannot do is remove a member from a user's index when the
//! session behind it expires. Each bucket keeps a schedule (`due`) of users whose earliest
//! index entry expires at a given time; a pass visits the [`TAG_BUCKETS`](crate::TAG_BUCKETS)
//! schedules and touches only what is due, so its cost follows the number of expired
//! entries (plus one cheap call per bucket), never the number of live sessions. Reads never
//! depend on cleanup: lists and caps ignore or prune expired entries themselves.

use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::{Expiration, SetOptions, Value};
use futures::{stream, StreamExt, TryStreamExt};

use super::Engine;
use crate::error::Error;
use crate::events::{EventKind, Reason};
use crate::ids::{random_bytes, Tag};
use crate::store::Reply;

/// Concurrent `GET`s when summing the live counts.
const CONCURRENCY: usize = 64;

/// After each cleanup script call that removed something, the pass pauses for this many
/// times the call's duration, so cleanup uses at most a fifth of the store's time however
/// large the backlog, and requests keep their latency during a pass. Calls that find
/// nothing due cost Redis next to nothing and are not paused after.
const PACING: u32 = 4;

/// How a pass runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanupOptions {
    /// Run even if another instance holds the lease (operators' manual runs). The lease
    /// is still taken when free.
    pub ignore_lease: bool,
}

/// What a pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupReport {
    /// False when another instance held the lease and nothing was done.
    pub ran: bool,
    /// Index entries of expired sessions removed.
    pub removed: u64,
    /// Users whose schedule entry was due and visited.
    pub users_visited: u64,
    /// Live sessions counted across all buckets after the pass (accurate to within one
    /// cleanup interval: sessions that expired since are still counted).
    pub active_sessions: u64,
    /// Wall time of the pass.
    pub duration: Duration,
}

/// When the periodic jobs last succeeded (Unix milliseconds), from any process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobRuns {
    /// The last cleanup pass that ran to the end.
    pub cleanup: Option<u64>,
    /// The last backup written completely.
    pub backup: Option<u64>,
}

struct BucketResult {
    removed: u64,
    visited: u64,
    live: u64,
}

impl Engine {
    /// Runs one cleanup pass over every bucket, holding the cleanup lease so that only
    /// one instance cleans at a time.
    pub async fn cleanup(&self, options: CleanupOptions) -> Result<CleanupReport, Error> {
        let started = Instant::now();
        let lease = self.take_lease().await?;
        if lease.is_none() && !options.ignore_lease {
            return Ok(CleanupReport {
                ran: false,
                removed: 0,
                users_visited: 0,
                active_sessions: 0,
                duration: started.elapsed(),
            });
        }
        // One bucket at a time, on the store's background connection, paced.
        let mut result = Ok((0, 0, 0));
        for tag in Tag::all() {
            match self.clean_bucket(tag).await {
                Ok(bucket) => {
                    if let Ok((removed, visited, live)) = &mut result {
                        *removed += bucket.removed;
                        *visited += bucket.visited;
                        *live += bucket.live;
                    }
                }
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        if let Some(lease) = lease {
            self.release_lease(lease).await?;
        }
        let (removed, users_visited, active_sessions) = result?;
        let finished = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let _: Value = self
            .inner
            .store
            .pool()
            .next()
            .set(
                self.inner.keys.cleanup_last(),
                finished.to_string(),
                None,
                None,
                false,
            )
            .await?;
        Ok(CleanupReport {
            ran: true,
            removed,
            users_visited,
            active_sessions,
            duration: started.elapsed(),
        })
    }

    async fn clean_bucket(&self, tag: Tag) -> Result<BucketResult, Error> {
        let keys = &self.inner.keys;
        let script = &self.inner.scripts.cleanup;
        let mut total = BucketResult {
            removed: 0,
            visited: 0,
            live: 0,
        };
        loop {
            let args = vec![
                keys.base(tag).into(),
                Value::from(i64::from(self.inner.config.cleanup.batch_size)),
            ];
            let started = Instant::now();
            let value = self
                .inner
                .store
                .run_background(script, keys.due(tag), args)
                .await?;
            let elapsed = started.elapsed();
            let mut reply = Reply::array(script.name, value)?;
            let removed = reply.u64()?;
            total.removed += removed;
            total.visited += reply.u64()?;
            let more = reply.u64()? == 1;
            total.live = reply.u64()?;
            let expired = reply.rest()?;
            for pair in expired.chunks(2) {
                if let [user, sid] = pair {
                    self.emit(EventKind::Expired, user, sid, Reason::Cleanup)
                        .await;
                }
            }
            if removed > 0 {
                tokio::time::sleep(elapsed * PACING).await;
            }
            if !more {
                return Ok(total);
            }
        }
    }

    /// Live sessions across all buckets, as counted by the scripts (expired sessions
    /// count until cleanup removes them).
    pub async fn active_sessions(&self) -> Result<u64, Error> {
        let pool = self.inner.store.pool();
        let keys = &self.inner.keys;
        stream::iter(Tag::all())
            .map(|tag| async move {
                let n: Option<i64> = pool.next().get(keys.live_count(tag)).await?;
                Ok::<u64, Error>(n.unwrap_or(0).max(0) as u64)
            })
            .buffer_unordered(CONCURRENCY)
            .try_fold(0, |sum, n| async move { Ok(sum + n) })
            .await
    }

    /// When the last cleanup pass and the last backup finished successfully (Unix
    /// milliseconds), as recorded in Redis by whichever process ran them.
    pub async fn last_job_runs(&self) -> Result<JobRuns, Error> {
        let client = self.inner.store.pool().next();
        let cleanup: Option<u64> = client.get(self.inner.keys.cleanup_last()).await?;
        let backup: Option<u64> = client.get(self.inner.keys.backup_last()).await?;
        Ok(JobRuns { cleanup, backup })
    }

    /// Takes the cleanup lease; `None` when another holder has it.
    async fn take_lease(&self) -> Result<Option<String>, Error> {
        let value: String = random_bytes::<16>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let ttl = self.inner.config.cleanup.lease_ttl.as_millis() as i64;
        let set: Option<String> = self
            .inner
            .store
            .pool()
            .next()
            .set(
                self.inner.keys.cleanup_lease(),
                value.as_str(),
                Some(Expiration::PX(ttl)),
                Some(SetOptions::NX),
                false,
            )
            .await?;
        Ok(set.map(|_| value))
    }

    async fn release_lease(&self, value: String) -> Result<(), Error> {
        let script = &self.inner.scripts.lease_release;
        self.inner
            .store
            .run(script, self.inner.keys.cleanup_lease(), vec![value.into()])
            .await?;
        Ok(())
    }
}
