//! `sessiondb serve`: the HTTP API, the in-process cleanup loop and, with no Redis
//! configured, the embedded redis-server.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sessiondb_engine::{CleanupOptions, Engine};
use sessiondb_http::config::{ApiKeyConfig, Scope};
use sessiondb_http::{Metrics, Server};
use sessiondb_settings::Settings;
use tokio::sync::watch;

use crate::embedded::{self, Embedded};

pub(crate) async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let metrics = Arc::new(Metrics::new());
    let mut http = settings.http_config();
    let embedded = match settings.connection_config() {
        Some(_) => None,
        None => Some(Embedded::start(&settings).await?),
    };
    let connection = match (&embedded, settings.connection_config()) {
        (Some(e), _) => e.connection(),
        (None, Some(c)) => c,
        (None, None) => unreachable!("embedded mode starts a server"),
    };
    let mut dev_key = None;
    if let (Some(e), true) = (&embedded, http.api_keys.is_empty()) {
        let (key, path) = embedded::dev_api_key(e.data_dir())?;
        http.api_keys.push(ApiKeyConfig {
            name: "embedded-dev".into(),
            sha256_hex: sessiondb_http::hash_api_key(&key),
            scopes: vec![
                Scope::SessionsRead,
                Scope::SessionsWrite,
                Scope::SessionsAdmin,
            ],
        });
        dev_key = Some((key, path));
    }

    let engine =
        Engine::connect_with_observer(&connection, settings.engine_config(), Some(metrics.clone()))
            .await
            .context("connecting to Redis")?;
    let server = Server::bind(http, engine.clone(), metrics.clone())
        .await
        .context("binding the listeners")?;
    println!("sessiondb {} listening", env!("CARGO_PKG_VERSION"));
    println!(
        "  API:   http://{}/v1  (OpenAPI: /v1/openapi.json)",
        server.local_addr()
    );
    println!(
        "  admin: http://{}  (/healthz /readyz /metrics)",
        server.admin_addr()
    );
    if let Some((key, path)) = &dev_key {
        println!(
            "  embedded redis-server, data in {}",
            embedded_dir(&embedded)
        );
        println!(
            "  API key for trying it (all scopes; saved in {}):",
            path.display()
        );
        println!("    {key}");
    }

    let (stop_cleanup, cleanup_stopped) = watch::channel(false);
    let cleanup = settings.cleanup.enabled.then(|| {
        let interval = Duration::from_secs(settings.cleanup.interval_seconds);
        tokio::spawn(cleanup_loop(
            engine.clone(),
            metrics.clone(),
            interval,
            cleanup_stopped,
        ))
    });

    let served = server.run(shutdown_signal()).await;
    let _ = stop_cleanup.send(true);
    if let Some(task) = cleanup {
        let _ = task.await;
    }
    engine.shutdown().await.ok();
    if let Some(e) = embedded {
        e.stop().await?;
    }
    served.context("serving HTTP")?;
    Ok(ExitCode::SUCCESS)
}

fn embedded_dir(embedded: &Option<Embedded>) -> String {
    embedded
        .as_ref()
        .map_or_else(String::new, |e| e.data_dir().display().to_string())
}

/// Runs a cleanup pass every `interval` (the lease makes sure only one instance of
/// a deployment cleans at a time) and keeps the active-sessions gauge fresh.
async fn cleanup_loop(
    engine: Engine,
    metrics: Arc<Metrics>,
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
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
                duration_ms = report.duration.as_millis() as u64,
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

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
