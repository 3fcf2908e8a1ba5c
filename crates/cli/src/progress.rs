//! Progress bars on stderr for the long-running commands (`backup`, `restore`,
//! `pitr`): shown only when stderr is a terminal, so logs, pipes and CronJobs get the
//! one-line summary alone.

use std::fmt;
use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use sessiondb_ops::backup::BackupProgress;
use sessiondb_ops::restore::{RestorePhase, RestoreProgress};

/// A progress bar on stderr, or nothing when stderr is not a terminal.
#[derive(Debug)]
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar with rate and ETA, when stderr is a terminal.
    pub(crate) fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let template = "{msg:<18} [{bar:30}] {human_pos}/{human_len} ({rate}, ETA {eta})";
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |state: &ProgressState, w: &mut dyn fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            })
            .progress_chars("=> ");
        // Hidden until the first figures arrive, so no empty bar is drawn.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        bar.set_style(style);
        Self(Some(bar))
    }

    /// Moves the bar to `done` of `total` in `phase` (which names the unit, e.g.
    /// `restoring keys`); a new phase starts the rate and ETA afresh.
    pub(crate) fn set(&self, phase: &'static str, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            if bar.message() != phase {
                bar.reset();
                bar.set_message(phase);
            }
            bar.set_length(total.max(done));
            bar.set_position(done);
            if bar.is_hidden() {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
        }
    }

    /// A backup's progress: keys written of the source's key count (an upper bound).
    pub(crate) fn backup(&self, progress: &BackupProgress) {
        self.set("exporting keys", progress.keys, progress.estimated_keys);
    }

    /// A restore's progress, by phase.
    pub(crate) fn restore(&self, progress: &RestoreProgress) {
        let phase = match progress.phase {
            RestorePhase::Verifying => "verifying bytes",
            RestorePhase::Restoring => "restoring keys",
            RestorePhase::Recounting => "recounting buckets",
        };
        self.set(phase, progress.done, progress.total);
    }

    /// Removes the bar, leaving the terminal for the summary.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
