//! The ledger of acknowledged writes: for each session the load generator created,
//! the chain of session tokens its refreshes produced and every write the API
//! acknowledged, and the rule that decides which acknowledged writes are missing
//! from what Redis holds afterwards.
//!
//! Each session's data is `{"seq": n}` where `n` grows with every update the
//! generator sends on that refresh family (acknowledged or not), and a refresh
//! carries the data over. After the fault, the newest session token of the chain
//! that still reads gives a `(link, seq, version)` triple; an acknowledged write is
//! lost when the state read does not contain it (see [`Slot::lost_writes`]).

use std::time::Instant;

use crate::api::{Created, Refreshed};

/// The kinds of write the load generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// `POST /v1/sessions`.
    Create,
    /// `PUT /v1/sessions/current`.
    Update,
    /// `POST /v1/sessions/refresh`.
    Refresh,
}

/// One session of a refresh family: its tokens.
#[derive(Debug, Clone)]
pub struct Link {
    /// The session token (`X-Session-Token`).
    pub session_token: String,
    /// The refresh token that goes with it.
    pub refresh_token: String,
}

/// A write the API acknowledged (2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckedWrite {
    /// What it was.
    pub kind: WriteKind,
    /// Index into [`Slot::links`] of the session it wrote (a refresh: the session it
    /// created).
    pub link: usize,
    /// The `seq` an update wrote; 0 for creates and refreshes.
    pub seq: u64,
    /// The session version the answer reported (1 for creates and refreshes).
    pub version: u64,
}

/// What a session token of the chain read back as after the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Index into [`Slot::links`] of the newest token that still reads.
    pub link: usize,
    /// The `seq` in its data.
    pub seq: u64,
    /// Its version.
    pub version: u64,
}

/// One refresh family the load generator created and keeps writing to.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The session's user (unique per slot, so no per-user cap interferes).
    pub user_id: String,
    /// The family's sessions in order; each refresh appends one.
    pub links: Vec<Link>,
    /// Every acknowledged write, in the order the answers arrived.
    pub acked: Vec<AckedWrite>,
    /// The `seq` the next update sends.
    next_seq: u64,
    /// Set when a refresh got no definitive answer (5xx, timeout, connection error):
    /// the same refresh token must be presented again before anything else, and it
    /// may legitimately answer with the successor of a rotation we never saw.
    pub pending_refresh: Option<Instant>,
    /// Why the load generator stopped writing to it (a 404, a rejected refresh).
    pub retired: Option<String>,
    /// A refresh retried inside the grace window answered `reuse_detected`.
    pub false_reuse: bool,
}

impl Slot {
    /// The slot for an acknowledged create.
    pub fn created(user_id: String, created: Created) -> Self {
        Self {
            user_id,
            links: vec![Link {
                session_token: created.session_token,
                refresh_token: created.refresh_token,
            }],
            acked: vec![AckedWrite {
                kind: WriteKind::Create,
                link: 0,
                seq: 0,
                version: created.version,
            }],
            next_seq: 1,
            pending_refresh: None,
            retired: None,
            false_reuse: false,
        }
    }

    /// The newest session of the family.
    pub fn current(&self) -> &Link {
        self.links
            .last()
            .expect("a slot is created with one link and links are only appended")
    }

    /// The `seq` for the next update, consumed whether or not it gets acknowledged.
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Records an acknowledged update of the current session.
    pub fn ack_update(&mut self, seq: u64, version: u64) {
        self.acked.push(AckedWrite {
            kind: WriteKind::Update,
            link: self.links.len() - 1,
            seq,
            version,
        });
    }

    /// Records a refresh answered 200. When `acknowledged` it counts as an
    /// acknowledged write; a retry made only to learn the fate of an earlier refresh
    /// (while verifying) does not.
    pub fn refreshed(&mut self, refreshed: Refreshed, acknowledged: bool) {
        self.links.push(Link {
            session_token: refreshed.session_token,
            refresh_token: refreshed.refresh_token,
        });
        self.pending_refresh = None;
        if acknowledged {
            self.acked.push(AckedWrite {
                kind: WriteKind::Refresh,
                link: self.links.len() - 1,
                seq: 0,
                version: 1,
            });
        }
    }

