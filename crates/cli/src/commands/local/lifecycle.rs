//! `local up`, `start`, `stop` and `down`, and launching the detached
//! supervisor process.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt as _;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::json;
use sessiondb_local::stack::{
    self, write_env_file, MonitoringOptions, PurgeOutcome, StackDir, StackError, StackMode,
    StackPasswords, StackState, StopOutcome, Topology, TopologyOptions, ALERTMANAGER_BINARY,
    EXPORTER_BINARY, PROMETHEUS_BINARY,
};
use sessiondb_local::{monitoring_binary, parent_death_launcher, redis_server_binary};

use super::{DownArgs, UpArgs};

/// How long `up`/`start` wait for the supervisor to report the stack ready.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How long `stop`/`down` wait for a graceful stop before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// `local up`: create the stack on first use, then start it unless it runs.
pub(super) fn up(dir: &StackDir, args: &UpArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mode = if args.ha {
        StackMode::Ha
    } else {
        StackMode::Standalone
    };
    if !dir.has_stack() {
        let defaults = TopologyOptions::default();
        let monitoring = match args.monitoring {
            false => None,
            true => Some(MonitoringOptions {
                interval_secs: args.monitoring_interval_secs,
                rules_dir: args
                    .monitoring_rules_dir
                    .as_deref()
                    .map(rules_dir)
                    .transpose()?,
            }),
        };
        let topology = Topology::plan(&TopologyOptions {
            mode,
            base_port: args.port,
            down_after_ms: args.down_after_ms.unwrap_or(defaults.down_after_ms),
            failover_timeout_ms: args
                .failover_timeout_ms
                .unwrap_or(defaults.failover_timeout_ms),
            fast_timers: args.fast_sentinel_timers,
            monitoring,
            tls: args.tls,
        })?;
        dir.create()?;
        if topology.tls {
            dir.generate_tls()?;
        }
        dir.save_state(&StackState::new(topology))?;
        return launch(dir, json, "created and started");
    }
    let state = dir.load_state()?;
    warn_ignored_flags(args, &state.topology);
    if let Some(pid) = state.live_supervisor() {
        return already_running(dir, &state, pid, json);
    }
    if state.topology.mode != mode {
        bail!(
            "{} holds a {} stack; run `sessiondb local down --purge --dir {0}` first, \
             or use another --dir",
            dir.root().display(),
            state.topology.mode
        );
    }
    launch(dir, json, "started")
}

