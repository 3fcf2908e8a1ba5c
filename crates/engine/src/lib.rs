//! sessiondb session engine.
pub mod config;
pub mod error;
