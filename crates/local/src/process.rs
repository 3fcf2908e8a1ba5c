//! Supervising one Redis process (`redis-server` or `redis-sentinel`):
//! spawning it from a generated config file, waiting until it answers,
//! stopping, killing and reaping it, and reading its log.
//!
//! [`crate::RedisServer`] and [`crate::SentinelServer`] are thin wrappers
//! around [`Process`]; it is the piece that guarantees no process outlives
//! its guard (it kills and reaps in `Drop`, which also runs while a panicking
//! test unwinds).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tempfile::TempDir;

use crate::cli;
use crate::conf::ConfFile;
use crate::poll::{poll_until, Pending};
use crate::resp::{info_field, Connection, Reply, IO_TIMEOUT, PROBE_TIMEOUT};
use crate::{free_cluster_port, free_port, LocalError, TlsClient};

/// The only address anything started by this crate listens on.
pub(crate) const LOOPBACK: &str = "127.0.0.1";

/// How long a freshly spawned process gets to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How often a stop repeats its shutdown request while the process runs.
const SHUTDOWN_RETRY: Duration = Duration::from_millis(500);

/// How often to try a new port when an automatically picked one was taken.
const START_ATTEMPTS: u32 = 5;

/// How many trailing log lines go into start errors.
const LOG_TAIL_LINES: usize = 30;

/// How the listening port is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortChoice {
    /// Exactly this port; no retry if it is taken.
    Fixed(u16),
    /// [`free_port`], retried when taken meanwhile.
    Auto,
    /// [`free_cluster_port`], retried when taken meanwhile.
    AutoCluster,
}

impl PortChoice {
    /// `Fixed` for `Some`, otherwise auto-picked (cluster-safe if `cluster`).
    pub(crate) fn from_option(port: Option<u16>, cluster: bool) -> Self {
        match (port, cluster) {
            (Some(port), _) => Self::Fixed(port),
            (None, false) => Self::Auto,
            (None, true) => Self::AutoCluster,
        }
    }

    fn pick(self) -> Result<u16, LocalError> {
        match self {
            Self::Fixed(port) => Ok(port),
            Self::Auto => free_port(),
            Self::AutoCluster => free_cluster_port(),
        }
    }
}

/// A node's data directory: either given by the caller (kept) or a fresh
/// temporary directory (deleted when the guard is dropped). Always an
/// absolute, UTF-8 path (it is written into config files).
#[derive(Debug)]
pub(crate) struct NodeDir {
    path: PathBuf,
    utf8: String,
    _owned: Option<TempDir>,
}

