//! Lifecycle events: appended to a capped Redis Stream (`<prefix>:events`) and reported
//! to an [`Observer`] (the HTTP layer turns them into metrics).
//!
//! Scripts return what happened; the engine hands each event to a background writer that
//! appends them in batches: one call of `events_append.lua` per batch, which runs one
//! `XADD … MAXLEN ~ n` per event. The stream is one key, so on Redis Cluster it cannot be
//! written from inside the per-user scripts (their keys live in another slot); writing it
//! after the script keeps the same code on every topology. The queue to the writer is
//! bounded and a full queue makes the producer wait (a burst, such as a large cleanup
//! pass, is paced by the writer instead of dropping events). An event is lost only if the
//! process dies between the script and the append, or if Redis refuses the append; the
//! latter are counted ([`Observer::events_dropped`]). The entry id is Redis's time of the
//! append.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::types::Value;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::store::Caller;
use crate::throttle::Throttle;

/// The kinds of lifecycle change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A session was created.
    Created,
    /// A session got a new token.
    Rotated,
    /// A refresh replaced a session.
    Refreshed,
    /// A superseded refresh token was presented; its family was revoked.
    ReuseDetected,
    /// A session was revoked to make room under the per-user cap.
    Evicted,
    /// A session was revoked.
    Revoked,
    /// A session was revoked through a deletion token.
    Deleted,
    /// Cleanup removed the index entry of a session that expired.
    Expired,
}

impl EventKind {
    /// The name used in the stream and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Rotated => "rotated",
            EventKind::Refreshed => "refreshed",
            EventKind::ReuseDetected => "reuse_detected",
            EventKind::Evicted => "evicted",
            EventKind::Revoked => "revoked",
            EventKind::Deleted => "deleted",
            EventKind::Expired => "expired",
        }
    }
}

/// Why a lifecycle change happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A create.
    Create,
    /// A token rotation.
    Rotate,
    /// A refresh of a login whose session was live.
    Refresh,
    /// A refresh of a login whose session had idled out.
    ExpiredSession,
    /// The holder of a credential signed out.
    User,
    /// Revoked by id (an administrator, or the user from another device).
    Admin,
    /// A revoke-all.
    RevokeAll,
    /// The per-user cap.
    Cap,
    /// Refresh-token reuse detection.
    Reuse,
    /// A deletion token.
    DeletionToken,
    /// The cleanup pass found the login ended.
    Cleanup,
    /// An operation on the user's logins found the login ended before cleanup did.
    Noticed,
}

impl Reason {
    /// The name used in the stream.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Create => "create",
            Reason::Rotate => "rotate",
            Reason::Refresh => "refresh",
            Reason::ExpiredSession => "expired_session",
            Reason::User => "user",
            Reason::Admin => "admin",
            Reason::RevokeAll => "revoke_all",
            Reason::Cap => "cap",
            Reason::Reuse => "reuse",
            Reason::DeletionToken => "deletion_token",
            Reason::Cleanup => "cleanup",
            Reason::Noticed => "noticed",
        }
    }
}

/// One lifecycle change. Carries no secret: ids are public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// Whose session.
    pub user_id: String,
    /// Which session (public id).
    pub session_id: String,
    /// Why.
    pub reason: Reason,
}

/// Receives engine activity; every method has a no-op default.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// One script call finished after `elapsed`; `ok` is false when Redis failed.
    fn script_call(&self, _script: &'static str, _elapsed: Duration, _ok: bool) {}
    /// A lifecycle event happened.
    fn event(&self, _event: &Event) {}
    /// The pool moved to a new master that Sentinel announced (`+switch-master`), at
    /// `host:port`; reported once per announced master.
    fn master_changed(&self, _host: &str, _port: u16) {}
    /// `count` lifecycle events could not be appended to the stream (Redis refused or
    /// did not answer the append).
    fn events_dropped(&self, _count: u64) {}
    /// A listing was read from a replica (`true`) or from the master (`false`), with
    /// `redis.read_from = replica_preferred`.
    fn listing_read_from_replica(&self, _replica: bool) {}
    /// A replica listing failed and was retried on the master.
    fn replica_read_fell_back(&self) {}
}

