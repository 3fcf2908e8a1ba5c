//! `sessiondb serve`: the HTTP API, the in-process cleanup loop and, with no Redis
//! configured, the embedded redis-server (`embedded.rs`). With `--local`, the settings
//! point at a `sessiondb local` stack (`stack_env.rs`).

pub(crate) mod embedded;
pub(crate) mod stack_env;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use sessiondb_http::config::{ApiKeyConfig, HttpConfig, Scope};
use sessiondb_http::{App, AppConfig};
use sessiondb_settings::Settings;

use crate::cli::ConnectArgs;
use crate::ctx::{Ctx, Loaded};
use embedded::Embedded;

/// Arguments of `sessiondb serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address of the public API listener (beats `server.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Address of the admin listener (beats `server.admin_listen`).
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let mut loaded = ctx.load(&args.connect)?;
    let server = &mut loaded.settings.server;
    if let Some(listen) = args.listen {
        server.listen = listen;
    }
    if let Some(admin) = args.admin_listen {
        server.admin_listen = admin;
    }
    loaded
        .settings
        .validate()
        .context("invalid configuration")?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = loaded.settings.worker_threads(cpus);
    ctx.block_on_threads(Some(threads), serve(loaded, (threads, cpus)))?
}

/// `(threads, cpus)`: the runtime's worker threads, and the CPUs they were chosen for.
async fn serve(loaded: Loaded, (threads, cpus): (usize, usize)) -> anyhow::Result<ExitCode> {
    let Loaded {
        settings,
        stack: local_stack,
    } = &loaded;
    let mut http = HttpConfig::from_settings(&settings.server);
    let (embedded, connection) = match (settings.connection_config(), &local_stack) {
        (Some(connection), _) => (None, connection),
        (None, None) => {
            if let Some(why) = embedded_refusal(settings, &http, |name| std::env::var_os(name)) {
                bail!(
                    "no Redis is configured, and sessiondb will not start a private embedded \
                     redis-server here: {why}. Several instances would each get their own \
                     Redis and not see each other's sessions. Point it at Redis with \
                     REDIS_HOST/REDIS_PORT, SESSIONDB_REDIS__URL, redis.sentinels or \
                     redis.cluster_nodes, or set redis.mode = embedded \
                     (SESSIONDB_REDIS__MODE=embedded) to run the embedded default anyway"
                );
            }
            let embedded = Embedded::start(settings).await?;
            let connection = embedded.connection();
            (Some(embedded), connection)
        }
        (None, Some(dir)) => bail!(
            "--local needs the stack's Redis, but redis.mode is embedded: check --set, and \
             that {} sets SESSIONDB_REDIS__MODE (`sessiondb local up{}` rewrites it)",
            dir.env_file().display(),
            crate::commands::local::dir_flag(dir)
        ),
    };
    let dev_key = if http.api_keys.is_empty() && (embedded.is_some() || local_stack.is_some()) {
        let (name, dir) = match &embedded {
            Some(e) => ("embedded-dev", e.data_dir().to_owned()),
            None => ("local-dev", embedded::data_dir(settings)?),
        };
        let (key, path) = embedded::dev_api_key(&dir)?;
        http.api_keys.push(ApiKeyConfig {
            name: name.into(),
            sha256_hex: sessiondb_http::hash_api_key(&key),
            scopes: vec![
                Scope::SessionsRead,
                Scope::SessionsWrite,
                Scope::SessionsAdmin,
            ],
        });
        Some((key, path))
    } else {
        None
    };

    let app = App::build(AppConfig {
        connection,
        engine: settings.engine_config(),
        http,
        cleanup_every: settings
            .cleanup
            .enabled
            .then(|| Duration::from_secs(settings.cleanup.interval_seconds)),
    })
    .await
    .with_context(|| loaded.connecting())?;
    // Logged once Redis answered, so a refused start still prints only its one error.
    tracing::info!(
        worker_threads = threads,
        cpus,
        redis_on_this_host = settings.redis_on_this_host(),
        "async runtime"
    );
    let shutdown = shutdown_signal()?;
    println!("sessiondb {} listening", env!("CARGO_PKG_VERSION"));
    println!(
        "  API:   http://{}/v1  (OpenAPI: /v1/openapi.json)",
        app.local_addr()
    );
    println!(
        "  admin: http://{}  (/healthz /readyz /metrics)",
        app.admin_addr()
    );
    if let Some(dir) = &local_stack {
        println!(
            "  Redis: the local stack in {} ({} mode)",
            dir.root().display(),
            settings.redis.mode
        );
    }
    if let Some((key, path)) = &dev_key {
        if let Some(e) = &embedded {
            println!(
                "  embedded redis-server, data in {}",
                e.data_dir().display()
            );
        }
        println!(
            "  API key for trying it (all scopes; saved in {}):",
            path.display()
        );
        println!("    {key}");
    }

    let served = app.run_until(shutdown).await;
    if let Some(e) = embedded {
        e.stop().await?;
    }
    served.context("serving HTTP")?;
    Ok(ExitCode::SUCCESS)
}

/// Why the embedded default must not start unasked, if it must not: where `serve` runs
/// as part of a deployment rather than as a first run on a workstation. An explicit
/// `redis.mode = embedded` always starts it.
///
/// Docker's `/.dockerenv` is deliberately not a sign: development containers and CI
/// sandboxes are Docker containers where the zero-configuration first run is what is
/// wanted. The project's image sets `container`, as systemd and podman do.
fn embedded_refusal(
    settings: &Settings,
    http: &sessiondb_http::config::HttpConfig,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<String> {
    if settings.redis.mode_explicit {
        return None;
    }
    if env("KUBERNETES_SERVICE_HOST").is_some() {
        return Some("it runs inside Kubernetes (KUBERNETES_SERVICE_HOST is set)".to_owned());
    }
    if let Some(kind) = env("container").filter(|v| !v.is_empty()) {
        return Some(format!(
            "it runs inside a container (container={})",
            kind.to_string_lossy()
        ));
    }
    if !http.api_keys.is_empty() {
        return Some("API keys are configured (server.api_keys), as for a deployment".to_owned());
    }
    None
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (not
/// when the future is first polled), so a signal that arrives right after the listening
/// lines are printed still shuts down gracefully.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutdown signal received; draining in-flight requests");
    })
}
