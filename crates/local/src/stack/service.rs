//! Running one monitoring process of a stack (exporter, Prometheus,
//! Alertmanager) through the parent-death launcher: start, readiness over
//! HTTP, liveness, restart with backoff, graceful stop.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::monitoring::ServiceSpec;
use super::procfs;
use super::StackError;
use crate::poll::{poll_until, Pending};
use crate::process::LOOPBACK;
use crate::LocalError;

/// How long a process gets to answer its readiness path.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a process gets to exit after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// First pause before retrying a failed restart; doubles up to 30 s.
const FIRST_RETRY_BACKOFF: Duration = Duration::from_secs(1);
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Lines of the log shown when a start fails.
const LOG_TAIL_LINES: usize = 15;

/// What to run.
#[derive(Debug)]
pub(crate) struct ServiceCommand {
    /// The executable (found on `PATH`).
    pub(crate) binary: PathBuf,
    /// Its arguments (no secrets).
    pub(crate) args: Vec<String>,
    /// Environment variables, for secrets (the exporter's password).
    pub(crate) secret_env: Vec<(&'static str, SecretString)>,
    /// Plain environment variables.
    pub(crate) env: Vec<(&'static str, String)>,
    /// Working directory (the service's own directory).
    pub(crate) dir: PathBuf,
    /// Where stdout and stderr go.
    pub(crate) log: PathBuf,
    /// The parent-death launcher prefix.
    pub(crate) launcher: Vec<OsString>,
}

/// One supervised monitoring process.
#[derive(Debug)]
pub(crate) struct Service {
    pub(crate) spec: ServiceSpec,
    command: ServiceCommand,
    child: Option<Child>,
    /// When a failed restart may be tried again, and the current backoff.
    retry: Option<(Instant, Duration)>,
}

impl Service {
    /// Starts the process and waits until it is ready.
    pub(crate) fn start(spec: ServiceSpec, command: ServiceCommand) -> Result<Self, StackError> {
        let mut service = Self {
            spec,
            command,
            child: None,
            retry: None,
        };
        service.spawn()?;
        service.wait_ready()?;
        Ok(service)
    }

    /// The pid of the running process.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Starts the process again when it has exited (not before its retry
    /// time after a failed attempt). `None` when nothing was done,
    /// `Some(Ok(pid))` after a restart, `Some(Err((error, retry_in)))` when
    /// it failed.
    pub(crate) fn revive(&mut self) -> Option<Result<Option<u32>, (StackError, Duration)>> {
        if self.is_running() {
            self.retry = None;
            return None;
        }
        if self.retry.is_some_and(|(at, _)| Instant::now() < at) {
            return None;
        }
        let _ = self.kill();
        match self.spawn().and_then(|()| self.wait_ready()) {
            Ok(()) => {
                self.retry = None;
                Some(Ok(self.pid()))
            }
            Err(err) => {
                let _ = self.kill();
                let backoff = self
                    .retry
                    .map_or(FIRST_RETRY_BACKOFF, |(_, b)| (b * 2).min(MAX_RETRY_BACKOFF));
                self.retry = Some((Instant::now() + backoff, backoff));
                Some(Err((err, backoff)))
            }
        }
    }

    fn spawn(&mut self) -> Result<(), StackError> {
        let context = || format!("starting {} ({})", self.spec.name, self.spec.binary());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.command.log)
            .map_err(|e| StackError::io(context(), e))?;
        let stderr = log.try_clone().map_err(|e| StackError::io(context(), e))?;
        let mut command = match self.command.launcher.split_first() {
            Some((program, prefix)) => {
                let mut command = Command::new(program);
                command.args(prefix).arg(&self.command.binary);
                command
            }
            None => Command::new(&self.command.binary),
        };
        command
            .args(&self.command.args)
            .current_dir(&self.command.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        for (name, value) in &self.command.env {
            command.env(name, value);
        }
        for (name, value) in &self.command.secret_env {
            command.env(name, value.expose_secret());
        }
        self.child = Some(command.spawn().map_err(|e| StackError::io(context(), e))?);
        Ok(())
    }

    /// Polls the readiness path until it answers 200; fails early (with the
    /// end of the log) when the process exits.
    fn wait_ready(&mut self) -> Result<(), StackError> {
        let what = format!(
            "{} on {LOOPBACK}:{} to answer {}",
            self.spec.name,
            self.spec.port,
            self.spec.ready_path()
        );
        let (port, path) = (self.spec.port, self.spec.ready_path());
        let result = poll_until(&what, START_TIMEOUT, || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                return Err(Pending::Abort(
                    self.start_failed(format!("exited with {status}")),
                ));
            }
            match http_status(port, path) {
                Ok(200) => Ok(()),
                Ok(status) => Err(Pending::wait(format!("{path} answered {status}"))),
                Err(e) => Err(Pending::wait(e.to_string())),
            }
        });
        result.map_err(|err| match err {
            LocalError::Timeout { .. } => self.start_failed(err.to_string()).into(),
            other => other.into(),
        })
    }

    fn start_failed(&self, reason: String) -> LocalError {
        LocalError::StartFailed {
            program: self.spec.binary(),
            port: self.spec.port,
            reason,
            log: self.command.log.clone(),
            log_tail: tail(&self.command.log),
        }
    }

    /// SIGTERM, wait, SIGKILL when it does not exit in time.
    pub(crate) fn stop(&mut self) -> Result<(), StackError> {
        if !self.is_running() {
            return self.kill();
        }
        if let Some(pid) = self.pid() {
            procfs::send_signal(pid, "TERM")?;
        }
        let what = format!("{} to exit", self.spec.name);
        let exited = poll_until(&what, STOP_TIMEOUT, || {
            if self.is_running() {
                Err(Pending::wait("still running"))
            } else {
                Ok(())
            }
        });
        if exited.is_err() {
            return self.kill();
        }
        self.child = None;
        Ok(())
    }

    fn kill(&mut self) -> Result<(), StackError> {
        if let Some(mut child) = self.child.take() {
            let context = || format!("killing {}", self.spec.name);
            if matches!(child.try_wait(), Ok(None)) {
                child.kill().map_err(|e| StackError::io(context(), e))?;
            }
            child.wait().map_err(|e| StackError::io(context(), e))?;
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The status code of `GET path` on `127.0.0.1:port` (HTTP/1.0).
pub(crate) fn http_status(port: u16, path: &str) -> std::io::Result<u16> {
    let addr = (std::net::Ipv4Addr::LOCALHOST, port).into();
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {LOOPBACK}\r\n\r\n")?;
    let mut head = [0_u8; 32];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    let text = String::from_utf8_lossy(&head[..read]);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:?}")))
}

/// The last lines of `path`.
fn tail(path: &std::path::Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    match lines[start..].join("\n") {
        empty if empty.is_empty() => "(no output)".to_owned(),
        text => text,
    }
}