enum Message {
    Event(Event),
    Flush(oneshot::Sender<()>),
}

/// Hands events to the background stream writer and the observer.
#[derive(Debug)]
pub(crate) struct EventSink {
    tx: Option<mpsc::Sender<Message>>,
    observer: Option<Arc<dyn Observer>>,
    /// Events whose append failed.
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Event(e) => e.fmt(f),
            Message::Flush(_) => f.write_str("Flush"),
        }
    }
}

const QUEUE: usize = 16_384;
const BATCH: usize = 256;

impl EventSink {
    /// Starts the writer task when the stream is enabled; `append` is the
    /// `events_append` function (see [`Store::caller`]).
    ///
    /// [`Store::caller`]: crate::store::Store::caller
    pub(crate) fn start(
        append: Option<Caller>,
        stream: String,
        max_len: u64,
        observer: Option<Arc<dyn Observer>>,
    ) -> Self {
        let dropped = Arc::new(AtomicU64::new(0));
        let tx = append.map(|append| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let writer = Writer {
                append,
                stream,
                max_len,
                observer: observer.clone(),
                dropped: dropped.clone(),
            };
            tokio::spawn(writer.run(rx));
            tx
        });
        Self {
            tx,
            observer,
            dropped,
        }
    }

    /// Reports an event and queues it for the stream, waiting while the queue is full.
    pub(crate) async fn emit(
        &self,
        kind: EventKind,
        user_id: &str,
        session_id: &str,
        reason: Reason,
    ) {
        let event = Event {
            kind,
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            reason,
        };
        // Debug level: at production rates one line per event would drown the logs; the
        // stream and the metrics carry them.
        tracing::debug!(
            event = kind.as_str(),
            user_id,
            session_id,
            reason = reason.as_str(),
            "session lifecycle"
        );
        if let Some(observer) = &self.observer {
            observer.event(&event);
        }
        if let Some(tx) = &self.tx {
            // The writer only ends when the sink is dropped, so a send cannot fail here.
            let _ = tx.send(Message::Event(event)).await;
        }
    }

    /// Waits until every event emitted before this call was appended (or failed).
    pub(crate) async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = oneshot::channel();
            if tx.send(Message::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Failed appends, logged at most once every 10 s (the total is in the metrics).
static FAILED_APPENDS: Throttle = Throttle::new(Duration::from_secs(10));

/// The background task that appends queued events to the stream.
struct Writer {
    append: Caller,
    stream: String,
    max_len: u64,
    observer: Option<Arc<dyn Observer>>,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Message>) {
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            let mut flushes = Vec::new();
            let mut args = vec![Value::from(self.max_len.to_string())];
            for message in batch.drain(..) {
                match message {
                    Message::Event(e) => args.extend([
                        Value::from(e.kind.as_str()),
                        Value::from(e.user_id),
                        Value::from(e.session_id),
                        Value::from(e.reason.as_str()),
                    ]),
                    Message::Flush(done) => flushes.push(done),
                }
            }
            let events = ((args.len() - 1) / 4) as u64;
            let failed = if events == 0 {
                0
            } else {
                match self.append.call(self.stream.clone(), args).await {
                    Ok(Value::Integer(refused)) => u64::try_from(refused).unwrap_or(events),
                    _ => events,
                }
            };
            if failed > 0 {
                let total = self.dropped.fetch_add(failed, Ordering::Relaxed) + failed;
                if let Some(suppressed) = FAILED_APPENDS.allow() {
                    tracing::warn!(
                        failed,
                        total,
                        suppressed,
                        "could not append lifecycle events to the stream"
                    );
                }
                if let Some(observer) = &self.observer {
                    observer.events_dropped(failed);
                }
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
    }
}
