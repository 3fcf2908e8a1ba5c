//! Figures of a drill: request statistics from the load's records, time to the
//! first successful write after the fault, and the table the `failover-drill`
//! binary prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::api::Outcome;
use crate::drill::Mode;
use crate::load::RequestRecord;
use crate::verify::Verification;
use crate::watch::MasterSummary;

/// A request slower than this counts as hung.
pub const HUNG_THRESHOLD: Duration = Duration::from_secs(2);

/// What the requests of a load went through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent.
    pub requests: usize,
    /// Answered 2xx.
    pub succeeded: usize,
    /// Answered 503.
    pub status_503: usize,
    /// Answered another 5xx.
    pub other_5xx: usize,
    /// Answered 4xx.
    pub rejected: usize,
    /// No answer within the client timeout.
    pub timed_out: usize,
    /// Connection errors.
    pub transport_errors: usize,
    /// Took longer than [`HUNG_THRESHOLD`] (timeouts included).
    pub hung: usize,
    /// The slowest request.
    pub max_latency: Duration,
    /// Refreshes re-presenting a token whose first attempt got no definitive answer.
    pub refresh_retries: usize,
    /// Retried refreshes answered `replayed: true`: the first attempt had been
    /// applied although its answer was not a 2xx.
    pub refresh_replays: usize,
    /// First attempts answered `replayed: true` (the client library re-sent the
    /// script after the connection dropped, and the first copy had been applied).
    pub first_attempt_replays: usize,
}

impl RequestStats {
    /// Counts `records`.
    pub fn of(records: &[RequestRecord]) -> Self {
        let mut s = Self {
            requests: records.len(),
            ..Self::default()
        };
        for r in records {
            match &r.outcome {
                Outcome::Success(_) => s.succeeded += 1,
                Outcome::Unavailable { status: 503, .. } => s.status_503 += 1,
                Outcome::Unavailable { .. } => s.other_5xx += 1,
                Outcome::Rejected { .. } => s.rejected += 1,
                Outcome::TimedOut => s.timed_out += 1,
                Outcome::Transport => s.transport_errors += 1,
            }
            s.hung += usize::from(r.latency > HUNG_THRESHOLD);
            s.refresh_retries += usize::from(r.retry);
            s.refresh_replays += usize::from(r.retry && r.replayed);
            s.first_attempt_replays += usize::from(!r.retry && r.replayed);
            s.max_latency = s.max_latency.max(r.latency);
        }
        s
    }
}

/// How many requests ended which way, keyed like `503 backend_unavailable`,
/// `200`, `timeout`, `transport`; with the slowest latency of each.
pub fn outcome_histogram(records: &[RequestRecord]) -> BTreeMap<String, (usize, Duration)> {
    let mut histogram = BTreeMap::new();
    for r in records {
        let key = match &r.outcome {
            Outcome::Success(status) => status.to_string(),
            Outcome::Rejected { status, code } | Outcome::Unavailable { status, code } => {
                format!("{status} {code}")
            }
            Outcome::TimedOut => "timeout".to_owned(),
            Outcome::Transport => "transport".to_owned(),
        };
        let entry: &mut (usize, Duration) = histogram.entry(key).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(r.latency);
    }
    histogram
}

/// From `fault_at` to the end of the first successful write sent at or after it.
pub fn time_to_first_write(records: &[RequestRecord], fault_at: Instant) -> Option<Duration> {
    records
        .iter()
        .filter(|r| r.outcome.is_success() && r.sent_at >= fault_at)
        .map(|r| r.ended_at().duration_since(fault_at))
        .min()
}

/// The figures of one kill-the-master run.
#[derive(Debug, Clone)]
pub struct DrillReport {
    /// Durability mode.
    pub mode: Mode,
    /// Sentinel `down-after-milliseconds`.
    pub down_after_ms: u64,
    /// The killed master's port.
    pub old_master: u16,
    /// The master the Sentinels promoted.
    pub new_master: u16,
    /// Kill to the first sample in which a Sentinel named the new master (the
    /// failover as Sentinel sees it; sampled every 100 ms).
    pub sentinel_switch: Option<Duration>,
    /// Kill to the first successful write sent after it; `None` if writes did not
    /// resume before the drill's deadline.
    pub time_to_first_write: Option<Duration>,
    /// Every request of the load.
    pub requests: RequestStats,
    /// Requests sent after the kill only.
    pub requests_after_kill: RequestStats,
    /// Outcomes of the requests sent after the kill (see [`outcome_histogram`]).
    pub outcomes_after_kill: BTreeMap<String, (usize, Duration)>,
    /// Acknowledged and lost writes.
    pub verification: Verification,
    /// Masters seen over the whole run (sampled every 100 ms).
    pub masters: MasterSummary,
    /// Masters seen once the failover had completed.
    pub masters_after_failover: MasterSummary,
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or_else(
        || "none".to_owned(),
        |d| format!("{:.2} s", d.as_secs_f64()),
    )
}

