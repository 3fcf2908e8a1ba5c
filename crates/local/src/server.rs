//! A single `redis-server` process: [`RedisOptions`] and the [`RedisServer`]
//! guard.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::conf::ConfFile;
use crate::process::{Layout, NodeDir, PortChoice, Process, Spec, LOOPBACK};
use crate::{redis_server_binary, LocalError, TlsFiles};

/// How to start a [`RedisServer`].
///
/// The default is a standalone server without password and without
/// persistence, on a free port, in a temporary directory.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Sets `requirepass`, and `masterauth` so the node can replicate from
    /// (or, after a failover, become a replica of) nodes with the same
    /// password.
    pub password: Option<SecretString>,
    /// Turns sessiondb's persistence plan on: the append-only file fsynced every
    /// second, RDB preamble, timestamp annotations, no periodic RDB snapshots (see
    /// `docs/persistence.md`); otherwise nothing is persisted (`save ""`).
    pub appendonly: bool,
    /// Starts the server as a replica of this `(host, port)`.
    pub replica_of: Option<(String, u16)>,
    /// `cluster-enabled yes`, with `cluster-config-file` in the node's
    /// directory. An automatically picked port then leaves room for the
    /// cluster bus (`port + 10000`).
    pub cluster: bool,
    /// Appended to the command line after the config file, e.g.
    /// `["--maxmemory", "10mb"]`. Not for secrets: use `password`, as
    /// command lines are visible to other local users and appear in `Debug`.
    pub extra_args: Vec<String>,
    /// The data directory; `None` creates a temporary directory that is
    /// deleted when the guard is dropped. A given directory is kept.
    pub dir: Option<PathBuf>,
    /// The port; `None` picks a free loopback port (and retries with
    /// another one if it gets taken before the server binds it).
    pub port: Option<u16>,
    /// The `redis-server` executable; `None` finds it on `PATH`.
    pub binary: Option<PathBuf>,
    /// A command prefix the server is run through, e.g.
    /// [`parent_death_launcher`](crate::parent_death_launcher) so the kernel
    /// kills the server when the thread that started it dies. Empty (the
    /// default) runs the binary directly. The prefix must `exec` the binary
    /// (keeping the pid), as `setpriv`, `env` or `nice` do.
    pub launcher: Vec<OsString>,
    /// An ACL users file (`aclfile`). With [`RedisOptions::password`], it must keep the
    /// `default` user with that password, which the readiness probe uses.
    pub acl_file: Option<PathBuf>,
    /// The user and password a replica logs in to its master with (`masteruser`,
    /// `masterauth`); `None` uses [`RedisOptions::password`] as the default user.
    pub master_user: Option<(String, SecretString)>,
    /// How long the start may take until the server answers PING; `None` is 10 s. A
    /// server loading a large data set (an append-only file) answers `LOADING` until
    /// it is done.
    pub start_timeout: Option<Duration>,
    /// Serves TLS only, with these certificates: the plaintext port is off, clients
    /// must present a certificate signed by the CA, and replication runs over TLS.
    /// The guard's probes and [`RedisServer::cli`] then use TLS too.
    pub tls: Option<TlsFiles>,
}

/// A running `redis-server` bound to 127.0.0.1.
///
/// Its config file (`redis.conf`, mode 0600), log (`redis.log`) and data
/// live in [`RedisServer::dir`]. Dropping the guard kills and reaps the
/// process (also while a panicking test unwinds) and then deletes the
/// directory if the guard created it.
#[derive(Debug)]
pub struct RedisServer {
    process: Process,
}

