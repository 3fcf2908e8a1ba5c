//! Kill -9 the master under a steady create/refresh/update load through the API.

use std::time::Duration;

use sessiondb_drills::drill::{kill_master, DrillOptions, Mode};
use sessiondb_drills::report::{outcome_line, table_header, table_row, DrillReport};

/// Writes must succeed again this soon after the kill (down-after 5000 ms).
const RESUME_WITHIN: Duration = Duration::from_secs(15);

fn print(report: &DrillReport) {
    eprintln!(
        "{}\n{}\n{}",
        table_header(),
        table_row(1, report),
        outcome_line(report)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_master_under_load_resumes_writes_within_15s_and_loses_no_acknowledged_write_in_replicated_mode(
) {
    let options = DrillOptions::new(Mode::Replicated);
    assert_eq!(options.down_after_ms, 5000);
    let report = kill_master(&options).await.expect("the drill runs");
    print(&report);

    let resumed = report
        .time_to_first_write
        .expect("writes succeed again after the kill");
    assert!(resumed < RESUME_WITHIN, "writes resumed after {resumed:?}");
    assert_ne!(report.new_master, report.old_master);
    let v = &report.verification;
    assert!(
        v.acked_creates > 0 && v.acked_updates > 0 && v.acked_refreshes > 0,
        "the load created, updated and refreshed: {v:?}"
    );
    assert_eq!(v.lost_writes, 0, "acknowledged writes lost: {v:?}");
    assert_eq!(v.false_reuse, 0, "retried refreshes taken for theft: {v:?}");
    assert_eq!(report.masters.max_role_masters, 1, "{:?}", report.masters);
    assert_eq!(report.masters_after_failover.sentinel_splits, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_mode_drill_reports_lost_writes_without_failing() {
    let report = kill_master(&DrillOptions::new(Mode::Async))
        .await
        .expect("the drill runs to the end even if writes are lost");
    print(&report);

    let resumed = report
        .time_to_first_write
        .expect("writes succeed again after the kill");
    assert!(resumed < RESUME_WITHIN, "writes resumed after {resumed:?}");
    let v = &report.verification;
    // Async acknowledgement may lose the last writes before the kill; the drill
    // counts them instead of failing.
    assert!(v.lost_writes <= v.acked_writes, "{v:?}");
    assert_eq!(
        v.lost_writes,
        v.lost_creates + v.lost_updates + v.lost_refreshes
    );
    assert_eq!(v.false_reuse, 0, "retried refreshes taken for theft: {v:?}");
    assert_eq!(report.masters.max_role_masters, 1, "{:?}", report.masters);
}
