//! Tests of the operations logic against real redis-server, redis-sentinel and Redis
//! Cluster processes (started per test by sessiondb-local), with sessions created by the
//! real engine.

#![allow(unreachable_pub)] // a test binary has no public API

mod backup;
mod health;
mod pitr;
mod redis_cli;
mod status;
mod store;
mod support;
