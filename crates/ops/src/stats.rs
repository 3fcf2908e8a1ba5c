//! `stats`: live sessions, users, the distribution of live logins per user, lifecycle
//! event rates and the users with the most logins.
//!
//! Cost of one run (no keyspace scan):
//! - the figures: 2 × 1024 single-key reads ([`SessionFigures`](crate::figures::SessionFigures));
//! - the distribution: one read-only script call per 1000 users of each bucket
//!   (`stats_bucket.lua`, at least 1024 calls), each doing one `ZCOUNT` per user: Redis
//!   work proportional to the number of users with logins (about 5 µs per user), never
//!   to the number of keys, and in steps of at most 1000 users;
//! - the event rates: `XREVRANGE` over the window in pages of 10 000 entries inside a
//!   read-only script (`events_window.lua`), stopping at `max_events`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use fred::prelude::*;
use fred::types::Value;
use futures::{stream, StreamExt, TryStreamExt};
use serde::Serialize;
use sessiondb_engine::admin::{self, KeyNames};
use sessiondb_engine::{ConnectionConfig, Tag};

use crate::error::OpsError;
use crate::figures::session_figures;
use crate::scripts::{int, items, text, EVENTS_WINDOW, STATS_BUCKET};

/// Users per script call when reading the distribution.
const PAGE: i64 = 1000;
/// Stream entries per script call when counting events.
const EVENT_PAGE: i64 = 10_000;
/// Buckets read concurrently.
const CONCURRENCY: usize = 16;

/// The event types whose rates are always reported (others appear when seen).
const MAIN_EVENTS: [&str; 5] = [
    "created",
    "refreshed",
    "revoked",
    "evicted",
    "reuse_detected",
];

/// What `stats` reads.
#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// The per-user cap (`session.max_per_user`): the distribution lists 1..=cap even
    /// where no user has that many.
    pub cap: u32,
    /// How many of the users with the most logins to list (0: none).
    pub top: usize,
    /// Show those users' ids; otherwise only their counts are listed.
    pub show_users: bool,
    /// The window event rates are computed over. Default one minute.
    pub window: Duration,
    /// Most events counted per run; beyond that the rates are marked truncated.
    pub max_events: u64,
}

impl Default for StatsOptions {
    fn default() -> Self {
        Self {
            cap: 5,
            top: 10,
            show_users: false,
            window: Duration::from_secs(60),
            max_events: 1_000_000,
        }
    }
}

/// How many users hold a given number of live logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistributionRow {
    /// Live logins.
    pub sessions: u32,
    /// Users holding exactly that many.
    pub users: u64,
}

/// One of the users with the most live logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopUser {
    /// The user id, only with `show_users`.
    pub user_id: Option<String>,
    /// Live logins.
    pub sessions: u64,
}

/// Lifecycle events over the window.
#[derive(Debug, Clone, Serialize)]
pub struct EventRates {
    /// The window, in seconds.
    pub window_seconds: u64,
    /// Events counted.
    pub counted: u64,
    /// True when `max_events` stopped the count (the rates are then lower bounds).
    pub truncated: bool,
    /// Events per minute by type (`created`, `refreshed`, `revoked`, `evicted`,
    /// `reuse_detected` always; `rotated`, `deleted`, `expired` when seen).
    pub per_minute: BTreeMap<String, f64>,
}

/// What `stats` found. Exit status 0 (a run that cannot read the figures returns an
/// [`OpsError`], exit status 2).
///
/// JSON: `{"live_sessions": 10, "users": 4, "users_counted": 4, "distribution":
/// [{"sessions": 1, "users": 2}, …], "top_users": [{"user_id": null, "sessions": 5}, …],
/// "events": {"window_seconds": 60, "counted": 12, "truncated": false, "per_minute":
/// {"created": 10.0, …}}}` — see `docs/operations.md`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    /// Indexed device logins (the buckets' counters).
    pub live_sessions: u64,
    /// Users with indexed logins (the buckets' schedules).
    pub users: u64,
    /// Users with at least one live login, as the distribution counted them.
    pub users_counted: u64,
    /// Users per number of live logins, from 1 to the cap (or the largest count seen).
    pub distribution: Vec<DistributionRow>,
    /// The users with the most live logins, most first.
    pub top_users: Vec<TopUser>,
    /// Lifecycle event rates.
    pub events: EventRates,
}

/// Reads the statistics of the sessions under `key_prefix`.
pub async fn stats(
    conn: &ConnectionConfig,
    key_prefix: &str,
    options: &StatsOptions,
) -> Result<StatsReport, OpsError> {
    if options.window.as_millis() == 0 {
        return Err(OpsError::invalid("window", "must be greater than zero"));
    }
    let pool = admin::connect(conn, 4)
        .await
        .map_err(|e| OpsError::redis("connecting to the deployment", e))?;
    let result = read(&pool, key_prefix, options).await;
    let _ = pool.quit().await;
    result
}

