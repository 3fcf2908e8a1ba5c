//! The stack directory and its state file.
//!
//! ```text
//! <dir>/
//!   state.json        topology, current master, supervisor pid and phase, node pids
//!   local.env         passwords and `sessiondb serve` settings (mode 0600)
//!   users.acl         the ACL users of the six roles, loaded by every data node
//!   supervisor.log    the supervisor's own log
//!   tls/              with --tls: ca.crt, server.crt/.key, client.crt/.key
//!   redis-0/          redis.conf, redis.log, appendonlydir/, ...
//!   sentinel-0/       sentinel.conf, sentinel.log
//!   monitoring/       with --monitoring: exporter-<node>/, prometheus/, alertmanager/
//! ```
//!
//! The state file is written by `up` (topology only) and afterwards only by
//! the supervisor, always atomically (write a temporary file, then rename),
//! so readers never see half a file.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::procfs;
use super::topology::{NodeKind, NodeSpec, Topology};
use super::StackError;
use crate::process::LOOPBACK;
use crate::{TlsClient, TlsFiles};

/// Version of the state file layout.
const STATE_VERSION: u32 = 1;

/// The stack directory when none is given, relative to the working directory.
pub const DEFAULT_STACK_DIR: &str = ".sessiondb";

/// A stack directory (`--dir`, default [`DEFAULT_STACK_DIR`]), always absolute.
#[derive(Debug, Clone)]
pub struct StackDir {
    root: PathBuf,
}

impl StackDir {
    /// The stack in `path` (which need not exist yet). Relative paths are
    /// resolved against the current directory.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, StackError> {
        let path = path.as_ref();
        let root = std::path::absolute(path)
            .map_err(|e| StackError::io(format!("resolving {}", path.display()), e))?;
        if root.to_str().is_none() {
            return Err(StackError::Invalid(format!(
                "stack directory {} is not valid UTF-8",
                root.display()
            )));
        }
        Ok(Self { root })
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// `local.env`: passwords and connection settings.
    pub fn env_file(&self) -> PathBuf {
        self.root.join("local.env")
    }

    /// `users.acl`: the Redis ACL users of the six roles, loaded by every data node.
    pub fn acl_file(&self) -> PathBuf {
        self.root.join("users.acl")
    }

    /// `tls/`: the CA, server and client certificates of a `--tls` stack.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// Generates the certificates of a `--tls` stack into [`tls_dir`](Self::tls_dir)
    /// (for `localhost` and `127.0.0.1`), replacing any there.
    pub fn generate_tls(&self) -> Result<TlsFiles, StackError> {
        let dir = self.tls_dir();
        crate::private_dir::ensure_private_dir(&dir)?;
        Ok(TlsFiles::generate(&dir, &["localhost", LOOPBACK])?)
    }

    /// The certificates of the stack when `topology` runs on TLS, `None` otherwise.
    pub fn tls_files(&self, topology: &Topology) -> Result<Option<TlsFiles>, StackError> {
        if !topology.tls {
            return Ok(None);
        }
        Ok(Some(TlsFiles::load(&self.tls_dir())?))
    }

    /// How clients reach the nodes of the stack: over TLS with the stack's CA and
    /// client certificate when `topology` runs on TLS, `None` for plain TCP.
    pub fn tls_client(&self, topology: &Topology) -> Result<Option<TlsClient>, StackError> {
        match self.tls_files(topology)? {
            Some(files) => Ok(Some(files.client()?)),
            None => Ok(None),
        }
    }

    /// `supervisor.log`.
    pub fn supervisor_log(&self) -> PathBuf {
        self.root.join("supervisor.log")
    }

    /// The directory of node `name` (config, log, data).
    pub fn node_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The log file of `node`.
    pub fn node_log(&self, node: &NodeSpec) -> PathBuf {
        let file = match node.kind {
            NodeKind::Redis => "redis.log",
            NodeKind::Sentinel => "sentinel.log",
        };
        self.node_dir(&node.name).join(file)
    }

    /// True when the directory holds a stack (its state file exists).
    pub fn has_stack(&self) -> bool {
        self.state_file().is_file()
    }

    /// Creates the directory owner-only (mode 0700), or tightens an existing one after
    /// checking that the current user owns it.
    pub fn create(&self) -> Result<(), StackError> {
        crate::private_dir::ensure_private_dir(&self.root).map_err(StackError::from)
    }

    /// Reads the state file; [`StackError::NoStack`] when there is none.
    pub fn load_state(&self) -> Result<StackState, StackError> {
        let path = self.state_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StackError::NoStack {
                    dir: self.root.clone(),
                })
            }
            Err(e) => return Err(StackError::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_str(&text).map_err(|source| StackError::State { path, source })
    }

    /// Writes the state file atomically.
    pub fn save_state(&self, state: &StackState) -> Result<(), StackError> {
        let path = self.state_file();
        let mut json = serde_json::to_vec_pretty(state).map_err(|source| StackError::State {
            path: path.clone(),
            source,
        })?;
        json.push(b'\n');
        write_atomically(&path, &json, 0o644)
    }
}

