//! Checks of the monitoring assets in `deploy/monitoring/` and the docs that go with
//! them. They run the real `promtool`, `amtool` and redis_exporter and fail (never
//! skip) when one of them is missing; `.ci/run` installs them.
//!
//! | Module              | What it checks |
//! |---------------------|----------------|
//! | `rules`             | rule files: promtool check/test, every alert unit-tested both ways, labels and annotations |
//! | `metric_names`      | every metric a rule or dashboard uses exists; docs/metrics.md matches `/metrics` |
//! | `exporter`          | the installed redis_exporter still exports every recorded name (real Redis + Sentinel) |
//! | `live`              | the local monitoring stack: every query evaluates, every metric is scraped, real alerts fire |
//! | `alertmanager`      | amtool check-config, routes, inhibitions, notification template |
//! | `dashboards`        | Grafana dashboards and provisioning |
//! | `prometheus_config` | prometheus.yml |
//! | `runbooks`          | docs/runbooks.md has a section per alert |

mod alertmanager;
mod dashboards;
mod exporter;
mod live;
mod metric_names;
mod prometheus_config;
mod rules;
mod runbooks;
mod support;
