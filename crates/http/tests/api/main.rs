//! The HTTP API against real Redis over real HTTP: one test binary, each test with its
//! own `redis-server` and key prefix (`helpers::spawn_app`).

mod admin;
mod auth;
mod contract;
mod deletion;
mod fuzz;
mod helpers;
mod http;
mod openapi;
mod refresh;
mod schemathesis;
mod sessions;
mod shutdown;
mod signout;
mod tls;
mod users;
