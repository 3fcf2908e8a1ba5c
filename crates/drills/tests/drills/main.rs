//! High-availability drills on real `redis-server` / `redis-sentinel` processes, with
//! the sessiondb HTTP server running in the test process. One binary, so the long
//! outage test overlaps with the others; each test starts its own processes on free
//! loopback ports. Nothing sleeps to synchronise: conditions are polled with
//! deadlines, and properties that must hold "throughout" are sampled over a bounded
//! window.

mod aof;
mod kill_master;
mod minority;
mod outage;
mod refresh_grace;
mod rejoin;
mod secure;
mod support;