    /// Acknowledged writes whose effect is missing, given the newest session of the
    /// chain that still reads (`None`: none does).
    ///
    /// A write is lost when
    /// - it wrote a session newer than the one found (its refresh, or the refresh
    ///   that created its session, is gone), or nothing was found at all;
    /// - it is an update whose `seq` is above the `seq` found (data carries over
    ///   refreshes, so this holds across the chain);
    /// - it is an update of the session found with a version above the one read;
    /// - it is an update of a session on which a later acknowledged update reported
    ///   the same or a lower version: the later one was applied to a state that no
    ///   longer contained it (it was lost and then overwritten).
    pub fn lost_writes(&self, found: Option<Found>) -> Vec<AckedWrite> {
        let Some(found) = found else {
            return self.acked.clone();
        };
        self.acked
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                if w.link > found.link {
                    return true;
                }
                if w.kind != WriteKind::Update {
                    return false;
                }
                let overwritten = self.acked[i + 1..].iter().any(|later| {
                    later.kind == WriteKind::Update
                        && later.link == w.link
                        && later.version <= w.version
                });
                w.seq > found.seq
                    || (w.link == found.link && w.version > found.version)
                    || overwritten
            })
            .map(|(_, w)| *w)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn slot() -> Slot {
        Slot::created(
            "u".to_owned(),
            Created {
                session_id: "s".to_owned(),
                session_token: "t0".to_owned(),
                refresh_token: "r0".to_owned(),
                version: 1,
            },
        )
    }

    fn refreshed(n: u32) -> Refreshed {
        Refreshed {
            session_id: format!("s{n}"),
            session_token: format!("t{n}"),
            refresh_token: format!("r{n}"),
            replayed: false,
        }
    }

    #[test]
    fn nothing_is_lost_when_the_newest_state_reads() {
        let mut s = slot();
        let seq = s.take_seq();
        s.ack_update(seq, 2);
        s.refreshed(refreshed(1), true);
        let seq = s.take_seq();
        s.ack_update(seq, 2);
        let found = Found {
            link: 1,
            seq,
            version: 2,
        };
        assert!(s.lost_writes(Some(found)).is_empty());
        assert_eq!(s.lost_writes(None).len(), 4);
    }

    #[test]
    fn a_lost_refresh_and_the_updates_after_it_are_counted() {
        let mut s = slot();
        let first = s.take_seq();
        s.ack_update(first, 2);
        s.refreshed(refreshed(1), true);
        let second = s.take_seq();
        s.ack_update(second, 2);
        // Only the first session survived, with the first update.
        let found = Found {
            link: 0,
            seq: first,
            version: 2,
        };
        let lost = s.lost_writes(Some(found));
        let kinds: Vec<_> = lost.iter().map(|w| w.kind).collect();
        assert_eq!(kinds, [WriteKind::Refresh, WriteKind::Update]);
    }

    #[test]
    fn an_update_lost_and_then_overwritten_is_still_counted() {
        let mut s = slot();
        let lost = s.take_seq();
        s.ack_update(lost, 2);
        // The failover lost it; the next update was applied to version 1 again.
        let later = s.take_seq();
        s.ack_update(later, 2);
        let found = Found {
            link: 0,
            seq: later,
            version: 2,
        };
        assert_eq!(s.lost_writes(Some(found)).len(), 1);
        assert_eq!(s.lost_writes(Some(found))[0].seq, lost);
    }

    #[test]
    fn an_unacknowledged_update_that_was_applied_is_not_a_loss() {
        let mut s = slot();
        let acked = s.take_seq();
        s.ack_update(acked, 2);
        let _ambiguous = s.take_seq(); // applied, answer lost: version 3
        let found = Found {
            link: 0,
            seq: acked + 1,
            version: 3,
        };
        assert!(s.lost_writes(Some(found)).is_empty());
    }

    #[test]
    fn a_refresh_learned_by_a_retry_is_not_counted_as_acknowledged() {
        let mut s = slot();
        s.pending_refresh = Some(Instant::now());
        s.refreshed(refreshed(1), false);
        assert_eq!(s.acked.len(), 1);
        assert_eq!(s.current().session_token, "t1");
        assert!(s.pending_refresh.is_none());
    }
}
