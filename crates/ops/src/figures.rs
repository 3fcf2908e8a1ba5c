//! sessiondb's own figures, read from the key schema: live sessions (the buckets' `n`
//! counters), users with logins (the buckets' `due` schedules), the schema version and
//! the last cleanup and backup.
//!
//! Cost: 2 × 1024 single-key reads (`GET n`, `ZCARD due`, 64 in flight) and 3 `GET`s,
//! whatever the number of sessions.

use fred::prelude::*;
use futures::{stream, StreamExt, TryStreamExt};
use serde::Serialize;
use sessiondb_engine::admin::KeyNames;
use sessiondb_engine::Tag;

use crate::error::OpsError;
use crate::human;

/// Concurrent single-key reads over the 1024 buckets.
pub(crate) const CONCURRENCY: usize = 64;

/// `<prefix>:backup:last`: when the last backup succeeded (decimal Unix milliseconds,
/// Redis's clock), written by [`backup`](crate::backup::backup). No TTL.
pub fn backup_last_key(prefix: &str) -> String {
    format!("{prefix}:backup:last")
}

/// `<prefix>:cleanup:last`: when the last cleanup pass succeeded (decimal Unix
/// milliseconds), expected from the cleanup pass. `status` reports the last cleanup as
/// unknown while the key is absent.
pub fn cleanup_last_key(prefix: &str) -> String {
    format!("{prefix}:cleanup:last")
}

/// The key under which `health` writes (with a 10 s TTL) to prove the master takes
/// writes: `<prefix>:health` (on a Cluster, `<prefix>:health:{<n>}` per master).
pub fn health_key(prefix: &str) -> String {
    format!("{prefix}:health")
}

/// sessiondb's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SessionFigures {
    /// Indexed device logins: the sum of the buckets' `n` counters (exact within one
    /// cleanup interval: logins that ended since the last pass still count).
    pub live_sessions: u64,
    /// Users with at least one indexed login: the sum of the `due` schedules' sizes.
    pub users: u64,
    /// `<prefix>:schema`, `None` when the database has never seen the engine.
    pub schema_version: Option<String>,
    /// When the last cleanup pass succeeded (Unix ms), `None` when unknown.
    pub last_cleanup_ms: Option<u64>,
    /// When the last backup succeeded (Unix ms), `None` when none is recorded.
    pub last_backup_ms: Option<u64>,
}

impl std::fmt::Display for SessionFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when =
            |ms: Option<u64>, absent: &str| ms.map_or_else(|| absent.to_owned(), human::instant);
        writeln!(f, "live sessions   {}", self.live_sessions)?;
        writeln!(f, "users           {}", self.users)?;
        writeln!(
            f,
            "schema version  {}",
            self.schema_version
                .as_deref()
                .unwrap_or("none (no engine has started here)")
        )?;
        writeln!(
            f,
            "last cleanup    {}",
            when(self.last_cleanup_ms, "unknown")
        )?;
        writeln!(
            f,
            "last backup     {}",
            when(self.last_backup_ms, "none recorded")
        )
    }
}

/// Reads the figures through the deployment's pool (routed by key on a Cluster).
pub(crate) async fn session_figures(pool: &Pool, prefix: &str) -> Result<SessionFigures, OpsError> {
    let keys = KeyNames::new(prefix);
    let live_sessions = sum_buckets(
        pool,
        |tag| keys.live_count(tag),
        |client, key| async move {
            let n: Option<i64> = client.get(&key).await?;
            Ok(n.unwrap_or(0).max(0) as u64)
        },
    )
    .await?;
    let users = sum_buckets(
        pool,
        |tag| keys.due(tag),
        |client, key| async move { client.zcard(&key).await },
    )
    .await?;
    let client = pool.next();
    let get = |key: String| async move {
        client
            .get::<Option<String>, _>(&key)
            .await
            .map_err(|e| OpsError::redis(format!("GET {key}"), e))
    };
    let schema_version = get(keys.schema()).await?;
    let millis = |v: Option<String>| v.and_then(|v| v.trim().parse::<u64>().ok());
    let last_cleanup_ms = millis(get(cleanup_last_key(prefix)).await?);
    let last_backup_ms = millis(get(backup_last_key(prefix)).await?);
    Ok(SessionFigures {
        live_sessions,
        users,
        schema_version,
        last_cleanup_ms,
        last_backup_ms,
    })
}

/// Sums `read(key_of(tag))` over the 1024 buckets.
pub(crate) async fn sum_buckets<K, R, Fut>(pool: &Pool, key_of: K, read: R) -> Result<u64, OpsError>
where
    K: Fn(Tag) -> String,
    R: Fn(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<u64, fred::error::Error>>,
{
    stream::iter(Tag::all().map(key_of))
        .map(|key| {
            let client = pool.next().clone();
            let what = format!("reading {key}");
            let read = read(client, key);
            async move { read.await.map_err(|e| OpsError::redis(what, e)) }
        })
        .buffer_unordered(CONCURRENCY)
        .try_fold(0u64, |sum, n| async move { Ok(sum + n) })
        .await
}