/// Writes `bytes` to a temporary file next to `path` with `mode`, then
/// renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StackError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let context = || format!("writing {}", path.display());
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&temp);
        StackError::io(context(), e)
    })
}

/// What the supervisor is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Starting the nodes and waiting until they are ready.
    Starting,
    /// All nodes started; watching them and restarting any that dies.
    Running,
    /// Stopping the nodes after SIGTERM.
    Stopping,
    /// Exited after stopping every node.
    Stopped,
    /// Starting failed; `error` says why. The supervisor has exited.
    Failed,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        })
    }
}

/// The supervisor process, as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorState {
    /// Its pid.
    pub pid: u32,
    /// Its start time (see [`procfs::start_time`]), so a later process
    /// that reuses the pid is not mistaken for it.
    pub start_time: Option<u64>,
    /// What it was doing at its last write. A supervisor killed with
    /// SIGKILL leaves its last phase behind: check liveness with
    /// [`StackState::live_supervisor`].
    pub phase: Phase,
    /// Why starting failed (phase `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The content of `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackState {
    /// Layout version (1).
    pub version: u32,
    /// Nodes and ports, fixed at the first `up`.
    pub topology: Topology,
    /// Name of the data node that is master (HA: as the sentinels last
    /// reported it; kept across stop/start so the stack restarts with the
    /// same master).
    #[serde(default)]
    pub master: Option<String>,
    /// The supervisor, once one was started.
    #[serde(default)]
    pub supervisor: Option<SupervisorState>,
    /// Pids of the node processes the supervisor runs, by node name.
    #[serde(default)]
    pub pids: BTreeMap<String, u32>,
}

impl StackState {
    /// The state of a new, never started stack.
    pub fn new(topology: Topology) -> Self {
        let master = topology.initial_master().map(|n| n.name.clone());
        Self {
            version: STATE_VERSION,
            topology,
            master,
            supervisor: None,
            pids: BTreeMap::new(),
        }
    }

    /// The supervisor's pid when it is still alive (and really is the
    /// process that wrote the state, not one that reused its pid).
    pub fn live_supervisor(&self) -> Option<u32> {
        let supervisor = self.supervisor.as_ref()?;
        let busy = matches!(
            supervisor.phase,
            Phase::Starting | Phase::Running | Phase::Stopping
        );
        let same = supervisor
            .start_time
            .is_some_and(|t| procfs::is_same_process(supervisor.pid, t));
        (busy && same).then_some(supervisor.pid)
    }

    /// The current master's node (falls back to `redis-0`).
    pub fn master_node(&self) -> Option<&NodeSpec> {
        self.master
            .as_deref()
            .and_then(|name| self.topology.node(name))
            .filter(|n| n.kind == NodeKind::Redis)
            .or_else(|| self.topology.initial_master())
    }

    /// Recorded pids that still belong to a live Redis process on the
    /// node's port, or to the monitoring program of that name on its port,
    /// as `(name, pid)`.
    pub fn live_node_pids(&self) -> Vec<(String, u32)> {
        let services = self
            .topology
            .monitoring
            .as_ref()
            .map(|m| m.services())
            .unwrap_or_default();
        self.pids
            .iter()
            .filter(|(name, &pid)| {
                let node = self
                    .topology
                    .node(name)
                    .is_some_and(|n| procfs::is_redis_on_port(pid, n.port));
                node || services.iter().any(|s| {
                    &s.name == *name && procfs::is_program_on_port(pid, s.binary(), s.port)
                })
            })
            .map(|(name, &pid)| (name.clone(), pid))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{StackMode, TopologyOptions};

    #[test]
    fn state_round_trips_through_the_file() {
        let temp = tempfile::tempdir().unwrap();
        let dir = StackDir::new(temp.path().join("stack")).unwrap();
        assert!(matches!(dir.load_state(), Err(StackError::NoStack { .. })));
        dir.create().unwrap();
        let topology = Topology::plan(&TopologyOptions {
            mode: StackMode::Ha,
            ..TopologyOptions::default()
        })
        .unwrap();
        let mut state = StackState::new(topology);
        state.supervisor = Some(SupervisorState {
            pid: 1,
            start_time: Some(u64::MAX),
            phase: Phase::Running,
            error: None,
        });
        state.pids.insert("redis-0".into(), 42);
        dir.save_state(&state).unwrap();
        assert!(dir.has_stack());
        assert_eq!(dir.load_state().unwrap(), state);
        assert_eq!(state.master_node().unwrap().name, "redis-0");
        // pid 1 did not start at that time.
        assert_eq!(state.live_supervisor(), None);
        let json = fs::read_to_string(dir.state_file()).unwrap();
        assert!(json.contains("\"phase\": \"running\""), "{json}");
    }
}
