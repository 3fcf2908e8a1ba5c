//! [`DrillApp`]: the sessiondb engine and HTTP server running in this process
//! against the drill's Redis, with one generated API key, plus the connection and
//! engine settings the drills use.

use std::time::{Duration, Instant};

use sessiondb_engine::{ConnectionConfig, Durability, Engine, EngineConfig, TlsConfig, Topology};
use sessiondb_http::config::{ApiKeyConfig, HttpConfig, RateLimit, Scope};
use sessiondb_http::{generate_api_key, hash_api_key, App, AppConfig, HttpError};
use sessiondb_local::RedisServer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::ApiClient;
use crate::drill::DrillTopology;
use crate::DrillError;

/// The drill engine's key prefix; a secure topology's ACL roles are granted keys under
/// it.
pub const DRILL_KEY_PREFIX: &str = "drill";

/// The refresh grace window of the drills: the longest the specification allows, so
/// a refresh whose answer was lost in a failover can be retried after it.
pub const DRILL_REFRESH_GRACE: Duration = sessiondb_engine::MAX_REFRESH_GRACE;

/// Engine policies for a drill with `durability`: key prefix [`DRILL_KEY_PREFIX`] and a
/// [`DRILL_REFRESH_GRACE`] grace window (each load-generator session has its own user,
/// so the default per-user cap never evicts an acknowledged session); everything else
/// as in production.
pub fn engine_config(durability: Durability) -> EngineConfig {
    let mut config = EngineConfig {
        key_prefix: DRILL_KEY_PREFIX.to_owned(),
        durability,
        ..EngineConfig::default()
    };
    config.refresh.grace = DRILL_REFRESH_GRACE;
    config
}

/// Reaching a Sentinel-managed topology the way `sessiondb serve` does (command timeout
/// at its production default; the pool size depends on the durability, which the caller
/// sets: [`Durability::default_pool_size`](sessiondb_engine::Durability::default_pool_size)).
/// On a secure topology: as the `app` ACL user, to the Sentinels with the Sentinel
/// password, over TLS verifying the servers against the topology's CA and presenting its
/// client certificate.
pub fn sentinel_connection(topology: &DrillTopology) -> ConnectionConfig {
    let mut connection = ConnectionConfig::standalone("unused", 0);
    connection.topology = Topology::Sentinel {
        sentinels: topology.sentinel_addrs(),
        service_name: topology.service_name().to_owned(),
        sentinel_username: None,
        sentinel_password: topology.sentinel_password().cloned(),
    };
    if let Some((user, password)) = topology.app_login() {
        connection.username = Some(user.to_owned());
        connection.password = Some(password.clone());
    }
    connection.tls = topology.tls().map(|tls| {
        let files = tls.files();
        TlsConfig {
            ca_file: Some(files.ca_cert.clone()),
            client_cert_file: Some(files.client_cert.clone()),
            client_key_file: Some(files.client_key.clone()),
            server_name: None,
        }
    });
    connection
}

/// Reaching one standalone server.
pub fn standalone_connection(server: &RedisServer) -> ConnectionConfig {
    let (host, port) = server.addr();
    ConnectionConfig::standalone(host, port)
}

/// The engine and HTTP server running in-process on free loopback ports. Dropping
/// it stops the server.
#[derive(Debug)]
pub struct DrillApp {
    /// A client holding an API key with every scope.
    api: ApiClient,
    /// The engine the server uses (for direct checks).
    engine: Engine,
    /// Fires the server's graceful shutdown.
    shutdown: Option<oneshot::Sender<()>>,
    /// The server task.
    server: Option<JoinHandle<Result<(), HttpError>>>,
}

impl DrillApp {
    /// Connects the engine, binds the server on `127.0.0.1:0` (API and admin) with a
    /// freshly generated API key, and starts serving. The API client gives every
    /// request at most `client_timeout`.
    ///
    /// The refresh rate limit is raised far above anything a drill sends: drills
    /// measure failover, not rate limiting.
    pub async fn start(
        connection: &ConnectionConfig,
        engine_config: EngineConfig,
        client_timeout: Duration,
    ) -> Result<Self, DrillError> {
        let key = generate_api_key();
        let http = HttpConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            admin_listen: ([127, 0, 0, 1], 0).into(),
            api_keys: vec![ApiKeyConfig {
                name: "drill".to_owned(),
                sha256_hex: hash_api_key(&key),
                scopes: vec![
                    Scope::SessionsRead,
                    Scope::SessionsWrite,
                    Scope::SessionsAdmin,
                ],
            }],
            refresh_rate: RateLimit {
                per_minute: 1_000_000,
                burst: 100_000,
            },
            shutdown_grace: Duration::from_secs(5),
            ..HttpConfig::default()
        };
        let app = App::build(AppConfig {
            connection: connection.clone(),
            engine: engine_config,
            http,
            cleanup_every: None,
        })
        .await?;
        let api = ApiClient::new(
            format!("http://{}", app.local_addr()),
            format!("http://{}", app.admin_addr()),
            key,
            client_timeout,
        )?;
        let engine = app.engine().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Ok(Self {
            api,
            engine,
            shutdown: Some(tx),
            server: Some(handle),
        })
    }

    /// A client with an API key holding every scope.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// The engine behind the server.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Polls `/readyz` until it answers 200, for at most `deadline`.
    pub async fn wait_ready(&self, deadline: Duration) -> Result<(), DrillError> {
        let started = Instant::now();
        loop {
            let answer = self.api.readyz().await;
            if answer.outcome.is_success() {
                return Ok(());
            }
            if started.elapsed() >= deadline {
                return Err(DrillError::Timeout {
                    what: "/readyz to answer 200".to_owned(),
                    waited: started.elapsed(),
                    last: format!("{:?}", answer.outcome),
                });
            }
            tokio::time::sleep(crate::POLL_INTERVAL).await;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) -> Result<(), DrillError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        Ok(())
    }
}

impl Drop for DrillApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
