//! Support for the tests of sessiondb's monitoring assets (`deploy/monitoring/`): where
//! they are, how to run `promtool` and `amtool`, and small parsers for what the tests
//! compare — alert rules and their unit tests, PromQL metric names, the metric table of
//! `docs/metrics.md`, runbook anchors, Grafana dashboards and the OpenMetrics text
//! sessiondb exports.
//!
//! The tests themselves live in `tests/monitoring/`; this crate ships nothing.
//!
//! # Layout
//!
//! | Module          | File                 | Contents |
//! |-----------------|----------------------|----------|
//! | [`paths`]       | `src/paths.rs`       | the repository's monitoring files |
//! | [`tools`]       | `src/tools.rs`       | running `promtool`, `amtool`, `prometheus-redis-exporter` |
//! | [`promql`]      | `src/promql.rs`      | metric names used by a PromQL expression |
//! | [`rules`]       | `src/rules.rs`       | Prometheus rule files and `promtool test rules` files |
//! | [`docs`]        | `src/docs.rs`        | `docs/metrics.md` table, runbook headings and anchors |
//! | [`dashboards`]  | `src/dashboards.rs`  | Grafana dashboard panels, queries and variables |
//! | [`openmetrics`] | `src/openmetrics.rs` | metric families and sample names in exposition text |
//! | [`exporter`]    | `src/exporter.rs`    | the recorded list of redis_exporter metric names |
//! | [`error`]       | `src/error.rs`       | [`Error`] |

pub mod dashboards;
pub mod docs;
pub mod error;
pub mod exporter;
pub mod openmetrics;
pub mod paths;
pub mod promql;
pub mod rules;
pub mod tools;

pub use error::Error;
