//! After the fault and after the topology settled: reads every session the load
//! generator holds through the API (`touch=false`, so reading never writes) and
//! counts the acknowledged writes that are gone ([`Slot::lost_writes`]).

use std::time::{Duration, Instant};

use crate::api::{definitive, ApiClient, Outcome};
use crate::app::DRILL_REFRESH_GRACE;
use crate::ledger::{Found, Slot, WriteKind};
use crate::DrillError;

/// A retry this much younger than the grace window is certainly inside it, even
/// allowing for the difference between this process's clock and Redis's.
const GRACE_MARGIN: Duration = Duration::from_secs(5);

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Sessions (refresh families) checked.
    pub sessions: usize,
    /// Writes the API acknowledged.
    pub acked_writes: usize,
    /// Acknowledged creates.
    pub acked_creates: usize,
    /// Acknowledged updates.
    pub acked_updates: usize,
    /// Acknowledged refreshes.
    pub acked_refreshes: usize,
    /// Acknowledged writes whose effect is missing.
    pub lost_writes: usize,
    /// Of those, creates.
    pub lost_creates: usize,
    /// Of those, updates.
    pub lost_updates: usize,
    /// Of those, refreshes.
    pub lost_refreshes: usize,
    /// Sessions with at least one lost write.
    pub sessions_with_losses: usize,
    /// Refreshes that got no definitive answer during the load and were presented
    /// again here; of those, how many answered `replayed: true` (the first attempt had
    /// been applied and survived).
    pub refreshes_retried: usize,
    /// See [`refreshes_retried`](Self::refreshes_retried).
    pub refreshes_replayed: usize,
    /// Refreshes retried inside the grace window that answered `reuse_detected`
    /// (must be 0: a retry after a lost answer is not theft).
    pub false_reuse: usize,
}

/// Checks every slot, retrying answers that are not definitive (503, timeouts) until
/// `deadline` has passed.
pub async fn verify(
    api: &ApiClient,
    slots: &mut [Slot],
    deadline: Duration,
) -> Result<Verification, DrillError> {
    let until = Instant::now() + deadline;
    let mut v = Verification::default();
    for slot in slots.iter_mut() {
        if let Some(since) = slot.pending_refresh {
            v.refreshes_retried += 1;
            let answer = definitive(until, || api.refresh(&slot.current().refresh_token)).await?;
            match (answer.body, answer.outcome) {
                (Some(refreshed), _) => {
                    v.refreshes_replayed += usize::from(refreshed.replayed);
                    slot.refreshed(refreshed, false);
                }
                (None, Outcome::Rejected { code, .. }) => {
                    slot.pending_refresh = None;
                    if code == "reuse_detected"
                        && since.elapsed() + GRACE_MARGIN < DRILL_REFRESH_GRACE
                    {
                        slot.false_reuse = true;
                    }
                }
                (None, _) => {}
            }
        }
        let found = newest_readable(api, slot, until).await?;
        let lost = slot.lost_writes(found);
        v.sessions += 1;
        v.false_reuse += usize::from(slot.false_reuse);
        v.sessions_with_losses += usize::from(!lost.is_empty());
        for write in &slot.acked {
            v.acked_writes += 1;
            match write.kind {
                WriteKind::Create => v.acked_creates += 1,
                WriteKind::Update => v.acked_updates += 1,
                WriteKind::Refresh => v.acked_refreshes += 1,
            }
        }
        for write in &lost {
            v.lost_writes += 1;
            match write.kind {
                WriteKind::Create => v.lost_creates += 1,
                WriteKind::Update => v.lost_updates += 1,
                WriteKind::Refresh => v.lost_refreshes += 1,
            }
        }
    }
    Ok(v)
}

/// The newest session of the slot's chain that still reads.
async fn newest_readable(
    api: &ApiClient,
    slot: &Slot,
    until: Instant,
) -> Result<Option<Found>, DrillError> {
    for (link, tokens) in slot.links.iter().enumerate().rev() {
        let answer = definitive(until, || api.get(&tokens.session_token)).await?;
        if let Some(view) = answer.body {
            return Ok(Some(Found {
                link,
                seq: view.seq(),
                version: view.version,
            }));
        }
    }
    Ok(None)
}
