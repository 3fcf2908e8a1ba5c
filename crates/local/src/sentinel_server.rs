//! A single `redis-sentinel` process: the [`SentinelServer`] guard.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::binaries::sentinel_launcher;
use crate::conf::ConfFile;
use crate::process::{Layout, NodeDir, PortChoice, Process, Spec, LOOPBACK};
use crate::{LocalError, TlsFiles};

/// What one sentinel monitors, and how.
#[derive(Debug)]
pub(crate) struct SentinelConfig<'a> {
    pub(crate) service_name: &'a str,
    pub(crate) master: (&'a str, u16),
    pub(crate) quorum: usize,
    pub(crate) down_after_ms: u64,
    pub(crate) failover_timeout_ms: u64,
    /// Password of the data nodes (`sentinel auth-pass`).
    pub(crate) data_password: Option<&'a SecretString>,
    /// The ACL user the sentinels log in to the data nodes as (`sentinel auth-user`);
    /// `None`: the default user.
    pub(crate) data_user: Option<&'a str>,
    /// Password of the sentinels themselves (`requirepass`).
    pub(crate) sentinel_password: Option<&'a SecretString>,
    /// Command prefix the sentinel is run through (empty: none).
    pub(crate) launcher: &'a [OsString],
    /// The directory for `sentinel.conf` and the log; `None` for a
    /// temporary one.
    pub(crate) dir: Option<PathBuf>,
    /// A fixed port; `None` picks a free one.
    pub(crate) port: Option<u16>,
    /// Serve TLS only and reach the data nodes and other sentinels over TLS.
    pub(crate) tls: Option<&'a TlsFiles>,
}

/// A running `redis-sentinel` bound to 127.0.0.1, usually part of a
/// [`crate::SentinelTopology`].
///
/// Its config (`sentinel.conf`, which Sentinel rewrites as it learns the
/// topology) and log (`sentinel.log`) live in [`SentinelServer::dir`].
/// Dropping the guard kills and reaps the process and deletes its
/// temporary directory.
#[derive(Debug)]
pub struct SentinelServer {
    process: Process,
}

impl SentinelServer {
    /// Starts a sentinel monitoring `config.master` and waits until it
    /// answers PING.
    pub(crate) fn start(config: &SentinelConfig<'_>) -> Result<Self, LocalError> {
        let launcher = sentinel_launcher()?;
        let spec = Spec {
            program: "redis-sentinel",
            binary: launcher.binary,
            conf_name: "sentinel.conf",
            log_name: "sentinel.log",
            args: launcher.args_after_conf,
            password: config.sentinel_password.cloned(),
            tls: config.tls.map(TlsFiles::client).transpose()?,
            launcher: config.launcher.to_vec(),
            start_timeout: None,
        };
        let dir = NodeDir::new(config.dir.clone(), "sessiondb-sentinel-")?;
        let ports = PortChoice::from_option(config.port, false);
        let process = Process::launch(spec, dir, ports, |l| render(config, l))?;
        Ok(Self { process })
    }

    /// Shortens internal timers (see
    /// [`crate::SentinelOptions::fast_timers`]).
    pub(crate) fn speed_up_timers(&self) -> Result<(), LocalError> {
        let args = [
            "SENTINEL",
            "DEBUG",
            "info-period",
            "1000",
            "publish-period",
            "500",
        ];
        self.process.connect()?.call(&args)?;
        Ok(())
    }

    /// The host it listens on: always `127.0.0.1`.
    pub fn host(&self) -> &str {
        LOOPBACK
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `(host, port)`.
    pub fn addr(&self) -> (String, u16) {
        (LOOPBACK.to_owned(), self.port())
    }

    /// The pid of the process this guard last spawned; `None` after
    /// [`kill`](Self::kill) or [`stop`](Self::stop). (A process that died on
    /// its own keeps its pid here; see [`is_running`](Self::is_running).)
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The directory holding `sentinel.conf` and `sentinel.log`.
    pub fn dir(&self) -> &Path {
        self.process.dir()
    }

    /// The sentinel log file.
    pub fn log_file(&self) -> &Path {
        self.process.log()
    }

    /// The password clients of this sentinel must use, if any.
    pub fn password(&self) -> Option<&SecretString> {
        self.process.password()
    }

    /// Runs `redis-cli -h 127.0.0.1 -p <port> <args>` against the sentinel
    /// (password via `REDISCLI_AUTH`); see [`crate::RedisServer::cli`].
    pub fn cli(&self, args: &[&str]) -> Result<String, LocalError> {
        self.process.cli(args)
    }

    /// SIGKILL and reap. No-op when not running.
    pub fn kill(&mut self) -> Result<(), LocalError> {
        self.process.kill()
    }

    /// Graceful stop with a deadline, then SIGKILL.
    pub fn stop(&mut self) -> Result<(), LocalError> {
        self.process.stop()
    }

    /// Starts the sentinel again on the same port with its (rewritten)
    /// config file; waits until it answers PING.
    pub fn restart(&mut self) -> Result<(), LocalError> {
        self.process.restart()
    }

    /// True while the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }
}

fn render(config: &SentinelConfig<'_>, layout: &Layout<'_>) -> ConfFile {
    let name = config.service_name;
    let (master_host, master_port) = config.master;
    let mut conf = ConfFile::new();
    match config.tls {
        Some(tls) => tls.tls_only_directives(&mut conf, layout.port),
        None => {
            conf.directive("port", &[&layout.port.to_string()]);
        }
    }
    conf.directive("bind", &[LOOPBACK])
        .directive("daemonize", &["no"])
        .directive("dir", &[layout.dir])
        .directive("logfile", &[layout.log])
        .directive("sentinel", &["resolve-hostnames", "no"])
        .directive("sentinel", &["announce-ip", LOOPBACK])
        .directive(
            "sentinel",
            &[
                "monitor",
                name,
                master_host,
                &master_port.to_string(),
                &config.quorum.to_string(),
            ],
        )
        .directive(
            "sentinel",
            &[
                "down-after-milliseconds",
                name,
                &config.down_after_ms.to_string(),
            ],
        )
        .directive(
            "sentinel",
            &[
                "failover-timeout",
                name,
                &config.failover_timeout_ms.to_string(),
            ],
        )
        .directive("sentinel", &["parallel-syncs", name, "1"]);
    if let Some(user) = config.data_user {
        conf.directive("sentinel", &["auth-user", name, user]);
    }
    if let Some(password) = config.data_password {
        conf.directive("sentinel", &["auth-pass", name, password.expose_secret()]);
    }
    if let Some(password) = config.sentinel_password {
        conf.directive("requirepass", &[password.expose_secret()]);
    }
    conf
}