/// `--monitoring-rules-dir`: an existing directory, made absolute (the
/// supervisor runs in the stack directory).
fn rules_dir(path: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    if !path.is_dir() {
        bail!("--monitoring-rules-dir {}: not a directory", path.display());
    }
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// Says on stderr which creation-only flags differ from the existing
/// stack's settings (they are not applied).
fn warn_ignored_flags(args: &UpArgs, topology: &Topology) {
    let mut ignored = Vec::new();
    let first_port = topology.nodes.first().map(|n| n.port);
    if args.port.is_some() && args.port != first_port {
        ignored.push("--port");
    }
    if args
        .down_after_ms
        .is_some_and(|ms| ms != topology.down_after_ms)
    {
        ignored.push("--down-after-ms");
    }
    if args
        .failover_timeout_ms
        .is_some_and(|ms| ms != topology.failover_timeout_ms)
    {
        ignored.push("--failover-timeout-ms");
    }
    if args.fast_sentinel_timers && !topology.fast_timers {
        ignored.push("--fast-sentinel-timers");
    }
    if args.monitoring && topology.monitoring.is_none() {
        ignored.push("--monitoring");
    }
    if args.tls && !topology.tls {
        ignored.push("--tls");
    }
    let monitoring = topology.monitoring.as_ref();
    if args.monitoring_interval_secs.is_some()
        && args.monitoring_interval_secs != monitoring.and_then(|m| m.interval_secs)
    {
        ignored.push("--monitoring-interval-secs");
    }
    if args.monitoring_rules_dir.is_some()
        && args
            .monitoring_rules_dir
            .as_deref()
            .map(std::path::absolute)
            .and_then(Result::ok)
            != monitoring.and_then(|m| m.rules_dir.clone())
    {
        ignored.push("--monitoring-rules-dir");
    }
    if !ignored.is_empty() {
        eprintln!(
            "sessiondb: note: ignoring {}: the existing stack keeps the settings \
             it was created with",
            ignored.join(", ")
        );
    }
}

/// `local start`: start an existing, stopped stack.
pub(super) fn start(dir: &StackDir, json: bool) -> anyhow::Result<ExitCode> {
    let state = dir.load_state()?;
    if let Some(pid) = state.live_supervisor() {
        return already_running(dir, &state, pid, json);
    }
    launch(dir, json, "started")
}

fn already_running(
    dir: &StackDir,
    state: &StackState,
    pid: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if json {
        print_json(&started_json(dir, state, "already_running"));
    } else {
        outln!(
            "the local {} stack in {} is already running (supervisor pid {pid}); nothing changed",
            state.topology.mode,
            dir.root().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refreshes `local.env`, launches `sessiondb local supervise` detached
/// (own session via `setsid`, output to `supervisor.log`) and waits until it
/// reports the stack running.
fn launch(dir: &StackDir, json: bool, what: &str) -> anyhow::Result<ExitCode> {
    // Fail here, with the install hint, rather than in the detached process.
    redis_server_binary()?;
    parent_death_launcher()?;
    let state = dir.load_state()?;
    if state.topology.monitoring.is_some() {
        for binary in [EXPORTER_BINARY, PROMETHEUS_BINARY, ALERTMANAGER_BINARY] {
            monitoring_binary(binary)?;
        }
    }
    let leftovers = stack::kill_leftovers(&state)?;
    for (name, pid) in &leftovers {
        eprintln!("sessiondb: killed leftover {name} process (pid {pid}) of a crashed supervisor");
    }
    let from_env = ensure_env_file(dir, &state.topology)?;

    let log_path = dir.supervisor_log();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let exe = std::env::current_exe().context("finding the sessiondb executable")?;
    let mut child = Command::new("setsid")
        .arg(exe)
        .args(["local", "supervise", "--dir"])
        .arg(dir.root())
        .current_dir(dir.root())
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("duplicating the log file handle")?)
        .stderr(log)
        .spawn()
        .context("starting the supervisor with `setsid` (util-linux)")?;
    let pid = child.id();
    let running = stack::wait_running(dir, pid, START_TIMEOUT, || {
        child
            .try_wait()
            .ok()
            .flatten()
            .map(|status| status.to_string())
    });
    let state = match running {
        Ok(state) => state,
        Err(err @ StackError::Timeout { .. }) => {
            return Err(err).with_context(|| {
                format!(
                    "the stack is not ready yet; see `sessiondb local status --dir {0}` \
                     and `sessiondb local logs supervisor --dir {0}`",
                    dir.root().display()
                )
            })
        }
        Err(err) => {
            return Err(err)
                .with_context(|| format!("starting the stack (log: {})", log_path.display()))
        }
    };
    if json {
        let mut value = started_json(dir, &state, what);
        value["passwords_from_environment"] = json!(from_env);
        print_json(&value);
    } else {
        print_started(dir, &state, what, &from_env);
    }
    Ok(ExitCode::SUCCESS)
}

/// Rewrites `local.env` from the existing passwords (or, when the file is
/// missing, from `REDIS_PASSWORD`, `APP_PASSWORD`, … in the environment and
/// freshly generated ones). Returns the variables taken from the environment.
fn ensure_env_file(dir: &StackDir, topology: &Topology) -> anyhow::Result<Vec<&'static str>> {
    let path = dir.env_file();
    let (passwords, from_env) = if path.exists() {
        (StackPasswords::load(&path)?, Vec::new())
    } else {
        StackPasswords::from_env_or_generate(|name| std::env::var(name).ok())?
    };
    write_env_file(
        &path,
        topology,
        &passwords,
        dir.tls_files(topology)?.as_ref(),
    )?;
    Ok(from_env)
}

fn started_json(dir: &StackDir, state: &StackState, what: &str) -> serde_json::Value {
    let nodes: Vec<_> = state
        .topology
        .nodes
        .iter()
        .map(|n| json!({"name": n.name, "kind": n.kind, "port": n.port, "pid": state.pids.get(&n.name)}))
        .collect();
    let mut value = json!({
        "dir": dir.root(),
        "result": what.replace(' ', "_"),
        "mode": state.topology.mode,
        "supervisor_pid": state.supervisor.as_ref().map(|s| s.pid),
        "master": state.master,
        "env_file": dir.env_file(),
        "nodes": nodes,
    });
    if let Some(monitoring) = &state.topology.monitoring {
        let services: Vec<_> = monitoring
            .services()
            .iter()
            .map(|s| json!({"name": s.name, "kind": s.kind, "url": s.url(), "pid": state.pids.get(&s.name)}))
            .collect();
        value["monitoring"] = json!({
            "prometheus": monitoring.prometheus_url(),
            "alertmanager": monitoring.alertmanager_url(),
            "sessiondb_admin_listen": monitoring.sessiondb_admin_addr(),
            "processes": services,
        });
    }
    value
}

fn print_started(dir: &StackDir, state: &StackState, what: &str, from_env: &[&str]) {
    let supervisor = state.supervisor.as_ref().map(|s| s.pid).unwrap_or_default();
    outln!(
        "{what} the local {} stack in {} (supervisor pid {supervisor})",
        state.topology.mode,
        dir.root().display()
    );
    for node in &state.topology.nodes {
        let role = match node.kind {
            stack::NodeKind::Sentinel => "sentinel",
            stack::NodeKind::Redis if state.master.as_deref() == Some(&node.name) => "master",
            stack::NodeKind::Redis if state.topology.mode == StackMode::Ha => "replica",
            stack::NodeKind::Redis => "standalone",
        };
        outln!("  {:<11} {:<16} {role}", node.name, node.addr());
    }
    if let Some(monitoring) = &state.topology.monitoring {
        outln!("monitoring:");
        outln!("  Prometheus   {}", monitoring.prometheus_url());
        outln!("  Alertmanager {}", monitoring.alertmanager_url());
        outln!(
            "  exporters    {} (one per node; `sessiondb local status` lists them)",
            monitoring.exporters.len()
        );
        outln!(
            "  sessiondb    scraped at http://{}/metrics while `sessiondb serve --local` runs",
            monitoring.sessiondb_admin_addr()
        );
    }
    let env = dir.env_file();
    outln!("passwords and connection settings: {}", env.display());
    if !from_env.is_empty() {
        outln!("  (taken from the environment: {})", from_env.join(", "));
    }
    let flag = super::dir_word(dir).map_or_else(String::new, |dir| format!(" --local-dir {dir}"));
    outln!("use it with:  sessiondb serve --local{flag}");
}

/// `local stop`: stop the processes, keep everything else.
pub(super) fn stop(dir: &StackDir, json: bool) -> anyhow::Result<ExitCode> {
    let outcome = stack::stop(dir, STOP_TIMEOUT)?;
    report_stop(dir, outcome, json, None);
    Ok(ExitCode::SUCCESS)
}

/// `local down [--purge]`: stop, and with `--purge` delete the stack's files.
pub(super) fn down(dir: &StackDir, args: &DownArgs, json: bool) -> anyhow::Result<ExitCode> {
    if !dir.has_stack() {
        if args.purge && dir.root().exists() {
            if !is_empty_dir(dir)? {
                bail!(
                    "{} holds no local stack (no state.json); not deleting anything",
                    dir.root().display()
                );
            }
            std::fs::remove_dir(dir.root())
                .with_context(|| format!("deleting {}", dir.root().display()))?;
        }
        if json {
            print_json(&json!({"dir": dir.root(), "result": "no_stack"}));
        } else {
            outln!("no local stack in {}; nothing to do", dir.root().display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = stack::stop(dir, STOP_TIMEOUT)?;
    let purged = if args.purge {
        Some(stack::purge(dir)?)
    } else {
        None
    };
    report_stop(dir, outcome, json, purged);
    Ok(ExitCode::SUCCESS)
}

fn is_empty_dir(dir: &StackDir) -> anyhow::Result<bool> {
    let mut entries = std::fs::read_dir(dir.root())
        .with_context(|| format!("reading {}", dir.root().display()))?;
    Ok(entries.next().is_none())
}

fn report_stop(dir: &StackDir, outcome: StopOutcome, json: bool, purged: Option<PurgeOutcome>) {
    let root = dir.root().display();
    if json {
        let (result, pid) = match outcome {
            StopOutcome::NotRunning => ("not_running", None),
            StopOutcome::Stopped { supervisor } => ("stopped", Some(supervisor)),
            StopOutcome::Killed { supervisor } => ("killed", Some(supervisor)),
        };
        let purged = purged.map(|p| match p {
            PurgeOutcome::Removed => "removed",
            PurgeOutcome::KeptOtherFiles => "kept_other_files",
        });
        print_json(
            &json!({"dir": dir.root(), "result": result, "supervisor_pid": pid, "purged": purged}),
        );
        return;
    }
    match outcome {
        StopOutcome::NotRunning => outln!("the local stack in {root} is not running"),
        StopOutcome::Stopped { supervisor } => {
            outln!("stopped the local stack in {root} (supervisor pid {supervisor})");
        }
        StopOutcome::Killed { supervisor } => outln!(
            "the supervisor (pid {supervisor}) did not stop in time and was killed; \
             its Redis processes died with it"
        ),
    }
    match purged {
        Some(PurgeOutcome::Removed) => outln!("deleted {root}"),
        Some(PurgeOutcome::KeptOtherFiles) => outln!(
            "deleted the stack's files; kept {root}, which holds other files (e.g. embedded/)"
        ),
        None if outcome != StopOutcome::NotRunning => {
            outln!("data kept; `sessiondb local start --dir {root}` starts it again");
        }
        None => {}
    }
}

pub(super) fn print_json(value: &serde_json::Value) {
    outln!("{value:#}");
}
