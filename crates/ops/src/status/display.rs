//! The text output of [`StatusReport`]: the node table, the Sentinel table, the
//! Cluster's shards and sessiondb's figures.

use std::fmt;

use super::StatusReport;
use crate::human::{self, or_dash};

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "topology: {}\n", self.topology)?;
        let rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|n| {
                let lag = match (n.lag_bytes, n.lag_seconds) {
                    (None, None) => "-".to_owned(),
                    (b, s) => format!("{} B / {} s", or_dash(b), or_dash(s)),
                };
                let memory = match (n.used_memory, n.maxmemory) {
                    (Some(u), Some(0)) => format!("{} / no limit", human::bytes(u)),
                    (Some(u), Some(m)) => format!("{} / {}", human::bytes(u), human::bytes(m)),
                    _ => "-".to_owned(),
                };
                let role = match (&n.error, &n.link) {
                    (Some(_), _) => "unreachable".to_owned(),
                    (None, Some(link)) if link != "up" => format!("{} (link {link})", n.role),
                    _ => n.role.clone(),
                };
                vec![
                    role,
                    n.address.clone(),
                    or_dash(n.replication_offset),
                    lag,
                    memory,
                    or_dash(n.keys),
                    or_dash(n.connected_clients),
                    n.uptime_seconds.map_or("-".to_owned(), |s| {
                        human::duration(std::time::Duration::from_secs(s))
                    }),
                ]
            })
            .collect();
        f.write_str(&human::table(
            &[
                "ROLE", "ADDRESS", "OFFSET", "LAG", "MEMORY", "KEYS", "CLIENTS", "UPTIME",
            ],
            &rows,
        ))?;
        for n in self.nodes.iter().filter(|n| n.error.is_some()) {
            writeln!(f, "{}: {}", n.address, n.error.as_deref().unwrap_or(""))?;
        }
        if !self.sentinels.is_empty() {
            writeln!(f, "\nsentinels:")?;
            let rows: Vec<Vec<String>> = self
                .sentinels
                .iter()
                .map(|s| {
                    vec![
                        s.address.clone(),
                        s.master.clone().unwrap_or_else(|| {
                            if s.reachable {
                                "-".to_owned()
                            } else {
                                "unreachable".to_owned()
                            }
                        }),
                        or_dash(s.flags.clone()),
                        or_dash(s.quorum),
                        or_dash(s.sentinels_known),
                        match s.ckquorum_ok {
                            Some(true) => "ok".to_owned(),
                            Some(false) => "FAILED".to_owned(),
                            None => "-".to_owned(),
                        },
                        or_dash(s.config_epoch),
                    ]
                })
                .collect();
            f.write_str(&human::table(
                &[
                    "SENTINEL",
                    "MASTER",
                    "FLAGS",
                    "QUORUM",
                    "SENTINELS",
                    "CKQUORUM",
                    "FAILOVERS(EPOCH)",
                ],
                &rows,
            ))?;
        }
        if let Some(c) = &self.cluster {
            writeln!(
                f,
                "\ncluster: state {}, {} of 16384 slots ok ({} pfail, {} fail), {} nodes",
                or_dash(c.state.clone()),
                or_dash(c.slots_ok),
                or_dash(c.slots_pfail),
                or_dash(c.slots_fail),
                or_dash(c.known_nodes)
            )?;
            let rows: Vec<Vec<String>> = c
                .shards
                .iter()
                .map(|s| {
                    vec![
                        s.master.clone(),
                        s.slots.join(","),
                        s.slot_count.to_string(),
                        if s.replicas.is_empty() {
                            "-".to_owned()
                        } else {
                            s.replicas.join(",")
                        },
                        if s.failing.is_empty() {
                            "-".to_owned()
                        } else {
                            s.failing.join(",")
                        },
                    ]
                })
                .collect();
            f.write_str(&human::table(
                &["MASTER", "SLOTS", "COUNT", "REPLICAS", "FAILING"],
                &rows,
            ))?;
        }
        writeln!(f, "\nsessiondb:")?;
        match (&self.sessions, &self.sessions_error) {
            (Some(figures), _) => write!(f, "{figures}"),
            (None, error) => writeln!(f, "figures unavailable: {}", error.as_deref().unwrap_or("")),
        }
    }
}
