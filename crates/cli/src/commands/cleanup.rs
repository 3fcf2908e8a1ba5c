//! `sessiondb cleanup`: one cleanup pass (for a CronJob every few minutes).

use std::process::ExitCode;

use sessiondb_engine::CleanupOptions;
use sessiondb_settings::Settings;

use crate::cli::CleanupArgs;

pub(crate) async fn run(
    settings: Settings,
    args: &CleanupArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let engine = super::connect(&settings).await?;
    let report = engine
        .cleanup(CleanupOptions {
            ignore_lease: args.ignore_lease,
        })
        .await;
    engine.flush_events().await;
    let report = report?;
    if json {
        let out = serde_json::json!({
            "ran": report.ran,
            "removed": report.removed,
            "users_visited": report.users_visited,
            "active_sessions": report.active_sessions,
            "duration_ms": report.duration.as_millis() as u64,
        });
        println!("{out}");
    } else if report.ran {
        println!(
            "cleanup: ok, removed {} expired index entries, visited {} users, {} active sessions, {} ms",
            report.removed,
            report.users_visited,
            report.active_sessions,
            report.duration.as_millis()
        );
    } else {
        println!("cleanup: skipped, another instance holds the cleanup lease (use --ignore-lease to run anyway)");
    }
    engine.shutdown().await?;
    // A pass skipped because another instance is cleaning is not a failure.
    Ok(ExitCode::SUCCESS)
}
