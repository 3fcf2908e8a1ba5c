//! The checks: the answers gathered by [`health`](super::health), turned into one
//! verdict each.

use super::{Check, HealthOptions, NodeAnswer};
use crate::human;
use crate::info::Info;
use crate::outcome::CheckStatus;
use crate::topology::{self, addr_string, Addr, SentinelAnswer};

/// The gathered answers, turned into checks.
pub(super) struct Verdicts<'a> {
    pub(super) options: &'a HealthOptions,
    pub(super) kind: &'static str,
    pub(super) masters: &'a [NodeAnswer],
    pub(super) replicas: &'a [NodeAnswer],
    pub(super) sentinels: &'a [SentinelAnswer],
    pub(super) layout_error: Option<&'a str>,
}

fn check(name: &'static str, status: CheckStatus, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

impl Verdicts<'_> {
    /// Why there is no master to check, when there is none.
    fn no_master(&self) -> Option<String> {
        if !self.masters.is_empty() {
            return None;
        }
        Some(match (self.kind, self.layout_error) {
            (_, Some(e)) => format!("the Cluster layout is unknown: {e}"),
            ("sentinel", _) => "no Sentinel names a master".to_owned(),
            _ => "no master is known".to_owned(),
        })
    }

    pub(super) fn master(&self) -> Check {
        const NAME: &str = "master";
        if let Some(why) = self.no_master() {
            return check(NAME, CheckStatus::Fail, why);
        }
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for m in self.masters {
            let name = addr_string(&m.addr);
            let role = m
                .info
                .as_ref()
                .ok()
                .and_then(|i| i.role().map(str::to_owned));
            match (&m.info, &m.write, role.as_deref()) {
                (Err(e), _, _) => bad.push(format!("{name}: {e}")),
                (_, _, Some(role)) if role != "master" => {
                    bad.push(format!("{name} is a {role}, not a master"));
                }
                (_, Some(Err(e)), _) => bad.push(format!("{name}: {e}")),
                (_, Some(Ok(took)), _) => good.push(format!("{name} ({} ms)", took.as_millis())),
                (_, None, _) => bad.push(format!("{name}: not written")),
            }
        }
        if bad.is_empty() {
            check(
                NAME,
                CheckStatus::Ok,
                format!("answers and accepts writes: {}", good.join(", ")),
            )
        } else {
            check(NAME, CheckStatus::Fail, bad.join("; "))
        }
    }

    fn min_replicas(&self) -> u32 {
        self.options
            .min_replicas
            .unwrap_or(u32::from(self.kind == "sentinel"))
    }

    pub(super) fn replicas(&self) -> Check {
        const NAME: &str = "replicas";
        if let Some(why) = self.no_master() {
            return check(NAME, CheckStatus::Fail, why);
        }
        let min = self.min_replicas();
        let max_lag = self.options.max_lag.as_secs();
        let mut details = Vec::new();
        let mut failed = false;
        for m in self.masters {
            let name = addr_string(&m.addr);
            let Ok(info) = &m.info else {
                failed = true;
                details.push(format!("{name}: did not answer"));
                continue;
            };
            let listed = info.replicas();
            let good: Vec<String> = listed
                .iter()
                .filter(|r| r.state == "online" && r.lag <= max_lag)
                .map(|r| format!("{}:{} lag {} s", r.host, r.port, r.lag))
                .collect();
            let bad: Vec<String> = listed
                .iter()
                .filter(|r| !(r.state == "online" && r.lag <= max_lag))
                .map(|r| format!("{}:{} {} lag {} s", r.host, r.port, r.state, r.lag))
                .collect();
            let enough = good.len() >= min as usize;
            failed |= !enough;
            let mut line = format!(
                "{name}: {} in sync (lag ≤ {max_lag} s), {min} required",
                good.len()
            );
            if !good.is_empty() {
                line.push_str(&format!(": {}", good.join(", ")));
            }
            if !bad.is_empty() {
                line.push_str(&format!("; behind: {}", bad.join(", ")));
            }
            details.push(line);
        }
        // Replicas the Sentinels know but the master does not list are down.
        let connected: Vec<Addr> = self
            .masters
            .iter()
            .filter_map(|m| m.info.as_ref().ok())
            .flat_map(|i| i.replicas().into_iter().map(|r| (r.host, r.port)))
            .collect();
        let mut missing: Vec<String> = self
            .sentinels
            .iter()
            .filter_map(|s| s.facts.as_ref().ok())
            .flat_map(|f| f.replicas.iter())
            .filter(|(addr, _)| !connected.contains(addr))
            .map(|(addr, flags)| format!("{} ({flags})", addr_string(addr)))
            .collect();
        missing.sort();
        missing.dedup();
        let status = if failed {
            CheckStatus::Fail
        } else if missing.is_empty() {
            CheckStatus::Ok
        } else {
            CheckStatus::Warn
        };
        if !missing.is_empty() {
            details.push(format!(
                "known to Sentinel but not connected: {}",
                missing.join(", ")
            ));
        }
        check(NAME, status, details.join("; "))
    }

    pub(super) fn sentinels(&self) -> Check {
        const NAME: &str = "sentinels";
        let total = self.sentinels.len();
        let answered: Vec<(&SentinelAnswer, &topology::SentinelFacts)> = self
            .sentinels
            .iter()
            .filter_map(|s| Some((s, s.facts.as_ref().ok()?)))
            .collect();
        let silent: Vec<String> = self
            .sentinels
            .iter()
            .filter_map(|s| {
                let e = s.facts.as_ref().err()?;
                Some(format!("{}: {e}", addr_string(&s.addr)))
            })
            .collect();
        if answered.is_empty() {
            return check(
                NAME,
                CheckStatus::Fail,
                format!("no Sentinel answered: {}", silent.join("; ")),
            );
        }
        let mut problems = Vec::new();
        let named: Vec<String> = answered
            .iter()
            .map(|(s, f)| {
                format!(
                    "{} names {}",
                    addr_string(&s.addr),
                    f.master
                        .as_ref()
                        .map_or("no master".to_owned(), addr_string)
                )
            })
            .collect();
        let first = &answered[0].1.master;
        if first.is_none() || answered.iter().any(|(_, f)| f.master != *first) {
            problems.push(format!("Sentinels disagree: {}", named.join(", ")));
        }
        let quorum = answered
            .iter()
            .filter_map(|(_, f)| f.field_u64("quorum"))
            .max()
            .unwrap_or(0);
        let known = answered
            .iter()
            .filter_map(|(_, f)| f.field_u64("num-other-sentinels"))
            .max()
            .map_or(total, |others| (others as usize + 1).max(total));
        let majority = known / 2 + 1;
        if (answered.len() as u64) < quorum {
            problems.push(format!(
                "only {} of {known} Sentinels answered; quorum is {quorum}",
                answered.len()
            ));
        } else if answered.len() < majority {
            problems.push(format!(
                "only {} of {known} Sentinels answered; a failover needs a majority ({majority})",
                answered.len()
            ));
        }
        for (s, f) in &answered {
            if let Err(e) = &f.ckquorum {
                problems.push(format!("{} CKQUORUM: {e}", addr_string(&s.addr)));
            }
            let flags = f
                .master_fields
                .get("flags")
                .map(String::as_str)
                .unwrap_or("");
            if flags.split(',').any(|fl| fl == "s_down" || fl == "o_down") {
                problems.push(format!("{} flags the master {flags}", addr_string(&s.addr)));
            }
        }
        if !problems.is_empty() {
            if !silent.is_empty() {
                problems.push(format!("no answer: {}", silent.join("; ")));
            }
            return check(NAME, CheckStatus::Fail, problems.join("; "));
        }
        let master = first.as_ref().map_or_else(String::new, addr_string);
        let summary = format!(
            "{} of {known} Sentinels agree on {master}; CKQUORUM OK (quorum {quorum})",
            answered.len()
        );
        if silent.is_empty() {
            check(NAME, CheckStatus::Ok, summary)
        } else {
            check(
                NAME,
                CheckStatus::Warn,
                format!("{summary}; no answer: {}", silent.join("; ")),
            )
        }
    }

    /// Applies `judge` to every master's INFO; a master without INFO fails.
    fn per_master(
        &self,
        name: &'static str,
        judge: impl Fn(&Info) -> (CheckStatus, String),
    ) -> Check {
        if let Some(why) = self.no_master() {
            return check(name, CheckStatus::Fail, why);
        }
        let mut status = CheckStatus::Ok;
        let mut details = Vec::new();
        for m in self.masters {
            let (s, detail) = match &m.info {
                Ok(info) => judge(info),
                Err(e) => (CheckStatus::Fail, format!("did not answer: {e}")),
            };
            status = status.max(s);
            details.push(if self.masters.len() == 1 {
                detail
            } else {
                format!("{}: {detail}", addr_string(&m.addr))
            });
        }
        check(name, status, details.join("; "))
    }

    pub(super) fn memory(&self) -> Check {
        let ratio = self.options.max_memory_ratio;
        self.per_master("memory", |info| {
            let used = info.u64("used_memory").unwrap_or(0);
            match info.u64("maxmemory").unwrap_or(0) {
                0 => (
                    CheckStatus::Ok,
                    format!(
                        "no maxmemory set (no limit to check); {} used",
                        human::bytes(used)
                    ),
                ),
                max => {
                    let share = used as f64 / max as f64;
                    let status = if share > ratio {
                        CheckStatus::Fail
                    } else {
                        CheckStatus::Ok
                    };
                    (
                        status,
                        format!(
                            "{} of {} maxmemory used ({:.0}%, limit {:.0}%)",
                            human::bytes(used),
                            human::bytes(max),
                            share * 100.0,
                            ratio * 100.0
                        ),
                    )
                }
            }
        })
    }

    pub(super) fn eviction(&self) -> Check {
        self.per_master("eviction", |info| {
            let policy = info.get("maxmemory_policy").unwrap_or("unknown");
            if policy.starts_with("allkeys-") {
                (
                    CheckStatus::Fail,
                    format!(
                        "maxmemory-policy {policy} evicts any key, indexes and counters \
                         included: sessions vanish silently; use noeviction"
                    ),
                )
            } else if policy.starts_with("volatile-") {
                (
                    CheckStatus::Warn,
                    format!(
                        "maxmemory-policy {policy} evicts sessions (their keys have TTLs) \
                         under memory pressure; noeviction makes writes fail instead"
                    ),
                )
            } else {
                (CheckStatus::Ok, format!("maxmemory-policy {policy}"))
            }
        })
    }

    pub(super) fn persistence(&self) -> Check {
        const NAME: &str = "persistence";
        const FIELDS: [&str; 3] = [
            "aof_last_write_status",
            "aof_last_bgrewrite_status",
            "rdb_last_bgsave_status",
        ];
        let answering: Vec<&NodeAnswer> = self
            .masters
            .iter()
            .chain(self.replicas)
            .filter(|a| a.info.is_ok())
            .collect();
        if answering.is_empty() {
            return check(NAME, CheckStatus::Fail, "no data node answered");
        }
        let mut failures = Vec::new();
        let mut no_aof = Vec::new();
        for node in &answering {
            let Ok(info) = &node.info else { continue };
            for field in FIELDS {
                if let Some(value) = info.get(field).filter(|v| *v != "ok") {
                    failures.push(format!("{} {field}:{value}", addr_string(&node.addr)));
                }
            }
            if info.get("aof_enabled") != Some("1") {
                no_aof.push(addr_string(&node.addr));
            }
        }
        let unanswered: Vec<String> = self
            .replicas
            .iter()
            .filter(|a| a.info.is_err())
            .map(|a| addr_string(&a.addr))
            .collect();
        let mut detail = if failures.is_empty() {
            format!(
                "last AOF write, AOF rewrite and RDB save ok on {} node(s)",
                answering.len()
            )
        } else {
            failures.join("; ")
        };
        if !no_aof.is_empty() {
            detail.push_str(&format!(
                "; AOF off on {} (a restart loses writes since the last snapshot)",
                no_aof.join(", ")
            ));
        }
        if !unanswered.is_empty() {
            detail.push_str(&format!(
                "; not checked (no answer): {}",
                unanswered.join(", ")
            ));
        }
        let status = if !failures.is_empty() {
            CheckStatus::Fail
        } else if !no_aof.is_empty() {
            CheckStatus::Warn
        } else {
            CheckStatus::Ok
        };
        check(NAME, status, detail)
    }
}