/// The header of the per-run table.
pub fn table_header() -> String {
    format!(
        "{:<11} {:>3} {:>8} {:>11} {:>6} {:>5} {:>8} {:>5} {:>8} {:>8} {:>9} {:>8} {:>7} {:>7}",
        "mode",
        "run",
        "switch",
        "first-write",
        "acked",
        "lost",
        "hung>2s",
        "503s",
        "other5xx",
        "timeouts",
        "max-lat",
        "retried",
        "replay",
        "masters"
    )
}

/// One row of the per-run table: `switch` is the kill to the first Sentinel naming
/// the new master, `first-write` the kill to the first successful write sent after
/// it; `retried`/`replay` count refreshes without a definitive answer presented
/// again (during the load or while verifying) and answers with `replayed: true`;
/// `masters` is the most data nodes reporting `ROLE` master in one sample.
pub fn table_row(run: usize, r: &DrillReport) -> String {
    let v = &r.verification;
    format!(
        "{:<11} {:>3} {:>8} {:>11} {:>6} {:>5} {:>8} {:>5} {:>8} {:>8} {:>9} {:>8} {:>7} {:>7}",
        r.mode.to_string(),
        run,
        seconds(r.sentinel_switch),
        seconds(r.time_to_first_write),
        v.acked_writes,
        v.lost_writes,
        r.requests.hung,
        r.requests.status_503,
        r.requests.other_5xx,
        r.requests.timed_out,
        seconds(Some(r.requests.max_latency)),
        r.requests.refresh_retries + v.refreshes_retried,
        r.requests.refresh_replays + v.refreshes_replayed,
        r.masters.max_role_masters,
    )
}

/// The outcomes of the requests sent after the kill, on one line.
pub fn outcome_line(r: &DrillReport) -> String {
    let parts: Vec<String> = r
        .outcomes_after_kill
        .iter()
        .map(|(key, (n, max))| format!("{key} x{n} (max {:.3} s)", max.as_secs_f64()))
        .collect();
    let mut line = format!("    after the kill: {}", parts.join(", "));
    if r.requests.first_attempt_replays > 0 {
        let _ = write!(
            line,
            "; first attempts answered as replays: {}",
            r.requests.first_attempt_replays
        );
    }
    line
}

/// The summary lines for the runs of one mode.
pub fn mode_summary(mode: Mode, reports: &[DrillReport]) -> String {
    let firsts: Vec<Duration> = reports
        .iter()
        .filter_map(|r| r.time_to_first_write)
        .collect();
    let sum = |f: fn(&DrillReport) -> usize| reports.iter().map(f).sum::<usize>();
    let mut out = String::new();
    let _ = write!(
        out,
        "{mode}: median time to first write after the kill {} ({} of {} runs resumed); \
         acknowledged writes lost {} of {} (creates {}, updates {}, refreshes {}); \
         requests hung >2s {} of {}; false reuse detections {}; \
         sentinel view splits {} samples, most masters in one sample {}",
        seconds(median(&firsts)),
        firsts.len(),
        reports.len(),
        sum(|r| r.verification.lost_writes),
        sum(|r| r.verification.acked_writes),
        sum(|r| r.verification.lost_creates),
        sum(|r| r.verification.lost_updates),
        sum(|r| r.verification.lost_refreshes),
        sum(|r| r.requests.hung),
        sum(|r| r.requests.requests),
        sum(|r| r.verification.false_reuse),
        sum(|r| r.masters.sentinel_splits),
        reports
            .iter()
            .map(|r| r.masters.max_role_masters)
            .max()
            .unwrap_or(0),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Duration::from_secs;
        assert_eq!(median(&[s(3), s(1), s(2)]), Some(s(2)));
        assert_eq!(
            median(&[s(4), s(1), s(2), s(3)]),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn first_write_counts_only_writes_sent_after_the_fault() {
        let t0 = Instant::now();
        let record = |sent: u64, latency: u64, outcome| RequestRecord {
            kind: crate::ledger::WriteKind::Update,
            retry: false,
            replayed: false,
            sent_at: t0 + Duration::from_millis(sent),
            latency: Duration::from_millis(latency),
            outcome,
        };
        let fault = t0 + Duration::from_millis(100);
        let records = [
            record(90, 20, Outcome::Success(200)),
            record(150, 2000, Outcome::TimedOut),
            record(3000, 5, Outcome::Success(200)),
            record(4000, 5, Outcome::Success(200)),
        ];
        assert_eq!(
            time_to_first_write(&records, fault),
            Some(Duration::from_millis(2905))
        );
        let stats = RequestStats::of(&records);
        assert_eq!((stats.succeeded, stats.timed_out, stats.hung), (3, 1, 0));
    }
}