impl NodeDir {
    /// Uses (and creates) `dir`, or makes a private temporary directory.
    pub(crate) fn new(dir: Option<PathBuf>, prefix: &str) -> Result<Self, LocalError> {
        let (path, owned) = match dir {
            Some(dir) => {
                let path = std::path::absolute(&dir)
                    .map_err(|e| LocalError::io(format!("resolving {}", dir.display()), e))?;
                crate::private_dir::ensure_private_dir(&path)?;
                (path, None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix(prefix)
                    .tempdir()
                    .map_err(|e| LocalError::io("creating a temporary directory", e))?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let utf8 = path.to_str().map(str::to_owned).ok_or_else(|| {
            LocalError::InvalidOptions(format!("data dir {} is not valid UTF-8", path.display()))
        })?;
        Ok(Self {
            path,
            utf8,
            _owned: owned,
        })
    }
}

/// What to run and how to talk to it.
#[derive(Debug)]
pub(crate) struct Spec {
    /// `redis-server` or `redis-sentinel`, for messages.
    pub(crate) program: &'static str,
    /// The executable.
    pub(crate) binary: PathBuf,
    /// File name of the generated config inside the node directory.
    pub(crate) conf_name: &'static str,
    /// File name of the log inside the node directory.
    pub(crate) log_name: &'static str,
    /// Arguments after the config file (e.g. `--sentinel`, user extras).
    pub(crate) args: Vec<String>,
    /// Password clients must AUTH with, if any.
    pub(crate) password: Option<SecretString>,
    /// How to reach it when it speaks TLS only; `None`: plain TCP.
    pub(crate) tls: Option<TlsClient>,
    /// Command prefix the binary is run through (e.g. `setpriv --pdeathsig
    /// KILL --`); empty to run it directly. It must `exec` the binary so the
    /// pid stays the one the readiness check compares with.
    pub(crate) launcher: Vec<OsString>,
    /// How long a start may take until PING is answered; `None` is 10 s. A server
    /// loading a large data set answers `LOADING` until it is done.
    pub(crate) start_timeout: Option<Duration>,
}

/// Paths a config renderer needs.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    /// The node directory (absolute).
    pub(crate) dir: &'a str,
    /// The log file (absolute).
    pub(crate) log: &'a str,
    /// The port to listen on.
    pub(crate) port: u16,
}

/// One supervised process. Killed and reaped on drop; its directory is
/// removed afterwards when owned.
#[derive(Debug)]
pub(crate) struct Process {
    spec: Spec,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
    stdio: PathBuf,
    /// Lengths of the log files when the current process was spawned, so
    /// errors only show what this run wrote.
    log_offsets: (u64, u64),
    child: Option<Child>,
    /// Declared last: dropped after the process is gone.
    dir: NodeDir,
}

impl Process {
    /// Writes the config rendered for the chosen port, spawns the process
    /// and waits until it answers PING. Picks a new port and retries when an
    /// automatically chosen one turned out to be taken.
    pub(crate) fn launch(
        spec: Spec,
        dir: NodeDir,
        ports: PortChoice,
        render: impl Fn(&Layout<'_>) -> ConfFile,
    ) -> Result<Self, LocalError> {
        let retry = !matches!(ports, PortChoice::Fixed(_));
        Self::launch_with(spec, dir, || ports.pick(), retry, render)
    }

    /// [`launch`](Self::launch) with an explicit port picker; `retry_taken`
    /// says whether a taken port may be replaced by the next pick.
    fn launch_with(
        spec: Spec,
        dir: NodeDir,
        mut pick: impl FnMut() -> Result<u16, LocalError>,
        retry_taken: bool,
        render: impl Fn(&Layout<'_>) -> ConfFile,
    ) -> Result<Self, LocalError> {
        let mut process = Self {
            conf: dir.path.join(spec.conf_name),
            log: dir.path.join(spec.log_name),
            stdio: dir.path.join(format!("{}.stdio.log", spec.program)),
            spec,
            port: 0,
            log_offsets: (0, 0),
            child: None,
            dir,
        };
        let mut attempt = 1;
        loop {
            process.port = pick()?;
            let log = format!("{}/{}", process.dir.utf8, process.spec.log_name);
            let layout = Layout {
                dir: &process.dir.utf8,
                log: &log,
                port: process.port,
            };
            render(&layout).write(&process.conf)?;
            match process.spawn().and_then(|()| process.wait_ready()) {
                Ok(()) => return Ok(process),
                Err(err) if err.is_address_in_use() && retry_taken && attempt < START_ATTEMPTS => {
                    process.kill()?;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The listening port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The node directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// The log file.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// The password clients authenticate with.
    pub(crate) fn password(&self) -> Option<&SecretString> {
        self.spec.password.as_ref()
    }

    /// The pid of the current process; `None` after `kill`/`stop`.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How clients reach it over TLS, when it speaks TLS only.
    pub(crate) fn tls(&self) -> Option<&TlsClient> {
        self.spec.tls.as_ref()
    }

    /// An authenticated connection to the process.
    pub(crate) fn connect(&self) -> Result<Connection, LocalError> {
        self.connect_with_timeout(IO_TIMEOUT)
    }

    fn connect_with_timeout(&self, io_timeout: Duration) -> Result<Connection, LocalError> {
        Connection::open_tls(LOOPBACK, self.port, self.password(), self.tls(), io_timeout)
    }

    /// Runs `redis-cli -h 127.0.0.1 -p <port> <args>` (with `--tls` and the
    /// certificates when the process speaks TLS only).
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, LocalError> {
        let port = self.port.to_string();
        let target = format!("{LOOPBACK}:{port}");
        let tls_args = self.tls().map(TlsClient::cli_args).unwrap_or_default();
        let mut conn_args = vec!["-h", LOOPBACK, "-p", &port];
        conn_args.extend(tls_args.iter().map(String::as_str));
        cli::run(&target, self.password(), &conn_args, args)
    }

    /// True while the process has not exited.
    pub(crate) fn is_running(&mut self) -> bool {
        self.exit_status().is_none() && self.child.is_some()
    }

    /// SIGKILL, then wait for (reap) the process. No-op when not running.
    pub(crate) fn kill(&mut self) -> Result<(), LocalError> {
        let pid = self.pid();
        if let Some(child) = self.child.as_mut() {
            let context = || format!("killing {} (pid {pid:?})", self.spec.program);
            let exited = child
                .try_wait()
                .map_err(|e| LocalError::io(context(), e))?
                .is_some();
            if !exited {
                child.kill().map_err(|e| LocalError::io(context(), e))?;
                child.wait().map_err(|e| LocalError::io(context(), e))?;
            }
        }
        self.child = None;
        Ok(())
    }

    /// Graceful stop: `SHUTDOWN` (or SIGTERM when that cannot be delivered),
    /// wait for the exit with a deadline, SIGKILL if it does not come.
    ///
    /// Redis refuses to exit while it writes its initial AOF (a replica
    /// right after a full resync, e.g. an old master just demoted by a
    /// failover), and does not retry by itself; so the request is repeated
    /// every [`SHUTDOWN_RETRY`] until the process exits or the deadline
    /// passes.
    pub(crate) fn stop(&mut self) -> Result<(), LocalError> {
        if !self.is_running() {
            self.child = None;
            return Ok(());
        }
        let mut asked = Instant::now();
        if !self.request_shutdown() {
            self.send_sigterm();
        }
        let what = format!("{} on port {} to exit", self.spec.program, self.port);
        let exited = poll_until(&what, STOP_TIMEOUT, || {
            if self.exit_status().is_some() {
                return Ok(());
            }
            if asked.elapsed() >= SHUTDOWN_RETRY {
                asked = Instant::now();
                if !self.request_shutdown() {
                    self.send_sigterm();
                }
            }
            Err(Pending::wait("still running"))
        });
        match exited {
            Ok(()) => {
                self.child = None;
                Ok(())
            }
            Err(_) => self.kill(),
        }
    }

    /// Starts the process again with the same config file, port and
    /// directory (stopping it gracefully first if it still runs).
    pub(crate) fn restart(&mut self) -> Result<(), LocalError> {
        self.stop()?;
        self.spawn()?;
        self.wait_ready()
    }

    fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn spawn(&mut self) -> Result<(), LocalError> {
        self.log_offsets = (file_len(&self.log), file_len(&self.stdio));
        let context = || {
            format!(
                "starting {} {}",
                self.spec.program,
                self.spec.binary.display()
            )
        };
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stdio)
            .map_err(|e| LocalError::io(context(), e))?;
        let stderr = stdout
            .try_clone()
            .map_err(|e| LocalError::io(context(), e))?;
        let mut command = match self.spec.launcher.split_first() {
            Some((program, prefix_args)) => {
                let mut command = Command::new(program);
                command.args(prefix_args).arg(&self.spec.binary);
                command
            }
            None => Command::new(&self.spec.binary),
        };
        let child = command
            .arg(&self.conf)
            .args(&self.spec.args)
            .current_dir(&self.dir.path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| LocalError::io(context(), e))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls until the process answers PING and `INFO server` reports our
    /// child's pid (so a foreign server that grabbed the port is never
    /// mistaken for ours).
    fn wait_ready(&mut self) -> Result<(), LocalError> {
        let what = format!(
            "{} on {LOOPBACK}:{} to answer PING",
            self.spec.program, self.port
        );
        let pid = self.pid().map(|p| p.to_string()).unwrap_or_default();
        let limit = self.spec.start_timeout.unwrap_or(START_TIMEOUT);
        let ready = poll_until(&what, limit, || {
            if let Some(status) = self.exit_status() {
                return Err(Pending::Abort(
                    self.start_failed(format!("exited with {status}")),
                ));
            }
            let mut conn = self.connect_with_timeout(PROBE_TIMEOUT)?;
            let pong = conn.call(&["PING"])?;
            if pong.text() != Some("PONG") {
                return Err(Pending::wait(format!("PING answered {pong:?}")));
            }
            let info = conn.call(&["INFO", "server"])?;
            let info = info.text().unwrap_or_default();
            match info_field(info, "process_id") {
                Some(found) if found == pid => Ok(()),
                other => Err(Pending::wait(format!(
                    "port answered by pid {other:?}, not ours"
                ))),
            }
        });
        ready.map_err(|err| match err {
            LocalError::Timeout { .. } => self.start_failed(err.to_string()),
            other => other,
        })
    }

    /// Sends SHUTDOWN; false when it could not be delivered or was refused.
    fn request_shutdown(&self) -> bool {
        let Ok(mut conn) = self.connect() else {
            return false;
        };
        // On success the server closes the connection without replying.
        !matches!(conn.call_raw(&["SHUTDOWN"]), Ok(Reply::Error(_)))
    }

    /// Best effort SIGTERM through the `kill` utility (no `unsafe` here).
    fn send_sigterm(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    fn start_failed(&self, reason: String) -> LocalError {
        let log = tail(&self.log, self.log_offsets.0);
        let stdio = tail(&self.stdio, self.log_offsets.1);
        let log_tail = match (log.is_empty(), stdio.is_empty()) {
            (true, true) => "(no output)".to_owned(),
            (false, true) => log,
            (true, false) => format!("(empty log; stdout/stderr follows)\n{stdio}"),
            (false, false) => format!("{log}\n--- stdout/stderr ---\n{stdio}"),
        };
        LocalError::StartFailed {
            program: self.spec.program,
            port: self.port,
            reason,
            log: self.log.clone(),
            log_tail,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Nothing useful can be done with an error here; the directory is
        // removed right after (when owned).
        let _ = self.kill();
    }
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The last lines written to `path` after byte `offset` (empty when the
/// file does not exist).
fn tail(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(offset))?;
        f.read_to_end(&mut bytes)
    });
    match read {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return String::new(),
        Err(err) => return format!("(could not read {}: {err})", path.display()),
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn spec() -> Spec {
        Spec {
            program: "redis-server",
            binary: crate::redis_server_binary().unwrap(),
            conf_name: "redis.conf",
            log_name: "redis.log",
            args: Vec::new(),
            password: None,
            tls: None,
            launcher: Vec::new(),
            start_timeout: None,
        }
    }

    fn render(layout: &Layout<'_>) -> ConfFile {
        let mut conf = ConfFile::new();
        conf.directive("port", &[&layout.port.to_string()])
            .directive("bind", &[LOOPBACK])
            .directive("dir", &[layout.dir])
            .directive("logfile", &[layout.log])
            .directive("save", &[""]);
        conf
    }

    #[test]
    fn an_auto_picked_port_taken_meanwhile_is_replaced() {
        let taken = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let mut candidates = vec![taken_port];
        let pick = || candidates.pop().map_or_else(free_port, Ok);
        let dir = NodeDir::new(None, "sessiondb-test-").unwrap();
        let mut process = Process::launch_with(spec(), dir, pick, true, render).unwrap();
        assert_ne!(process.port(), taken_port);
        assert!(process.is_running());
        let log = std::fs::read_to_string(process.log()).unwrap();
        assert!(log.contains("Address already in use"), "{log}");
    }

    #[test]
    fn a_fixed_port_is_not_replaced() {
        let taken = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let dir = NodeDir::new(None, "sessiondb-test-").unwrap();
        let err = Process::launch(spec(), dir, PortChoice::Fixed(taken_port), render).unwrap_err();
        assert!(err.is_address_in_use(), "{err}");
    }
}