async fn read(pool: &Pool, prefix: &str, options: &StatsOptions) -> Result<StatsReport, OpsError> {
    let figures = session_figures(pool, prefix).await?;
    let keys = KeyNames::new(prefix);
    let top_n = if options.top == 0 { 0 } else { options.top };
    let buckets: Vec<Bucket> = stream::iter(Tag::all())
        .map(|tag| read_bucket(pool.next().clone(), &keys, tag, top_n))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut histogram: BTreeMap<u32, u64> = BTreeMap::new();
    let mut top: Vec<(String, u64)> = Vec::new();
    for bucket in buckets {
        for (n, users) in bucket.histogram {
            *histogram.entry(n).or_default() += users;
        }
        top.extend(bucket.top);
    }
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(options.top);
    let largest = histogram.keys().next_back().copied().unwrap_or(0);
    let distribution = (1..=options.cap.max(largest))
        .map(|sessions| DistributionRow {
            sessions,
            users: histogram.get(&sessions).copied().unwrap_or(0),
        })
        .collect();
    let top_users = top
        .into_iter()
        .map(|(member, sessions)| TopUser {
            user_id: options
                .show_users
                .then(|| member.get(23..).unwrap_or_default().to_owned()),
            sessions,
        })
        .collect();
    let events = event_rates(pool.next(), &keys.events(), options).await?;
    Ok(StatsReport {
        live_sessions: figures.live_sessions,
        users: figures.users,
        users_counted: histogram.values().sum(),
        distribution,
        top_users,
        events,
    })
}

struct Bucket {
    histogram: Vec<(u32, u64)>,
    /// `(due member, live logins)`.
    top: Vec<(String, u64)>,
}

async fn read_bucket(
    client: Client,
    keys: &KeyNames,
    tag: Tag,
    top: usize,
) -> Result<Bucket, OpsError> {
    let script = &*STATS_BUCKET;
    let mut bucket = Bucket {
        histogram: Vec::new(),
        top: Vec::new(),
    };
    let mut first = 0i64;
    loop {
        let args = vec![
            Value::from(keys.base(tag)),
            Value::from(first),
            Value::from(PAGE),
            Value::from(top as i64),
        ];
        let reply = items(script.run(&client, keys.due(tag), args).await?);
        let total = int(script, reply.first())?;
        let mut parts = reply.into_iter().skip(1);
        let hist = items(parts.next().unwrap_or(Value::Null));
        for pair in hist.chunks(2) {
            let n = int(script, pair.first())?;
            let users = int(script, pair.get(1))?;
            bucket
                .histogram
                .push((u32::try_from(n).unwrap_or(u32::MAX), users.max(0) as u64));
        }
        let best = items(parts.next().unwrap_or(Value::Null));
        for pair in best.chunks(2) {
            bucket.top.push((
                text(script, pair.first())?,
                int(script, pair.get(1))?.max(0) as u64,
            ));
        }
        first += PAGE;
        if first >= total {
            return Ok(bucket);
        }
    }
}

async fn event_rates(
    client: &Client,
    stream: &str,
    options: &StatsOptions,
) -> Result<EventRates, OpsError> {
    let script = &*EVENTS_WINDOW;
    let window_ms = i64::try_from(options.window.as_millis()).unwrap_or(i64::MAX);
    let mut counts: BTreeMap<String, u64> =
        MAIN_EVENTS.iter().map(|k| ((*k).to_owned(), 0)).collect();
    let mut upper = "+".to_owned();
    let mut lower = String::new();
    let mut counted = 0u64;
    let mut truncated = false;
    loop {
        let args = vec![
            Value::from(upper.as_str()),
            Value::from(lower.as_str()),
            Value::from(window_ms),
            Value::from(EVENT_PAGE),
        ];
        let reply = items(script.run(client, stream.to_owned(), args).await?);
        lower = text(script, reply.first())?;
        let n = int(script, reply.get(1))?.max(0) as u64;
        let last = text(script, reply.get(2))?;
        for pair in reply.get(3..).unwrap_or_default().chunks(2) {
            *counts.entry(text(script, pair.first())?).or_default() +=
                int(script, pair.get(1))?.max(0) as u64;
        }
        counted += n;
        if n < EVENT_PAGE as u64 || last.is_empty() {
            break;
        }
        if counted >= options.max_events {
            truncated = true;
            break;
        }
        upper = format!("({last}");
    }
    let minutes = options.window.as_secs_f64() / 60.0;
    Ok(EventRates {
        window_seconds: options.window.as_secs(),
        counted,
        truncated,
        per_minute: counts
            .into_iter()
            .map(|(k, n)| (k, n as f64 / minutes))
            .collect(),
    })
}

impl fmt::Display for StatsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "live sessions  {}", self.live_sessions)?;
        writeln!(f, "users          {}", self.users)?;
        writeln!(
            f,
            "\nsessions per user (users with live logins: {}):",
            self.users_counted
        )?;
        let widest = self.distribution.iter().map(|r| r.users).max().unwrap_or(0);
        for row in &self.distribution {
            let bar = if widest == 0 {
                0
            } else {
                (row.users * 40).div_ceil(widest) as usize
            };
            writeln!(
                f,
                "{:>5}  {:>10}  {}",
                row.sessions,
                row.users,
                "#".repeat(bar)
            )?;
        }
        writeln!(
            f,
            "\nevents per minute (last {} s{}):",
            self.events.window_seconds,
            if self.events.truncated {
                ", truncated"
            } else {
                ""
            }
        )?;
        for (kind, rate) in &self.events.per_minute {
            writeln!(f, "  {kind:<15} {rate:.1}")?;
        }
        if !self.top_users.is_empty() {
            writeln!(f, "\ntop users:")?;
            for (rank, user) in self.top_users.iter().enumerate() {
                let id = user.user_id.as_deref().unwrap_or("(hidden; --show-users)");
                writeln!(f, "  {:>3}. {:>5}  {id}", rank + 1, user.sessions)?;
            }
        }
        Ok(())
    }
}
