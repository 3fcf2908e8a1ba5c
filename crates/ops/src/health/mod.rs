//! `health`: one line per check, bounded by a timeout, usable as a probe.
//!
//! Checks (each `ok`, `warn` or `fail`):
//!
//! | name | what |
//! |---|---|
//! | `master` | every master answers and accepts a write (`SET <prefix>:health… PX 10000`) |
//! | `replicas` | at least `min_replicas` replicas per master are online with lag ≤ `max_lag` |
//! | `sentinels` | (Sentinel only) the answering Sentinels agree on the master, enough of them answer for quorum and a majority, and `SENTINEL CKQUORUM` passes on each |
//! | `memory` | `used_memory` ≤ `max_memory_ratio` × `maxmemory` on every master (ok with no `maxmemory`, said so) |
//! | `persistence` | `aof_last_write_status`, `aof_last_bgrewrite_status`, `rdb_last_bgsave_status` are `ok` on every answering data node (warn when AOF is off) |
//! | `eviction` | `maxmemory-policy` is not `allkeys-*` (fail: sessions and indexes dropped silently); `volatile-*` warns |

use std::fmt;
use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::{Expiration, Value};
use serde::Serialize;
use sessiondb_engine::{ConnectionConfig, Topology};
use tokio::time::timeout_at;

use crate::error::OpsError;
use crate::figures::health_key;
use crate::info::Info;
use crate::outcome::{CheckStatus, ExitStatus};
use crate::topology::{agreed_master, ask_sentinels, cluster_layout, Addr, Node, SentinelAnswer};
use crate::{human, topology};

/// How strict the checks are.
#[derive(Debug, Clone)]
pub struct HealthOptions {
    /// Replicas each master needs online (within `max_lag`). `None`: 1 with Sentinel (as
    /// the shipped `min-replicas-to-write`), 0 for standalone and per Cluster shard.
    pub min_replicas: Option<u32>,
    /// Longest acceptable replication lag (seconds since the replica's last
    /// acknowledgement, as `INFO replication` reports it). Default 10 s.
    pub max_lag: Duration,
    /// Highest acceptable `used_memory / maxmemory`. Default 0.9.
    pub max_memory_ratio: f64,
    /// The whole run's bound: what has not answered by then fails. Default 2 s.
    pub timeout: Duration,
}

impl Default for HealthOptions {
    fn default() -> Self {
        Self {
            min_replicas: None,
            max_lag: Duration::from_secs(10),
            max_memory_ratio: 0.9,
            timeout: Duration::from_secs(2),
        }
    }
}

impl HealthOptions {
    /// Rejects a ratio outside (0, 1] and a zero timeout.
    pub fn validate(&self) -> Result<(), OpsError> {
        if !(self.max_memory_ratio > 0.0 && self.max_memory_ratio <= 1.0) {
            return Err(OpsError::invalid(
                "max_memory_ratio",
                format!("must be in (0, 1], got {}", self.max_memory_ratio),
            ));
        }
        if self.timeout.is_zero() {
            return Err(OpsError::invalid("timeout", "must be greater than zero"));
        }
        Ok(())
    }
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `master`, `replicas`, `sentinels`, `memory`, `persistence` or `eviction`.
    pub name: &'static str,
    /// `ok`, `warn` or `fail`.
    pub status: CheckStatus,
    /// One line for people: what was found.
    pub detail: String,
}

/// What `health` found.
///
/// Exit status ([`HealthReport::exit_status`]): 0 when every check is `ok` or `warn`,
/// 1 when any check is `fail`, 2 when nothing answered (no data node and no Sentinel).
///
/// JSON (`serde_json::to_string(&report)`):
/// `{"status": "ok"|"failed"|"could_not_run", "topology": "standalone"|"sentinel"|"cluster",
/// "elapsed_ms": 12, "error": null|"…", "checks": [{"name": "master", "status": "ok",
/// "detail": "…"}, …]}`
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// The overall verdict, as an exit status.
    pub status: ExitStatus,
    /// `standalone`, `sentinel` or `cluster`.
    pub topology: &'static str,
    /// How long the run took.
    pub elapsed_ms: u64,
    /// Why the checks could not run (status `could_not_run`).
    pub error: Option<String>,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
}

impl HealthReport {
    /// 0 ok, 1 a check failed, 2 could not run.
    pub fn exit_status(&self) -> ExitStatus {
        self.status
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(
                f,
                "{:<4}  {:<11}  {}",
                check.status.as_str(),
                check.name,
                check.detail
            )?;
        }
        if let Some(error) = &self.error {
            writeln!(f, "could not run: {error}")?;
        }
        let verdict = match self.status {
            ExitStatus::Ok => "healthy",
            ExitStatus::Failed => "unhealthy",
            ExitStatus::CouldNotRun => "unknown",
        };
        writeln!(
            f,
            "{verdict} ({} topology, {} ms)",
            self.topology, self.elapsed_ms
        )
    }
}

/// What one data node answered.
struct NodeAnswer {
    addr: Addr,
    /// `INFO`, or why there is none.
    info: Result<Info, String>,
    /// For masters: the health write's outcome and duration.
    write: Option<Result<Duration, String>>,
}

mod checks;

use checks::Verdicts;

