//! Tests of the `sessiondb` binary: they run the built executable in a temporary
//! directory and assert exit codes, output and the processes it leaves behind.

#![allow(clippy::unwrap_used, unreachable_pub)] // test binary

mod acl;
mod apikey;
mod cleanup;
mod config;
mod image;
mod ops;
mod readme;
mod security;
mod serve;
mod support;
