//! [`Load`]: a steady write load through the HTTP API.
//!
//! `clients` concurrent tasks each send one request per tick of their own interval
//! (together `rate_per_sec`), cycling through create, update, refresh, update. A
//! client never has two requests in flight, and a tick missed while a request hangs
//! is skipped, not made up, so a hanging backend lowers the offered rate instead of
//! piling up requests. Every request is recorded with its latency and outcome;
//! every acknowledged write goes into the client's [`Slot`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::api::{ApiClient, Outcome};
use crate::ledger::{Slot, WriteKind};
use crate::{DrillError, POLL_INTERVAL};

/// How much load to offer.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Concurrent clients (each with at most one request in flight).
    pub clients: usize,
    /// Requests per second over all clients.
    pub rate_per_sec: f64,
}

/// The request sequence every client cycles through.
const MIX: [WriteKind; 4] = [
    WriteKind::Create,
    WriteKind::Update,
    WriteKind::Refresh,
    WriteKind::Update,
];

/// One request the load generator sent.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// What it was.
    pub kind: WriteKind,
    /// True for a refresh re-presenting a token whose first attempt got no
    /// definitive answer.
    pub retry: bool,
    /// True for a refresh answered `replayed: true` (the same successor as an
    /// earlier attempt whose answer was lost).
    pub replayed: bool,
    /// When it was sent.
    pub sent_at: Instant,
    /// How long until it ended.
    pub latency: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

impl RequestRecord {
    /// When it ended.
    pub fn ended_at(&self) -> Instant {
        self.sent_at + self.latency
    }
}

/// Everything a finished load recorded.
#[derive(Debug, Clone)]
pub struct LoadLog {
    /// When the load started.
    pub started: Instant,
    /// Every request, per client in sending order, clients one after the other.
    pub records: Vec<RequestRecord>,
    /// Every session an acknowledged create produced.
    pub slots: Vec<Slot>,
}

/// Shared between the clients and [`Load`]'s waiters.
#[derive(Debug)]
struct Progress {
    /// Acknowledged writes so far.
    acked: AtomicU64,
    /// The latest send time of any acknowledged write.
    last_acked_sent: Mutex<Option<Instant>>,
}

