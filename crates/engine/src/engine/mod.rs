//! The [`Engine`]: every session operation, each one script call against Redis.

mod cleanup;
mod deletion;
mod refresh;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::*;
use fred::types::Value;

pub use cleanup::{CleanupOptions, CleanupReport, JobRuns};

use crate::batch::Creates;
use crate::config::{ConnectionConfig, EngineConfig, Topology};
use crate::error::Error;
use crate::events::{EventKind, EventSink, Observer, Reason};
use crate::ids::{SessionId, UserId};
use crate::keys::Keyspace;
use crate::model::UnixMillis;
use crate::scripts::Scripts;
use crate::store::Store;
use crate::token::TokenHash;

/// The session engine. Cheap to clone; all clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Connection pool and script runner.
    store: Store,
    /// Policies (validated on construction).
    config: EngineConfig,
    /// Key names for `config.key_prefix`.
    keys: Keyspace,
    /// The Lua scripts.
    scripts: Scripts,
    /// Lifecycle events: stream writer and observer.
    events: EventSink,
    /// How creates reach Redis (together on one master, see `batch.rs`).
    creates: Creates,
}

impl Engine {
    /// Connects to Redis, loads the scripts and starts the event writer.
    pub async fn connect(conn: &ConnectionConfig, config: EngineConfig) -> Result<Self, Error> {
        Self::connect_with_observer(conn, config, None).await
    }

    /// Like [`Engine::connect`], reporting script calls, lifecycle events and master
    /// changes to `observer`.
    pub async fn connect_with_observer(
        conn: &ConnectionConfig,
        config: EngineConfig,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let mut store = Store::connect(conn, observer.clone()).await?;
        store.set_durability(config.durability);
        let keys = Keyspace::new(&config.key_prefix);
        let scripts = Scripts::new();
        store.check_schema(&keys.schema(), SCHEMA_VERSION).await?;
        store.load_library(scripts.code.clone()).await?;
        let events = EventSink::start(
            config
                .events
                .enabled
                .then(|| store.caller(&scripts.events_append)),
            keys.events(),
            config.events.max_len,
            observer,
        );
        let cluster = matches!(conn.topology, Topology::Cluster { .. });
        let creates = Creates::start(&store, &scripts.create, cluster);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                keys,
                scripts,
                events,
                creates,
            }),
        })
    }

    /// The policies in force.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Checks that Redis answers and that the scripts' library is loaded (loading it if a
    /// restarted master lost it): one call of the library's `loaded` function.
    pub async fn ready(&self) -> Result<(), Error> {
        self.inner
            .store
            .check_library(&self.inner.scripts.loaded, self.inner.keys.schema())
            .await
    }

    /// The role the node this engine writes to reports (`ROLE`): `master`, `replica`
    /// (Redis says `slave`), or what else it says.
    pub async fn redis_role(&self) -> Result<String, Error> {
        let role: Vec<Value> = self
            .inner
            .store
            .pool()
            .next()
            .custom(fred::cmd!("ROLE"), Vec::<Value>::new())
            .await?;
        let name = role
            .first()
            .and_then(|v| v.as_str().map(|s| s.to_string()))
            .unwrap_or_default();
        Ok(if name == "slave" {
            "replica".to_owned()
        } else {
            name
        })
    }

    /// Waits until every lifecycle event emitted so far reached the stream.
    pub async fn flush_events(&self) {
        self.inner.events.flush().await;
    }

    /// Lifecycle events whose append to the stream failed.
    pub fn dropped_events(&self) -> u64 {
        self.inner.events.dropped()
    }

    /// The data nodes this engine's connections are open to, as `(host, port)`, sorted
    /// and without repeats: under Sentinel, the master it follows. Operations tooling
    /// that needs its own connections uses [`crate::admin::connect`].
    pub fn connected_servers(&self) -> Vec<(String, u16)> {
        let mut servers: Vec<(String, u16)> = self
            .inner
            .store
            .pool()
            .active_connections()
            .into_iter()
            .map(|s| (s.host.to_string(), s.port))
            .collect();
        servers.sort();
        servers.dedup();
        servers
    }

    /// Closes every connection.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.flush_events().await;
        self.inner.store.quit().await
    }

    async fn emit(&self, kind: EventKind, user: &str, session: &str, reason: Reason) {
        self.inner.events.emit(kind, user, session, reason).await;
    }

    async fn emit_all(
        &self,
        kind: EventKind,
        user: &UserId,
        sessions: &[SessionId],
        reason: Reason,
    ) {
        for sid in sessions {
            self.emit(kind, user.as_str(), sid.as_str(), reason).await;
        }
    }
}

/// Version of the key schema this build reads and writes, stored under
/// `<prefix>:schema`. The engine refuses to start on data of another version, so a later
/// schema change can migrate instead of misreading.
pub const SCHEMA_VERSION: u32 = 2;

/// A token hash as a script argument (raw bytes).
fn hash_arg(hash: &TokenHash) -> Value {
    Value::Bytes(fred::bytes::Bytes::copy_from_slice(hash.as_bytes()))
}

fn millis(d: Duration) -> Value {
    Value::from(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn at(ms: u64) -> UnixMillis {
    UnixMillis(ms)
}

/// Parses session ids a script returned.
fn session_ids(script: &'static str, ids: Vec<String>) -> Result<Vec<SessionId>, Error> {
    ids.into_iter()
        .map(|id| {
            SessionId::parse(&id).map_err(|_| Error::Protocol {
                script,
                detail: "invalid session id in reply".to_owned(),
            })
        })
        .collect()
}

/// Maps a script's `{'err', code, …}` reply to the engine error.
pub(crate) fn script_error(script: &'static str, code: &str) -> Error {
    match code {
        "session_not_found" => Error::SessionNotFound,
        "session_limit_reached" => Error::SessionLimitReached,
        "invalid_grant" => Error::InvalidGrant,
        "reuse_detected" => Error::ReuseDetected,
        "token_not_found" => Error::TokenNotFound,
        "token_spent" => Error::TokenSpent,
        other => Error::Protocol {
            script,
            detail: format!("unknown error code {other:?}"),
        },
    }
}
