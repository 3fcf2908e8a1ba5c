//! [`App`]: the whole service in one value — metrics, the engine connected with them as
//! its observer, both listeners bound, and the optional in-process cleanup loop. `serve`,
//! the HTTP integration tests and the failover drills all start the service this way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sessiondb_engine::{CleanupOptions, ConnectionConfig, Engine, EngineConfig};
use tokio::sync::watch;

use crate::config::HttpConfig;
use crate::error::HttpError;
use crate::server::Server;
use sessiondb_metrics::Metrics;

/// What [`App::build`] needs.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Where Redis is.
    pub connection: ConnectionConfig,
    /// The engine's policies.
    pub engine: EngineConfig,
    /// Listeners, keys and limits.
    pub http: HttpConfig,
    /// Run a cleanup pass this often inside the process (`None`: cleanup runs
    /// elsewhere, e.g. as a CronJob). The lease in Redis keeps instances from cleaning
    /// at the same time.
    pub cleanup_every: Option<Duration>,
}

/// The service, connected and bound, ready to [`run_until`](App::run_until).
#[derive(Debug)]
pub struct App {
    server: Server,
    engine: Engine,
    metrics: Arc<Metrics>,
    cleanup_every: Option<Duration>,
}

impl App {
    /// Connects the engine (reporting to a new metrics registry) and binds both
    /// listeners (port 0 picks a free port; see [`port`](App::port)).
    pub async fn build(config: AppConfig) -> Result<App, HttpError> {
        let metrics = Arc::new(Metrics::new());
        let engine =
            Engine::connect_with_observer(&config.connection, config.engine, Some(metrics.clone()))
                .await
                .map_err(HttpError::Engine)?;
        let server = Server::bind(config.http, engine.clone(), metrics.clone()).await?;
        Ok(App {
            server,
            engine,
            metrics,
            cleanup_every: config.cleanup_every,
        })
    }

    /// The API listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The API listener's port.
    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.server.admin_addr()
    }

    /// The admin listener's port.
    pub fn admin_port(&self) -> u16 {
        self.server.admin_addr().port()
    }

    /// The engine behind the API.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The metrics registry the API and the engine report to.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Serves until `shutdown` resolves (then drains in-flight requests, see
    /// [`Server::run`]), runs the cleanup loop meanwhile when configured, and finally
    /// flushes lifecycle events and closes the engine's connections.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HttpError> {
        let (stop_cleanup, cleanup_stopped) = watch::channel(false);
        let cleanup = self.cleanup_every.map(|every| {
            tokio::spawn(cleanup_loop(
                self.engine.clone(),
                self.metrics.clone(),
                every,
                cleanup_stopped,
            ))
        });
        let marks = tokio::spawn(job_runs_loop(
            self.engine.clone(),
            self.metrics.clone(),
            stop_cleanup.subscribe(),
        ));
        let served = self.server.run(shutdown).await;
        let _ = stop_cleanup.send(true);
        if let Some(task) = cleanup {
            let _ = task.await;
        }
        let _ = marks.await;
        if let Err(error) = self.engine.shutdown().await {
            tracing::warn!(%error, "closing the session store's connections");
        }
        served
    }
}

/// How often the last-success gauges and the write node's role are read from Redis.
const JOB_RUNS_EVERY: Duration = Duration::from_secs(15);

/// Keeps the cleanup and backup last-success gauges current with what Redis records
/// (the jobs may run in other processes, e.g. CronJobs), and the role of the node the
/// API writes to (an API left on a demoted master shows `replica`).
async fn job_runs_loop(engine: Engine, metrics: Arc<Metrics>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(JOB_RUNS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tick.tick() => {}
        }
        match engine.last_job_runs().await {
            Ok(runs) => metrics.record_job_runs(&runs),
            Err(error) => tracing::debug!(%error, "reading the last job runs"),
        }
        metrics.set_redis_role(engine.redis_role().await.ok().as_deref());
    }
}

/// Runs a cleanup pass every `every` (the lease makes sure only one instance of a
/// deployment cleans at a time) and keeps the active-sessions gauge fresh.
async fn cleanup_loop(
    engine: Engine,
    metrics: Arc<Metrics>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tick.tick() => {}
        }
        let result = engine.cleanup(CleanupOptions::default()).await;
        match &result {
            Ok(report) if report.ran => tracing::info!(
                removed = report.removed,
                users_visited = report.users_visited,
                active_sessions = report.active_sessions,
                duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
                "cleanup pass finished"
            ),
            Ok(_) => tracing::debug!("cleanup pass skipped: another instance holds the lease"),
            Err(error) => tracing::warn!(%error, "cleanup pass failed"),
        }
        metrics.record_cleanup(&result);
        if let Ok(Some(n)) = result.as_ref().map(|r| r.ran.then_some(r.active_sessions)) {
            metrics.set_active_sessions(n);
        } else if let Ok(n) = engine.active_sessions().await {
            metrics.set_active_sessions(n);
        }
    }
}