impl Progress {
    fn record(&self, sent_at: Instant) {
        self.acked.fetch_add(1, Ordering::Relaxed);
        let mut last = self
            .last_acked_sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|l| l < sent_at) {
            *last = Some(sent_at);
        }
    }

    fn last_acked_sent(&self) -> Option<Instant> {
        *self
            .last_acked_sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running load. [`stop`](Self::stop) it to get the [`LoadLog`]; dropping it
/// stops the clients too (their records are then lost).
#[derive(Debug)]
pub struct Load {
    /// When it started.
    started: Instant,
    /// Set to `true` to stop every client after its current request.
    stop: watch::Sender<bool>,
    /// The client tasks.
    clients: Vec<JoinHandle<(Vec<RequestRecord>, Vec<Slot>)>>,
    /// Counters the waiters poll.
    progress: Arc<Progress>,
}

impl Load {
    /// Starts the clients (their first requests are spread over one period).
    pub fn start(api: &ApiClient, options: LoadOptions) -> Result<Self, DrillError> {
        if options.clients == 0 || !options.rate_per_sec.is_finite() || options.rate_per_sec <= 0.0
        {
            return Err(DrillError::InvalidOptions(
                "the load needs at least one client and a positive rate".to_owned(),
            ));
        }
        let period = Duration::from_secs_f64(options.clients as f64 / options.rate_per_sec);
        let started = Instant::now();
        let (stop, stopped) = watch::channel(false);
        let progress = Arc::new(Progress {
            acked: AtomicU64::new(0),
            last_acked_sent: Mutex::new(None),
        });
        let clients = (0..options.clients)
            .map(|id| {
                let offset = period.mul_f64(id as f64 / options.clients as f64);
                let client = Client {
                    id,
                    api: api.clone(),
                    progress: progress.clone(),
                    records: Vec::new(),
                    slots: Vec::new(),
                    cursor: 0,
                    creates: 0,
                };
                tokio::spawn(client.run(started + offset, period, stopped.clone()))
            })
            .collect();
        Ok(Self {
            started,
            stop,
            clients,
            progress,
        })
    }

    /// Writes acknowledged so far.
    pub fn acked_writes(&self) -> u64 {
        self.progress.acked.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` writes were acknowledged, for at most `deadline`.
    pub async fn wait_for_acked_writes(
        &self,
        n: u64,
        deadline: Duration,
    ) -> Result<(), DrillError> {
        self.wait(&format!("{n} acknowledged writes"), deadline, || {
            let acked = self.acked_writes();
            (acked >= n)
                .then_some(())
                .ok_or(format!("{acked} acknowledged"))
        })
        .await
    }

    /// Waits until a write sent at or after `instant` was acknowledged, for at most
    /// `deadline`.
    pub async fn wait_for_write_sent_after(
        &self,
        instant: Instant,
        deadline: Duration,
    ) -> Result<(), DrillError> {
        let what = format!(
            "a write sent {:?} after the load started to be acknowledged",
            instant.saturating_duration_since(self.started)
        );
        self.wait(&what, deadline, || match self.progress.last_acked_sent() {
            Some(last) if last >= instant => Ok(()),
            last => Err(format!(
                "latest acknowledged write was sent {:?} after the start",
                last.map(|l| l.saturating_duration_since(self.started))
            )),
        })
        .await
    }

    async fn wait(
        &self,
        what: &str,
        deadline: Duration,
        mut check: impl FnMut() -> Result<(), String>,
    ) -> Result<(), DrillError> {
        let started = Instant::now();
        loop {
            let last = match check() {
                Ok(()) => return Ok(()),
                Err(last) => last,
            };
            if started.elapsed() >= deadline {
                return Err(DrillError::Timeout {
                    what: what.to_owned(),
                    waited: started.elapsed(),
                    last,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Stops the clients (each finishes its request in flight, bounded by the client
    /// timeout) and returns what they recorded.
    pub async fn stop(mut self) -> Result<LoadLog, DrillError> {
        let _ = self.stop.send(true);
        let mut log = LoadLog {
            started: self.started,
            records: Vec::new(),
            slots: Vec::new(),
        };
        for client in std::mem::take(&mut self.clients) {
            let (records, slots) = client.await?;
            log.records.extend(records);
            log.slots.extend(slots);
        }
        Ok(log)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for client in &self.clients {
            client.abort();
        }
    }
}

/// One client task's state.
struct Client {
    /// Distinguishes its users from other clients'.
    id: usize,
    api: ApiClient,
    progress: Arc<Progress>,
    records: Vec<RequestRecord>,
    slots: Vec<Slot>,
    /// Round-robin position over `slots`.
    cursor: usize,
    /// Creates sent, for unique user ids.
    creates: u64,
}

impl Client {
    async fn run(
        mut self,
        first: Instant,
        period: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> (Vec<RequestRecord>, Vec<Slot>) {
        let mut ticker = tokio::time::interval_at(first.into(), period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        for kind in MIX.iter().cycle() {
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                _ = ticker.tick() => {}
            }
            match (kind, self.next_live_slot()) {
                (WriteKind::Create, _) | (_, None) => self.create().await,
                (_, Some(i)) if self.slots[i].pending_refresh.is_some() => {
                    self.refresh(i, true).await;
                }
                (WriteKind::Update, Some(i)) => self.update(i).await,
                (WriteKind::Refresh, Some(i)) => self.refresh(i, false).await,
            }
        }
        (self.records, self.slots)
    }

    /// The next slot still in use, round robin.
    fn next_live_slot(&mut self) -> Option<usize> {
        let n = self.slots.len();
        let found = (0..n)
            .map(|k| (self.cursor + k) % n)
            .find(|&i| self.slots[i].retired.is_none())?;
        self.cursor = found + 1;
        Some(found)
    }

    fn record(&mut self, record: RequestRecord) {
        if record.outcome.is_success() {
            self.progress.record(record.sent_at);
        }
        self.records.push(record);
    }

    async fn create(&mut self) {
        let user_id = format!("drill-c{}-{}", self.id, self.creates);
        self.creates += 1;
        let sent_at = Instant::now();
        let answer = self.api.create(&user_id).await;
        if let Some(created) = answer.body {
            self.slots.push(Slot::created(user_id, created));
        }
        self.record(RequestRecord {
            kind: WriteKind::Create,
            retry: false,
            replayed: false,
            sent_at,
            latency: answer.latency,
            outcome: answer.outcome,
        });
    }

    async fn update(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let seq = slot.take_seq();
        let sent_at = Instant::now();
        let answer = self.api.put(&slot.current().session_token, seq).await;
        match (&answer.body, &answer.outcome) {
            (Some(updated), _) => slot.ack_update(seq, updated.version),
            (None, Outcome::Rejected { status, code }) => {
                slot.retired = Some(format!("update answered {status} {code}"));
            }
            _ => {}
        }
        self.record(RequestRecord {
            kind: WriteKind::Update,
            retry: false,
            replayed: false,
            sent_at,
            latency: answer.latency,
            outcome: answer.outcome,
        });
    }

    async fn refresh(&mut self, i: usize, retry: bool) {
        let slot = &mut self.slots[i];
        let sent_at = Instant::now();
        let answer = self.api.refresh(&slot.current().refresh_token).await;
        let replayed = answer.body.as_ref().is_some_and(|r| r.replayed);
        match (answer.body, &answer.outcome) {
            (Some(refreshed), _) => slot.refreshed(refreshed, true),
            (None, Outcome::Rejected { status: 429, .. }) => {}
            (None, Outcome::Rejected { status, code }) => {
                slot.pending_refresh = None;
                slot.false_reuse = code == "reuse_detected";
                slot.retired = Some(format!("refresh answered {status} {code}"));
            }
            (None, _) => {
                slot.pending_refresh.get_or_insert(sent_at);
            }
        }
        self.record(RequestRecord {
            kind: WriteKind::Refresh,
            retry,
            replayed,
            sent_at,
            latency: answer.latency,
            outcome: answer.outcome,
        });
    }
}

/// Resolves once the load is told to stop (or the [`Load`] is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = stop.wait_for(|&s| s).await.map(|_| ());
}
