//! [`RoleWatcher`]: samples, on a background thread, what every Sentinel reports
//! as master and what every data node says it is, so a drill can show that
//! Sentinel never accepted two masters.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::probe::{self, Access, Role};

/// Pause between two samples.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// The processes a [`RoleWatcher`] samples, by port.
#[derive(Debug, Clone)]
pub struct WatchTargets {
    /// The master's name in Sentinel.
    pub service_name: String,
    /// Every Sentinel, dead or alive.
    pub sentinel_ports: Vec<u16>,
    /// Every data node, dead or alive.
    pub data_ports: Vec<u16>,
    /// How to reach them.
    pub access: Access,
}

/// One round of probes.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When the round started.
    pub at: Instant,
    /// Per Sentinel (in [`WatchTargets::sentinel_ports`] order): the master port it
    /// reports, `None` when it did not answer.
    pub sentinels: Vec<Option<u16>>,
    /// Per data node (in [`WatchTargets::data_ports`] order): its port and role,
    /// `None` when it did not answer.
    pub nodes: Vec<(u16, Option<Role>)>,
}

impl Sample {
    /// The distinct masters the answering Sentinels report (more than one: they
    /// disagree).
    pub fn sentinel_masters(&self) -> BTreeSet<u16> {
        self.sentinels.iter().flatten().copied().collect()
    }

    /// Data nodes whose `ROLE` is master.
    pub fn masters(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, role)| matches!(role, Some(Role::Master { .. })))
            .map(|(port, _)| *port)
            .collect()
    }

    /// Data nodes whose `ROLE` is master and that have at least one replica
    /// connected: masters that can serve replicated writes.
    pub fn masters_with_replicas(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(
                |(_, role)| matches!(role, Some(Role::Master { replicas }) if !replicas.is_empty()),
            )
            .map(|(port, _)| *port)
            .collect()
    }

    /// The role the node on `port` reported, if it answered.
    pub fn role_of(&self, port: u16) -> Option<&Role> {
        self.nodes
            .iter()
            .find(|(p, _)| *p == port)
            .and_then(|(_, role)| role.as_ref())
    }
}

/// A background thread probing [`WatchTargets`] every [`SAMPLE_INTERVAL`] until
/// [`stop`](Self::stop)ped (or dropped).
#[derive(Debug)]
pub struct RoleWatcher {
    /// Set to end the sampling loop.
    stop: Arc<AtomicBool>,
    /// The sampling thread; returns every sample taken. `None` once joined.
    thread: Option<JoinHandle<Vec<Sample>>>,
}

impl RoleWatcher {
    /// Starts sampling.
    pub fn start(targets: WatchTargets) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut samples = Vec::new();
            loop {
                // Read before sampling: once a stop is asked for, one more sample is
                // taken, so the last one starts after the request.
                let stopping = flag.load(Ordering::Relaxed);
                let started = Instant::now();
                samples.push(sample(&targets, started));
                if stopping {
                    break;
                }
                let elapsed = started.elapsed();
                if elapsed < SAMPLE_INTERVAL {
                    thread::sleep(SAMPLE_INTERVAL - elapsed);
                }
            }
            samples
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the samples, oldest first. The last sample started
    /// after this call, so a state reached before the call is in them even when
    /// sampling is slower than what the caller did meanwhile.
    pub fn stop(mut self) -> Vec<Sample> {
        self.finish()
    }

    fn finish(&mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(samples)) => samples,
            // The thread only probes; a panic there is a bug worth surfacing.
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Vec::new(),
        }
    }
}

impl Drop for RoleWatcher {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = self.finish();
        } else {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

fn sample(targets: &WatchTargets, at: Instant) -> Sample {
    let sentinels = targets
        .sentinel_ports
        .iter()
        .map(|&port| {
            probe::sentinel_master(&targets.access, port, &targets.service_name)
                .ok()
                .flatten()
        })
        .collect();
    let nodes = targets
        .data_ports
        .iter()
        .map(|&port| (port, probe::role(&targets.access, port).ok()))
        .collect();
    Sample {
        at,
        sentinels,
        nodes,
    }
}

/// What a series of samples shows about masters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MasterSummary {
    /// Samples taken.
    pub samples: usize,
    /// Samples in which the answering Sentinels reported different masters.
    pub sentinel_splits: usize,
    /// Most data nodes reporting `ROLE` master in one sample.
    pub max_role_masters: usize,
    /// Most data nodes reporting `ROLE` master with a replica attached in one sample.
    pub max_masters_with_replicas: usize,
}

impl MasterSummary {
    /// Summarises `samples`.
    pub fn of(samples: &[Sample]) -> Self {
        Self {
            samples: samples.len(),
            sentinel_splits: samples
                .iter()
                .filter(|s| s.sentinel_masters().len() > 1)
                .count(),
            max_role_masters: samples.iter().map(|s| s.masters().len()).max().unwrap_or(0),
            max_masters_with_replicas: samples
                .iter()
                .map(|s| s.masters_with_replicas().len())
                .max()
                .unwrap_or(0),
        }
    }
}
