//! Failover drills on real processes: a Sentinel topology (or a standalone
//! server) started with `sessiondb-local`, the sessiondb engine and HTTP server
//! running in this process against it, a steady write load through the API, a
//! fault, and a count of what the API acknowledged and Redis lost.
//!
//! The `failover-drill` binary runs [`drill::kill_master`] repeatedly and prints
//! the figures the operations specification asks for (see
//! `docs/failover-drills.md`); the tests in `tests/drills/` assert the
//! high-availability properties with the same building blocks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sessiondb_drills::DrillError> {
//! use sessiondb_drills::drill::{kill_master, DrillOptions, Mode};
//!
//! let report = kill_master(&DrillOptions::new(Mode::Replicated)).await?;
//! assert_eq!(report.verification.lost_writes, 0);
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! | Module       | File            | Contents |
//! |--------------|-----------------|----------|
//! | [`drill`]    | `src/drill.rs`  | [`drill::Mode`], [`drill::Security`], the HA topology, [`drill::kill_master`] |
//! | [`app`]      | `src/app.rs`    | [`app::DrillApp`]: engine + HTTP server in-process, API key, drill engine policies |
//! | [`api`]      | `src/api.rs`    | [`api::ApiClient`]: create / read / update / refresh / readyz with outcome and latency |
//! | [`load`]     | `src/load.rs`   | [`load::Load`]: K clients at a fixed rate, every request recorded |
//! | [`ledger`]   | `src/ledger.rs` | [`ledger::Slot`]: acknowledged writes per session and the "lost" rule |
//! | [`verify`]   | `src/verify.rs` | [`verify::verify`]: reads everything back after the fault |
//! | [`report`]   | `src/report.rs` | [`report::DrillReport`], request statistics, the printed table |
//! | [`watch`]    | `src/watch.rs`  | [`watch::RoleWatcher`]: samples Sentinel views and node roles |
//! | [`probe`]    | `src/probe.rs`  | blocking `ROLE` / `SENTINEL` probes (tiny RESP2 client), [`probe::Access`] |
//! | `secure`     | `src/secure.rs` | passwords, certificates and `users.acl` of a secure topology |
//! | `error`      | `src/error.rs`  | [`DrillError`] |
//!
//! Faults the drills inject are never errors: 503s, timeouts and lost writes are
//! counted. [`DrillError`] means a drill could not be carried out.

#![deny(missing_docs)]

pub mod api;
pub mod app;
pub mod drill;
mod error;
pub mod ledger;
pub mod load;
pub mod probe;
pub mod report;
mod secure;
pub mod verify;
pub mod watch;

pub use error::DrillError;

/// Pause between two attempts of anything the drills poll for.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);
