//! The embedded default: with no Redis configured, `serve` starts its own
//! `redis-server` (loopback only, AOF on, a fresh random password, data under
//! `embedded.data_dir`), restarts it if it dies, and stops it on exit.
//!
//! One dedicated thread owns the server: it starts it, checks it, restarts it and stops
//! it. The server runs under `setpriv --pdeathsig KILL`, which ties its life to that
//! thread, so even a `kill -9` of sessiondb leaves no redis-server behind.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;
use sessiondb_engine::ConnectionConfig;
use sessiondb_local::{parent_death_launcher, LocalError, RedisOptions, RedisServer};
use sessiondb_settings::Settings;
use tokio::sync::oneshot;

/// How often the owning thread checks that redis-server is alive.
const SUPERVISE_EVERY: Duration = Duration::from_millis(500);

/// A supervised local redis-server.
#[derive(Debug)]
pub(crate) struct Embedded {
    /// Where it listens.
    addr: (String, u16),
    /// Its password (random per start; never printed).
    password: SecretString,
    /// Its data directory (absolute).
    data_dir: PathBuf,
    /// Asks the owning thread to stop the server and return.
    stop: mpsc::Sender<()>,
    /// The owning thread.
    owner: JoinHandle<()>,
}

impl Embedded {
    /// Starts redis-server on its owning thread and waits until it answers.
    pub(crate) async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let embedded = &settings.embedded;
        let data_dir = data_dir(settings)?;
        let password = SecretString::from(sessiondb_http::generate_api_key());
        let options = RedisOptions {
            password: Some(password.clone()),
            appendonly: true,
            dir: Some(data_dir.clone()),
            port: (embedded.port != 0).then_some(embedded.port),
            binary: embedded.redis_server.clone(),
            launcher: parent_death_launcher().unwrap_or_else(|error| {
                tracing::warn!(%error, "redis-server could outlive sessiondb if sessiondb is killed");
                Vec::new()
            }),
            ..RedisOptions::default()
        };
        let (started, ready) = oneshot::channel();
        let (stop, stopped) = mpsc::channel();
        let owner = std::thread::Builder::new()
            .name("embedded-redis".into())
            .spawn(move || own(options, started, &stopped))
            .context("starting the embedded redis-server thread")?;
        let addr = ready
            .await
            .context("the embedded redis-server thread ended early")?
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e}\n\nsessiondb serve starts its own redis-server when no Redis is configured. \
                     Either install redis-server, or point sessiondb at an existing Redis with \
                     REDIS_HOST/REDIS_PORT (or SESSIONDB_REDIS__URL=redis://host:port)."
                )
            })?;
        // Redis rewrites its config with mode 0644; the directory keeps it private.
        sessiondb_local::check_private_dir(&data_dir)?;
        tracing::info!(port = addr.1, data_dir = %data_dir.display(), "embedded redis-server started");
        Ok(Self {
            addr,
            password,
            data_dir,
            stop,
            owner,
        })
    }

    /// How the engine reaches the embedded server.
    pub(crate) fn connection(&self) -> ConnectionConfig {
        let mut connection = ConnectionConfig::standalone(self.addr.0.clone(), self.addr.1);
        connection.password = Some(self.password.clone());
        connection
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops redis-server gracefully (so the AOF is flushed) and waits for it.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let owner = self.owner;
        tokio::task::spawn_blocking(move || owner.join())
            .await
            .context("waiting for the embedded redis-server thread")?
            .map_err(|_| anyhow::anyhow!("the embedded redis-server thread panicked"))?;
        tracing::info!("embedded redis-server stopped");
        Ok(())
    }
}

/// The owning thread: start, then restart whenever found dead, until asked to stop.
fn own(
    options: RedisOptions,
    started: oneshot::Sender<Result<(String, u16), LocalError>>,
    stop: &mpsc::Receiver<()>,
) {
    let mut server = match RedisServer::start(options) {
        Ok(server) => server,
        Err(error) => {
            let _ = started.send(Err(error));
            return;
        }
    };
    if started.send(Ok(server.addr())).is_err() {
        return;
    }
    // A stop message, or sessiondb dropping the sender, ends the loop.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(SUPERVISE_EVERY) {
        if !server.is_running() {
            match server.restart() {
                Ok(()) => tracing::warn!("embedded redis-server had exited; restarted it"),
                Err(error) => {
                    tracing::error!(%error, "embedded redis-server is down and could not be restarted");
                }
            }
        }
    }
    if let Err(error) = server.stop() {
        tracing::warn!(%error, "stopping the embedded redis-server");
    }
}

/// `embedded.data_dir`, created owner-only (0700) if missing and tightened if it exists,
/// as an absolute path. It holds Redis's config (with its password), its data and the
/// development API key that `serve --local` shares with the embedded default.
pub(crate) fn data_dir(settings: &Settings) -> anyhow::Result<PathBuf> {
    let dir = &settings.embedded.data_dir;
    sessiondb_local::ensure_private_dir(dir)
        .with_context(|| format!("preparing the embedded data directory {}", dir.display()))?;
    dir.canonicalize()
        .with_context(|| format!("resolving the embedded data directory {}", dir.display()))
}

/// The API key for trying the embedded default (and `serve --local`): created once
/// (0600) in the data directory, reused on later starts.
pub(crate) fn dev_api_key(data_dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let path = data_dir.join("api-key");
    match std::fs::read_to_string(&path) {
        Ok(key) if !key.trim().is_empty() => return Ok((key.trim().to_owned(), path)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let key = sessiondb_http::generate_api_key();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{key}").with_context(|| format!("writing {}", path.display()))?;
    Ok((key, path))
}
