//! sessiondb session engine: login sessions, per-user caps, refresh-token families and
//! deletion tokens, stored in Redis (standalone, Sentinel or Cluster).
//!
//! Every multi-key change is one Lua script, so each invariant of the specification holds
//! under concurrency from any number of API instances and across failover. Secrets never
//! reach Redis in clear: keys and values hold SHA-256 hashes of tokens.
//!
//! # Layout
//! - [`admin`] (`admin.rs`): connections and key names for operations tooling.
//! - [`config`] (`config.rs`): policies ([`EngineConfig`]) and how to reach Redis
//!   ([`ConnectionConfig`]).
//! - [`engine`] (`engine/`): the [`Engine`] and its operations — `sessions.rs` (create,
//!   get, update, rotate, revoke, list), `refresh.rs`, `deletion.rs`, `cleanup.rs`.
//! - `scripts/*.lua`: one script per operation, each headed by its KEYS, ARGV, return
//!   value and invariant; `lib/` holds the shared modules (clock, record and key schema,
//!   logins); `scripts.rs` builds them into one Redis Functions library.
//! - `keys.rs`: key names. `ids.rs`: user ids, routing tags, public ids. `token.rs`:
//!   token formats, hashing and refresh derivation.
//! - `store.rs`: the Redis connection (fred) and script replies. `batch.rs`: creates
//!   that arrive together sent in one call. `clock.rs`: the
//!   estimate of Redis's clock that session reads use. `refused.rs`: a login
//!   or certificate refused at connect time, as a [`Refusal`] naming what to check.
//! - `tls.rs`: TLS towards Redis (rustls), noting refused server certificates.
//! - [`events`] (`events.rs`): lifecycle events (stream + observer).
//! - [`error`] (`error.rs`): [`Error`] with stable codes.
//! - [`model`] (`model.rs`): request and response values.
//!
//! # Time
//! Scripts read the clock with Redis `TIME`: every API instance sees the same clock, with
//! no dependence on the API hosts' clocks. A session read uses an estimate of that clock
//! (`clock.rs`), never behind it. See `docs/decisions/0002-time-from-redis.md`.

pub mod admin;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod model;

mod batch;
mod clock;
mod ids;
mod keys;
mod record;
mod refused;
mod replicas;
mod scripts;
mod sentinel;
mod store;
mod throttle;
mod tls;
mod token;

pub use config::{
    CapPolicy, CleanupConfig, ConnectionConfig, DeletionPolicy, Durability, EngineConfig,
    EventsConfig, ReadFrom, RefreshPolicy, ReuseScope, SessionPolicy, TlsConfig, Topology,
    MAX_REFRESH_GRACE, MAX_SESSIONS_PER_USER,
};
pub use engine::{CleanupOptions, CleanupReport, Engine, JobRuns, SCHEMA_VERSION};
pub use error::{Error, InvalidInput, Refusal};
pub use events::{Event, EventKind, Observer, Reason};
pub use ids::{DeletionId, SessionId, Tag, UserId, TAG_BUCKETS};
pub use model::*;
pub use token::{token_log_id, DeletionToken, RefreshToken, SessionToken};