/// Runs every check against the deployment `conn` describes, within `options.timeout`.
/// Errors only for invalid options; an unreachable deployment is a report with status
/// `could_not_run`.
pub async fn health(
    conn: &ConnectionConfig,
    key_prefix: &str,
    options: &HealthOptions,
) -> Result<HealthReport, OpsError> {
    options.validate()?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut conn = conn.clone();
    conn.command_timeout = conn.command_timeout.min(options.timeout);
    let conn = &conn;
    let late = || format!("no answer within {}", human::duration(options.timeout));

    // Stage 1: where are the masters?
    let mut sentinels: Vec<SentinelAnswer> = Vec::new();
    let mut masters: Vec<(Addr, String)> = Vec::new();
    let mut cluster_replicas: Vec<Addr> = Vec::new();
    let mut layout_error = None;
    let kind = match &conn.topology {
        Topology::Standalone { host, port } => {
            masters.push(((host.clone(), *port), health_key(key_prefix)));
            "standalone"
        }
        Topology::Sentinel { sentinels: all, .. } => {
            sentinels = timeout_at(deadline, ask_sentinels(conn))
                .await
                .unwrap_or_else(|_| {
                    all.iter()
                        .map(|addr| SentinelAnswer {
                            addr: addr.clone(),
                            facts: Err(late()),
                        })
                        .collect()
                });
            if let Some(master) = agreed_master(&sentinels) {
                masters.push((master, health_key(key_prefix)));
            }
            "sentinel"
        }
        Topology::Cluster { nodes } => {
            match timeout_at(deadline, cluster_layout(conn, nodes)).await {
                Ok(Ok((layout, _))) => {
                    for node in &layout {
                        if node.is_master() && !node.slots.is_empty() {
                            let key = cluster_health_key(key_prefix, |slot| node.owns(slot));
                            masters.push((node.addr.clone(), key));
                        } else if !node.is_master() {
                            cluster_replicas.push(node.addr.clone());
                        }
                    }
                }
                Ok(Err(e)) => layout_error = Some(format!("{e:#}")),
                Err(_) => layout_error = Some(late()),
            }
            "cluster"
        }
    };

    // Stage 2: the masters answer INFO and take a write.
    let master_answers = futures::future::join_all(masters.iter().map(|(addr, key)| async move {
        match timeout_at(deadline, ask_master(conn, addr, key)).await {
            Ok(answer) => answer,
            Err(_) => NodeAnswer {
                addr: addr.clone(),
                info: Err(late()),
                write: Some(Err(late())),
            },
        }
    }))
    .await;

    // Stage 3: the replicas (for persistence): those the masters list, those the
    // Sentinels know, and Cluster replicas.
    let mut replica_addrs: Vec<Addr> = cluster_replicas;
    for answer in &master_answers {
        if let Ok(info) = &answer.info {
            replica_addrs.extend(info.replicas().into_iter().map(|r| (r.host, r.port)));
        }
    }
    for facts in sentinels.iter().filter_map(|s| s.facts.as_ref().ok()) {
        replica_addrs.extend(facts.replicas.iter().map(|(addr, _)| addr.clone()));
    }
    replica_addrs.sort();
    replica_addrs.dedup();
    let replica_answers = futures::future::join_all(replica_addrs.iter().map(|addr| async move {
        let info = match timeout_at(deadline, topology::probe(conn, addr)).await {
            Ok(info) => info.map_err(|e| format!("{e:#}")),
            Err(_) => Err(late()),
        };
        NodeAnswer {
            addr: addr.clone(),
            info,
            write: None,
        }
    }))
    .await;

    let anything_answered = sentinels.iter().any(|s| s.facts.is_ok())
        || master_answers
            .iter()
            .chain(&replica_answers)
            .any(|a| a.info.is_ok());
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !anything_answered {
        let mut reasons: Vec<String> = sentinels
            .iter()
            .filter_map(|s| s.facts.as_ref().err().cloned())
            .collect();
        reasons.extend(layout_error);
        reasons.extend(
            master_answers
                .iter()
                .filter_map(|a| a.info.as_ref().err().cloned()),
        );
        return Ok(HealthReport {
            status: ExitStatus::CouldNotRun,
            topology: kind,
            elapsed_ms,
            error: Some(format!("nothing answered: {}", reasons.join("; "))),
            checks: Vec::new(),
        });
    }

    let ctx = Verdicts {
        options,
        kind,
        masters: &master_answers,
        replicas: &replica_answers,
        sentinels: &sentinels,
        layout_error: layout_error.as_deref(),
    };
    let mut checks = vec![ctx.master(), ctx.replicas()];
    if kind == "sentinel" {
        checks.push(ctx.sentinels());
    }
    checks.extend([ctx.memory(), ctx.persistence(), ctx.eviction()]);
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    Ok(HealthReport {
        status: if failed {
            ExitStatus::Failed
        } else {
            ExitStatus::Ok
        },
        topology: kind,
        elapsed_ms,
        error: None,
        checks,
    })
}

/// A key under the prefix in a slot the node owns: `<prefix>:health:{<n>}`.
fn cluster_health_key(prefix: &str, owns: impl Fn(u16) -> bool) -> String {
    let base = health_key(prefix);
    (0..100_000u32)
        .map(|n| format!("{base}:{{{n}}}"))
        .find(|key| owns(fred::util::redis_keyslot(key.as_bytes())))
        .unwrap_or(base)
}

async fn ask_master(conn: &ConnectionConfig, addr: &Addr, key: &str) -> NodeAnswer {
    let node = match Node::connect(conn, addr).await {
        Ok(node) => node,
        Err(e) => {
            let e = format!("{e:#}");
            return NodeAnswer {
                addr: addr.clone(),
                info: Err(e.clone()),
                write: Some(Err(e)),
            };
        }
    };
    let info = node.info().await.map_err(|e| format!("{e:#}"));
    let started = Instant::now();
    let written: Result<Value, _> = node
        .client()
        .set(key, "ok", Some(Expiration::PX(10_000)), None, false)
        .await;
    let write = written
        .map(|_| started.elapsed())
        .map_err(|e| format!("the write of {key} failed: {}", e.details()));
    node.close().await;
    NodeAnswer {
        addr: addr.clone(),
        info,
        write: Some(write),
    }
}
