//! The hidden `local supervise` command: the detached supervisor process
//! that `up` and `start` launch. Its stdout goes to `supervisor.log`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use sessiondb_local::stack::{self, StackDir};
use tokio::signal::unix::{signal, SignalKind};

/// Runs the supervisor until SIGTERM, SIGINT or SIGHUP, then stops the
/// stack. Exit 0 after a clean stop, 2 when the stack could not be started.
pub(super) fn run(dir: &StackDir) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_on_signals()?;
    log(&format!(
        "supervisor pid {} for {}",
        std::process::id(),
        dir.root().display()
    ));
    // The nodes are spawned (and restarted) on this thread, which lives as
    // long as the process: their parent-death signal is tied to it.
    let result = stack::supervise(dir, &shutdown, &mut |event| log(&event.to_string()));
    match result {
        Ok(()) => {
            log("supervisor exits");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            log(&format!("error: {err}"));
            Ok(ExitCode::from(2))
        }
    }
}

/// A flag that becomes true on SIGTERM, SIGINT or SIGHUP, set by a small
/// signal-watching thread (tokio's safe signal handling; the handlers are
/// installed before this returns).
fn shutdown_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the signal watcher")?;
    let (mut term, mut int, mut hup) = {
        let _context = runtime.enter();
        (
            signal(SignalKind::terminate()).context("handling SIGTERM")?,
            signal(SignalKind::interrupt()).context("handling SIGINT")?,
            signal(SignalKind::hangup()).context("handling SIGHUP")?,
        )
    };
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            let name = runtime.block_on(async {
                tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = hup.recv() => "SIGHUP",
                }
            });
            log(&format!("received {name}"));
            set.store(true, Ordering::SeqCst);
        })
        .context("starting the signal watcher")?;
    Ok(flag)
}

/// Prints one log line with a UTC timestamp.
fn log(message: &str) {
    outln!("{} {message}", utc_now());
}

/// `YYYY-MM-DDTHH:MM:SSZ` for the current time.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }
}
