//! Prometheus metrics ([`Metrics`]): HTTP traffic, store operations and session
//! lifecycle (as the engine's [`Observer`]), cleanup and backup runs. One registry type
//! serves the API (`sessiondb serve`) and the jobs that run outside it. Every name starts
//! with `sessiondb_`; label values come from small fixed sets (route templates, never raw
//! paths; never user ids or tokens), held as `&'static str` so recording a request
//! allocates nothing. The reference is `docs/metrics.md`.

#![deny(missing_docs)]

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use sessiondb_engine::{CleanupReport, Error as EngineError, Event, EventKind, JobRuns, Observer};

/// The content type `/metrics` answers with.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets for requests and store calls, in seconds (0.5 ms … 10 s).
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Duration buckets for cleanup passes, in seconds (10 ms … 5 min).
const CLEANUP_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScriptResultLabels {
    script: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScriptLabels {
    script: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The process's metrics registry. Cheap to update from any thread; shared as
/// `Arc<Metrics>` between the HTTP layer, the engine (as its [`Observer`]) and the
/// cleanup and backup loops.
pub struct Metrics {
    /// Everything below, registered under the `sessiondb_` prefix.
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    /// Requests being served right now (also what graceful shutdown waits for).
    http_in_flight: Gauge,
    store_operations: Family<ScriptResultLabels, Counter>,
    store_duration: Histograms<ScriptLabels>,
    session_events: Family<EventLabels, Counter>,
    sessions_created: Counter,
    sessions_revoked: Counter,
    sessions_evicted: Counter,
    sessions_refreshed: Counter,
    reuse_detected: Counter,
    deletion_tokens_redeemed: Counter,
    active_sessions: Gauge,
    cleanup_runs: Family<ResultLabels, Counter>,
    cleanup_removed: Counter,
    cleanup_duration: Histogram,
    cleanup_last_success: Gauge<f64, AtomicU64>,
    backup_last_success: Gauge<f64, AtomicU64>,
    rate_limited: Family<LimitLabels, Counter>,
    redis_master_changes: Counter,
    events_dropped: Counter,
    redis_role: Family<RoleLabels, Gauge>,
    read_replica_selected: Gauge,
    replica_read_fallbacks: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero and `sessiondb_build_info` set.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sessiondb");
        let m = Self {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            http_in_flight: Gauge::default(),
            store_operations: Family::default(),
            store_duration: Family::new_with_constructor(latency_histogram),
            session_events: Family::default(),
            sessions_created: Counter::default(),
            sessions_revoked: Counter::default(),
            sessions_evicted: Counter::default(),
            sessions_refreshed: Counter::default(),
            reuse_detected: Counter::default(),
            deletion_tokens_redeemed: Counter::default(),
            active_sessions: Gauge::default(),
            cleanup_runs: Family::default(),
            cleanup_removed: Counter::default(),
            cleanup_duration: Histogram::new(CLEANUP_BUCKETS),
            cleanup_last_success: Gauge::default(),
            backup_last_success: Gauge::default(),
            events_dropped: Counter::default(),
            redis_role: Family::default(),
            read_replica_selected: Gauge::default(),
            replica_read_fallbacks: Counter::default(),
            rate_limited: Family::default(),
            redis_master_changes: Counter::default(),
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests served, by route template, method and status",
            m.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "HTTP request latency, by route template and method",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        r.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            m.http_in_flight.clone(),
        );
        r.register(
            "store_operations",
            "Operations against Redis, by script and result (ok, error); one per create, also when creates share a call",
            m.store_operations.clone(),
        );
        r.register_with_unit(
            "store_operation_duration",
            "Latency of operations against Redis, by script; a create's includes its wait to share a call",
            Unit::Seconds,
            m.store_duration.clone(),
        );
        r.register(
            "session_events",
            "Session lifecycle events, by kind",
            m.session_events.clone(),
        );
        r.register(
            "sessions_created",
            "Sessions created",
            m.sessions_created.clone(),
        );
        r.register(
            "sessions_revoked",
            "Sessions revoked (by their token, an administrator, reuse detection or a deletion token)",
            m.sessions_revoked.clone(),
        );
        r.register(
            "sessions_evicted",
            "Sessions revoked to make room under the per-user cap",
            m.sessions_evicted.clone(),
        );
        r.register(
            "sessions_refreshed",
            "Sessions replaced through a refresh token",
            m.sessions_refreshed.clone(),
        );
        r.register(
            "redis_master_changes",
            "New masters announced by Sentinel (+switch-master) that this instance moved to",
            m.redis_master_changes.clone(),
        );
        r.register(
            "refresh_reuse_detected",
            "Refresh-token reuse detections (family revoked)",
            m.reuse_detected.clone(),
        );
        r.register(
            "deletion_tokens_redeemed",
            "Deletion tokens redeemed",
            m.deletion_tokens_redeemed.clone(),
        );
        r.register(
            "active_sessions",
            "Live sessions (accurate within one cleanup interval)",
            m.active_sessions.clone(),
        );
        r.register(
            "cleanup_runs",
            "Cleanup passes, by result (success, skipped: another instance held the lease, error)",
            m.cleanup_runs.clone(),
        );
        r.register(
            "cleanup_removed",
            "Index entries of expired sessions removed by cleanup",
            m.cleanup_removed.clone(),
        );
        r.register_with_unit(
            "cleanup_duration",
            "Duration of cleanup passes that ran",
            Unit::Seconds,
            m.cleanup_duration.clone(),
        );
        r.register_with_unit(
            "cleanup_last_success_timestamp",
            "Unix time of the last successful cleanup pass",
            Unit::Seconds,
            m.cleanup_last_success.clone(),
        );
        r.register_with_unit(
            "backup_last_success_timestamp",
            "Unix time of the last successful backup",
            Unit::Seconds,
            m.backup_last_success.clone(),
        );
        r.register(
            "redis_role",
            "Role reported by the Redis node this instance sends its writes to (1 for that role, 0 for the others)",
            m.redis_role.clone(),
        );
        r.register(
            "read_replica_selected",
            "1 while listings are read from a replica, 0 while they go to the master",
            m.read_replica_selected.clone(),
        );
        r.register(
            "replica_read_fallbacks",
            "Replica listings that failed and were retried on the master",
            m.replica_read_fallbacks.clone(),
        );
        r.register(
            "events_dropped",
            "Lifecycle events that could not be appended to the event stream (Redis refused or did not answer the append)",
            m.events_dropped.clone(),
        );
        r.register(
            "rate_limited",
            "Requests refused by a rate limit, by limit (redeem, refresh)",
            m.rate_limited.clone(),
        );
        r.register(
            "build",
            "Build information",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self { registry, ..m }
    }

    /// Records the outcome of one cleanup pass: runs by result, removed entries,
    /// duration and last success time; a pass that ran also sets the active-sessions
    /// gauge from its count.
    pub fn record_cleanup(&self, result: &Result<CleanupReport, EngineError>) {
        let label = match result {
            Ok(report) if report.ran => {
                self.cleanup_removed.inc_by(report.removed);
                self.cleanup_duration.observe(report.duration.as_secs_f64());
                self.cleanup_last_success.set(unix_now());
                self.set_active_sessions(report.active_sessions);
                "success"
            }
            Ok(_) => "skipped",
            Err(_) => "error",
        };
        self.cleanup_runs
            .get_or_create(&ResultLabels { result: label })
            .inc();
    }

    /// Sets the live-sessions gauge.
    pub fn set_active_sessions(&self, n: u64) {
        self.active_sessions
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Records a successful backup finished at `unix_secs`.
    pub fn record_backup_success(&self, unix_secs: u64) {
        self.backup_last_success.set(unix_secs as f64);
    }

    /// Records the role the write node reports: 1 for it, 0 for the others
    /// (`master`, `replica`, `unknown` for anything else or no answer).
    pub fn set_redis_role(&self, role: Option<&str>) {
        let role = match role {
            Some("master") => "master",
            Some("replica") => "replica",
            _ => "unknown",
        };
        for name in ["master", "replica", "unknown"] {
            self.redis_role
                .get_or_create(&RoleLabels { role: name })
                .set(i64::from(name == role));
        }
    }

    /// Sets the last-success gauges from what Redis records, so a cleanup CronJob's or
    /// a backup job's success shows on every API instance.
    pub fn record_job_runs(&self, runs: &JobRuns) {
        if let Some(at_ms) = runs.cleanup {
            self.cleanup_last_success.set(at_ms as f64 / 1000.0);
        }
        if let Some(at_ms) = runs.backup {
            self.backup_last_success.set(at_ms as f64 / 1000.0);
        }
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// One served request: `route` is the matched route template (from the router's
    /// fixed set), `method` the HTTP method's name.
    pub fn record_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        took: Duration,
    ) {
        self.http_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    /// One request refused by `limit`.
    pub fn record_rate_limited(&self, limit: &'static str) {
        self.rate_limited
            .get_or_create(&LimitLabels { limit })
            .inc();
    }

    /// One deletion token redeemed.
    pub fn record_redemption(&self) {
        self.deletion_tokens_redeemed.inc();
    }
}

impl Observer for Metrics {
    fn script_call(&self, script: &'static str, elapsed: Duration, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.store_operations
            .get_or_create(&ScriptResultLabels { script, result })
            .inc();
        self.store_duration
            .get_or_create(&ScriptLabels { script })
            .observe(elapsed.as_secs_f64());
    }

    fn event(&self, event: &Event) {
        self.session_events
            .get_or_create(&EventLabels {
                event: event.kind.as_str(),
            })
            .inc();
        let convenience = match event.kind {
            EventKind::Created => Some(&self.sessions_created),
            EventKind::Revoked | EventKind::Deleted => Some(&self.sessions_revoked),
            EventKind::Evicted => Some(&self.sessions_evicted),
            EventKind::Refreshed => Some(&self.sessions_refreshed),
            EventKind::ReuseDetected => Some(&self.reuse_detected),
            EventKind::Rotated | EventKind::Expired => None,
        };
        if let Some(counter) = convenience {
            counter.inc();
        }
    }

    fn master_changed(&self, _host: &str, _port: u16) {
        self.redis_master_changes.inc();
    }

    fn events_dropped(&self, count: u64) {
        self.events_dropped.inc_by(count);
    }

    fn listing_read_from_replica(&self, replica: bool) {
        self.read_replica_selected.set(i64::from(replica));
    }

    fn replica_read_fell_back(&self) {
        self.replica_read_fallbacks.inc();
    }
}

/// Counts a request as in flight until dropped (also when the client goes away and the
/// request future is dropped).
#[derive(Debug)]
pub struct InFlight(Gauge);

impl InFlight {
    /// Counts one more request in flight.
    pub fn enter(metrics: &Metrics) -> Self {
        metrics.http_in_flight.inc();
        Self(metrics.http_in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_and_units() {
        let m = Metrics::new();
        m.record_request("/v1/sessions", "POST", 201, Duration::from_millis(3));
        m.record_rate_limited("redeem");
        m.set_active_sessions(7);
        m.record_backup_success(1_700_000_000);
        m.record_cleanup(&Ok(CleanupReport {
            ran: true,
            removed: 4,
            users_visited: 2,
            active_sessions: 9,
            duration: Duration::from_millis(20),
        }));
        let text = m.encode();
        for expected in [
            "sessiondb_http_requests_total{route=\"/v1/sessions\",method=\"POST\",status=\"201\"} 1",
            "sessiondb_http_request_duration_seconds_bucket{",
            "sessiondb_rate_limited_total{limit=\"redeem\"} 1",
            "sessiondb_active_sessions 9",
            "sessiondb_cleanup_runs_total{result=\"success\"} 1",
            "sessiondb_cleanup_removed_total 4",
            "sessiondb_cleanup_duration_seconds_count 1",
            "sessiondb_cleanup_last_success_timestamp_seconds ",
            "sessiondb_backup_last_success_timestamp_seconds 1700000000",
            "sessiondb_build_info{version=",
            "sessiondb_sessions_created_total 0",
            "sessiondb_events_dropped_total 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn events_feed_the_family_and_the_convenience_counters() {
        let m = Metrics::new();
        let event = |kind| Event {
            kind,
            user_id: "u".to_owned(),
            session_id: "s".to_owned(),
            reason: sessiondb_engine::Reason::Create,
        };
        m.event(&event(EventKind::Created));
        m.event(&event(EventKind::Deleted));
        m.event(&event(EventKind::ReuseDetected));
        m.script_call("create", Duration::from_millis(1), true);
        m.master_changed("10.0.0.2", 6379);
        m.events_dropped(2);
        m.set_redis_role(Some("replica"));
        m.replica_read_fell_back();
        let text = m.encode();
        assert!(text.contains("sessiondb_redis_master_changes_total 1"));
        assert!(text.contains("sessiondb_events_dropped_total 2"));
        assert!(text.contains("sessiondb_redis_role{role=\"replica\"} 1"));
        assert!(text.contains("sessiondb_redis_role{role=\"master\"} 0"));
        assert!(text.contains("sessiondb_replica_read_fallbacks_total 1"));
        assert!(text.contains("sessiondb_session_events_total{event=\"created\"} 1"));
        assert!(text.contains("sessiondb_sessions_created_total 1"));
        assert!(text.contains("sessiondb_sessions_revoked_total 1"));
        assert!(text.contains("sessiondb_refresh_reuse_detected_total 1"));
        assert!(
            text.contains("sessiondb_store_operations_total{script=\"create\",result=\"ok\"} 1")
        );
        assert!(!text.contains("user_id"));
    }
}