impl RedisServer {
    /// Starts a server and waits (up to 10 s, or `start_timeout`) until it answers
    /// PING.
    ///
    /// The server listens on 127.0.0.1 only, does not daemonize and logs to
    /// `redis.log` in its directory. On failure the error includes the tail
    /// of that log.
    pub fn start(opts: RedisOptions) -> Result<Self, LocalError> {
        let RedisOptions {
            password,
            appendonly,
            replica_of,
            cluster,
            extra_args,
            dir,
            port,
            binary,
            launcher,
            acl_file,
            master_user,
            start_timeout,
            tls,
        } = opts;
        if cluster && replica_of.is_some() {
            return Err(LocalError::InvalidOptions(
                "cluster nodes cannot use replica_of; use CLUSTER REPLICATE instead".to_owned(),
            ));
        }
        let settings = Settings {
            password: password.as_ref(),
            appendonly,
            replica_of: replica_of.as_ref(),
            cluster,
            acl_file: acl_file.as_deref(),
            master_user: master_user.as_ref(),
            tls: tls.as_ref(),
        };
        let spec = Spec {
            program: "redis-server",
            binary: match binary {
                Some(path) => path,
                None => redis_server_binary()?,
            },
            conf_name: "redis.conf",
            log_name: "redis.log",
            args: extra_args,
            password: password.clone(),
            tls: tls.as_ref().map(TlsFiles::client).transpose()?,
            launcher,
            start_timeout,
        };
        let dir = NodeDir::new(dir, "sessiondb-redis-")?;
        let ports = PortChoice::from_option(port, cluster);
        let process = Process::launch(spec, dir, ports, |layout| render(&settings, layout))?;
        Ok(Self { process })
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

    /// The data directory (config, log, AOF, cluster config).
    pub fn dir(&self) -> &Path {
        self.process.dir()
    }

    /// The server log file.
    pub fn log_file(&self) -> &Path {
        self.process.log()
    }

    /// The password clients must use, if any.
    pub fn password(&self) -> Option<&SecretString> {
        self.process.password()
    }

    /// Runs `redis-cli -h 127.0.0.1 -p <port> <args>` and returns its
    /// trimmed stdout. The password is passed in the `REDISCLI_AUTH`
    /// environment variable, never on the command line.
    ///
    /// Fails when `redis-cli` fails or its output starts with a Redis error
    /// code (`ERR`, `(error)`, `NOAUTH`, `WRONGTYPE`, ...).
    pub fn cli(&self, args: &[&str]) -> Result<String, LocalError> {
        self.process.cli(args)
    }

    /// Kills the process with SIGKILL and reaps it (no graceful shutdown:
    /// simulates a crash). No-op when it is not running.
    pub fn kill(&mut self) -> Result<(), LocalError> {
        self.process.kill()
    }

    /// Stops gracefully: `SHUTDOWN` (SIGTERM if that cannot be delivered),
    /// waits for the exit with a deadline, then SIGKILLs.
    pub fn stop(&mut self) -> Result<(), LocalError> {
        self.process.stop()
    }

    /// Starts the server again on the same port with the same directory
    /// and config file (so AOF data, and any `CONFIG REWRITE` done at
    /// runtime, survive), stopping it first if it is still running; waits
    /// until it answers PING.
    pub fn restart(&mut self) -> Result<(), LocalError> {
        self.process.restart()
    }

    /// True while the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// The underlying process, for crate-internal probes.
    pub(crate) fn process(&self) -> &Process {
        &self.process
    }
}

/// The parts of [`RedisOptions`] that go into `redis.conf`.
#[derive(Debug)]
struct Settings<'a> {
    password: Option<&'a SecretString>,
    appendonly: bool,
    replica_of: Option<&'a (String, u16)>,
    cluster: bool,
    acl_file: Option<&'a Path>,
    master_user: Option<&'a (String, SecretString)>,
    tls: Option<&'a TlsFiles>,
}

/// The `redis.conf` for `opts` at `layout`.
fn render(opts: &Settings<'_>, layout: &Layout<'_>) -> ConfFile {
    let mut conf = ConfFile::new();
    match opts.tls {
        Some(tls) => tls.tls_only_directives(&mut conf, layout.port),
        None => {
            conf.directive("port", &[&layout.port.to_string()]);
        }
    }
    conf.directive("bind", &[LOOPBACK])
        .directive("protected-mode", &["yes"])
        .directive("daemonize", &["no"])
        .directive("dir", &[layout.dir])
        .directive("logfile", &[layout.log])
        .directive("replica-announce-ip", &[LOOPBACK])
        // Start full syncs right away instead of waiting 5 s for more replicas.
        .directive("repl-diskless-sync-delay", &["0"]);
    if opts.appendonly {
        // sessiondb's persistence plan (docs/persistence.md): the append-only file alone,
        // fsynced every second, with an RDB preamble on rewrite and timestamps for
        // point-in-time recovery; no periodic RDB snapshots, whose forks stall requests
        // as the data grows.
        conf.directive("appendonly", &["yes"])
            .directive("appendfsync", &["everysec"])
            .directive("save", &[""])
            .directive("aof-use-rdb-preamble", &["yes"])
            .directive("aof-timestamp-enabled", &["yes"])
            .directive("auto-aof-rewrite-percentage", &["100"])
            .directive("auto-aof-rewrite-min-size", &["64mb"]);
    } else {
        conf.directive("appendonly", &["no"])
            .directive("save", &[""]);
    }
    if let Some(password) = opts.password {
        conf.directive("requirepass", &[password.expose_secret()]);
    }
    match (opts.master_user, opts.password) {
        (Some((user, password)), _) => {
            conf.directive("masteruser", &[user])
                .directive("masterauth", &[password.expose_secret()]);
        }
        (None, Some(password)) => {
            conf.directive("masterauth", &[password.expose_secret()]);
        }
        (None, None) => {}
    }
    if let Some(path) = opts.acl_file {
        conf.directive("aclfile", &[&path.display().to_string()]);
    }
    if let Some((host, port)) = opts.replica_of {
        conf.directive("replicaof", &[host, &port.to_string()]);
    }
    if opts.cluster {
        let nodes_conf = format!("{}/nodes.conf", layout.dir);
        conf.directive("cluster-enabled", &["yes"])
            .directive("cluster-config-file", &[&nodes_conf])
            .directive("cluster-node-timeout", &["5000"]);
    }
    conf
}
