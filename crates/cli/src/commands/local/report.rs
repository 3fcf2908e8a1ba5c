//! `local status`, `failover` and `logs`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use serde_json::json;
use sessiondb_local::stack::{self, NodeStatus, StackDir, StackError, StackStatus};

use super::lifecycle::print_json;
use super::LogsArgs;

/// `local status`: exit 0 when healthy, 1 otherwise (also when there is no
/// stack).
pub(super) fn status(dir: &StackDir, json: bool) -> anyhow::Result<ExitCode> {
    let status = match stack::collect_status(dir) {
        Ok(status) => status,
        Err(err @ StackError::NoStack { .. }) => {
            if json {
                print_json(&json!({
                    "dir": dir.root(),
                    "healthy": false,
                    "problems": [err.to_string()],
                }));
            } else {
                outln!("{err}");
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return Err(err).context("collecting the stack's status"),
    };
    if json {
        let value = serde_json::to_value(&status).context("serialising the status")?;
        print_json(&value);
    } else {
        crate::ctx::emit(&render_status(&status));
    }
    Ok(if status.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The human status report: a header, a table of nodes, the sentinels'
/// view and the verdict.
fn render_status(status: &StackStatus) -> String {
    let mut out = String::new();
    let supervisor = match (status.supervisor.pid, status.supervisor.phase) {
        (Some(pid), Some(phase)) => format!("supervisor pid {pid}, {phase}"),
        _ => "supervisor not running".to_owned(),
    };
    let _ = writeln!(
        out,
        "local {} stack in {} ({supervisor})\n",
        status.mode, status.dir
    );
    let _ = writeln!(
        out,
        "{:<11} {:<9} {:>5}  {:>7}  {:<5} {:>10}  LAG",
        "NODE", "ROLE", "PORT", "PID", "STATE", "OFFSET"
    );
    for node in &status.nodes {
        let _ = writeln!(
            out,
            "{:<11} {:<9} {:>5}  {:>7}  {:<5} {:>10}  {}",
            node.name,
            node.role.map_or_else(|| "-".to_owned(), |r| r.to_string()),
            node.port,
            dash(node.pid),
            if node.up { "up" } else { "down" },
            dash(node.offset),
            lag(node),
        );
    }
    if !status.sentinels.is_empty() {
        out.push_str("\nSentinels' view of the master:\n");
        for view in &status.sentinels {
            let line = match &view.error {
                Some(_) => "unreachable".to_owned(),
                None => format!(
                    "{} ({}), flags {}, {} replicas, {} other sentinels, quorum {}",
                    view.master.as_deref().unwrap_or("unknown node"),
                    view.master_addr.as_deref().unwrap_or("-"),
                    view.flags.as_deref().unwrap_or("-"),
                    dash(view.replicas),
                    dash(view.other_sentinels),
                    if view.quorum_ok == Some(true) {
                        "ok"
                    } else {
                        "NOT ok"
                    },
                ),
            };
            let _ = writeln!(out, "  {:<11} {line}", view.sentinel);
        }
    }
    if !status.monitoring.is_empty() {
        out.push_str("\nMonitoring:\n");
        for service in &status.monitoring {
            let _ = writeln!(
                out,
                "  {:<20} {:<24} {:>7}  {}",
                service.name,
                service.url,
                dash(service.pid),
                if service.up { "up" } else { "down" }
            );
        }
    }
    out.push('\n');
    if status.healthy {
        out.push_str("healthy\n");
    } else {
        out.push_str("unhealthy:\n");
        for problem in &status.problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    out
}

fn dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn lag(node: &NodeStatus) -> String {
    match (node.lag_bytes, node.lag_seconds, node.link_up) {
        (_, _, Some(false)) => "link down".to_owned(),
        (Some(bytes), Some(seconds), _) => format!("{bytes} B, {seconds} s"),
        (Some(bytes), None, _) => format!("{bytes} B"),
        _ => "-".to_owned(),
    }
}

/// `local failover`: force one and print `old → new`.
pub(super) fn failover(dir: &StackDir, json: bool) -> anyhow::Result<ExitCode> {
    let outcome = stack::failover(dir).context("failover")?;
    if json {
        print_json(&json!({
            "old": {"name": outcome.old.name, "addr": outcome.old.addr()},
            "new": {"name": outcome.new.name, "addr": outcome.new.addr()},
            "old_rejoined_as_replica": outcome.old_rejoined,
        }));
    } else {
        outln!(
            "failover done: {} ({}) → {} ({}); every Sentinel confirms the new master",
            outcome.old.name,
            outcome.old.addr(),
            outcome.new.name,
            outcome.new.addr()
        );
        if outcome.old_rejoined {
            outln!("{} rejoined as a replica", outcome.old.name);
        } else {
            outln!(
                "{} has not rejoined as a replica yet; Sentinel will reconfigure it \
                 (check with `sessiondb local status`)",
                outcome.old.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `local logs <node>`: the last lines of a node's (or the supervisor's)
/// log.
pub(super) fn logs(dir: &StackDir, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let state = dir.load_state()?;
    let services = state
        .topology
        .monitoring
        .as_ref()
        .map(|m| m.services())
        .unwrap_or_default();
    let service = services.iter().find(|s| s.name == args.node);
    let path = if args.node == "supervisor" {
        dir.supervisor_log()
    } else if let Some(service) = service {
        stack::service_log(dir, service)
    } else {
        match state.topology.node(&args.node) {
            Some(node) => dir.node_log(node),
            None => {
                let names: Vec<&str> = state
                    .topology
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .chain(services.iter().map(|s| s.name.as_str()))
                    .collect();
                bail!(
                    "no node called {:?}; the stack has {} and supervisor",
                    args.node,
                    names.join(", ")
                );
            }
        }
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(args.lines)..] {
        outln!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
