//! [`Server`]: binds the API and admin listeners, serves HTTP/1.1 on both (TLS on the API
//! listener when configured) and shuts down gracefully.
//!
//! Each accepted connection is its own task, driven by hyper with a header-read timeout
//! and a bounded header buffer. On shutdown the listeners close first (new connections
//! are refused), then every connection is told to finish: idle keep-alive connections
//! close at once, a connection with a request in flight closes after answering it. After
//! `shutdown_grace` whatever is left is aborted.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH};
use axum::http::{Method, Request};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sessiondb_engine::Engine;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::KeyRing;
use crate::config::{HttpConfig, ListenerTls};
use crate::context::{envelope, Envelope, X_REQUEST_ID};
use crate::error::{ApiError, HttpError};
use crate::extract::X_SESSION_TOKEN;
use crate::limits::{self, Limits};
use crate::rate_limit::{RateLimits, FORGET_INTERVAL};
use crate::state::{AppState, Shared};
use crate::{admin, openapi, routes};
use sessiondb_metrics::Metrics;

/// A client has this long to send a request's headers (slow-loris defence).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A client has this long to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) in bytes; larger gets 431.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields in one request.
const MAX_HEADERS: usize = 64;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The HTTP API and admin listeners, bound and ready to [`run`](Server::run).
pub struct Server {
    /// The public API listener.
    api: TcpListener,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
    admin: TcpListener,
    /// The API routes with all layers.
    api_router: Router,
    /// The admin routes with their layers.
    admin_router: Router,
    /// TLS for the API listener, when configured.
    tls: Option<TlsAcceptor>,
    /// Shared handler state; the server prunes its rate limiters periodically.
    state: AppState,
    /// How long in-flight requests may take to finish after shutdown.
    shutdown_grace: Duration,
    local_addr: SocketAddr,
    admin_addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("admin_addr", &self.admin_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Validates the configuration, loads the TLS certificate and binds both listeners
    /// (port 0 picks a free port; see [`local_addr`](Self::local_addr)).
    ///
    /// `engine` should have been connected with `metrics` as its observer
    /// ([`Engine::connect_with_observer`]) so store and lifecycle metrics are recorded.
    pub async fn bind(
        config: HttpConfig,
        engine: Engine,
        metrics: Arc<Metrics>,
    ) -> Result<Server, HttpError> {
        let keys = KeyRing::new(&config.api_keys)?;
        if config.api_keys.is_empty() {
            tracing::warn!("no API keys configured: every route that needs one answers 401");
        }
        let cors = cors_layer(&config.cors_origins)?;
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let state = AppState::new(Shared {
            engine: engine.clone(),
            metrics: metrics.clone(),
            keys,
            limits: RateLimits::new(&config),
            trusted_proxies: config.trusted_proxies.clone(),
            openapi: openapi::document(&engine.config().session).into(),
        });
        let limits = Limits {
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout,
        };
        let mut api_router = routes::router(state.clone())
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .layer(from_fn_with_state(limits, limits::enforce));
        if let Some(cors) = cors {
            api_router = api_router.layer(cors);
        }
        let api_router = with_envelope(api_router, Envelope::api(metrics.clone()));
        let admin_router = with_envelope(admin::router(engine, metrics), Envelope::admin());

        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| HttpError::Bind { addr, source })
        };
        let api = bind(config.listen).await?;
        let admin = bind(config.admin_listen).await?;
        let local_addr = api.local_addr().map_err(|source| HttpError::Bind {
            addr: config.listen,
            source,
        })?;
        let admin_addr = admin.local_addr().map_err(|source| HttpError::Bind {
            addr: config.admin_listen,
            source,
        })?;
        Ok(Server {
            api,
            admin,
            api_router,
            admin_router,
            tls,
            state,
            shutdown_grace: config.shutdown_grace,
            local_addr,
            admin_addr,
        })
    }

    /// The API listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Serves both listeners until `shutdown` resolves, then stops accepting and lets
    /// in-flight requests finish, for at most `shutdown_grace`.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HttpError> {
        let (stop, stopped) = watch::channel(false);
        let grace = self.shutdown_grace;
        tracing::info!(
            api = %self.local_addr,
            admin = %self.admin_addr,
            tls = self.tls.is_some(),
            "serving"
        );
        let api = tokio::spawn(serve(
            "api",
            self.api,
            self.api_router,
            self.tls,
            stopped.clone(),
            grace,
        ));
        let admin = tokio::spawn(serve(
            "admin",
            self.admin,
            self.admin_router,
            None,
            stopped,
            grace,
        ));
        let state = self.state;
        let janitor = tokio::spawn(async move {
            let mut every = tokio::time::interval(FORGET_INTERVAL);
            loop {
                every.tick().await;
                state.limits.forget_idle();
            }
        });

        shutdown.await;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: draining requests"
        );
        // Receivers outlive this send: both serve tasks hold one until they return.
        let _ = stop.send(true);
        for (name, task) in [("api", api), ("admin", admin)] {
            if let Err(error) = task.await {
                tracing::error!(listener = name, %error, "listener task failed");
            }
        }
        janitor.abort();
        tracing::info!("shut down");
        Ok(())
    }
}

/// The envelope (request id, span, metrics, security headers) around a router, with
/// panics turned into 500 problems inside it.
fn with_envelope(router: Router, envelope_state: Envelope) -> Router {
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(envelope_state, envelope))
}

#[allow(clippy::needless_pass_by_value)] // the signature `CatchPanicLayer` calls
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::Internal(format!("handler panicked: {message}")).into_response()
}

/// CORS for the configured origins (`*` allows any); `None` when none are configured,
/// so no CORS header is ever sent.
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, HttpError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o).map_err(|_| HttpError::InvalidConfig {
                    field: "cors_origins".to_owned(),
                    reason: format!("contains an invalid origin {o:?}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                IF_MATCH,
                X_SESSION_TOKEN,
                X_REQUEST_ID,
            ])
            .expose_headers([ETAG, X_REQUEST_ID, HeaderName::from_static("retry-after")])
            .max_age(Duration::from_secs(600)),
    ))
}

/// A TLS acceptor for the configured PEM certificate chain and private key (HTTP/1.1
/// over ALPN, TLS 1.2 and 1.3, ring provider).
fn tls_acceptor(tls: &ListenerTls) -> Result<TlsAcceptor, HttpError> {
    let cert_error = |reason: String| HttpError::Tls {
        what: "certificate",
        path: tls.cert_file.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&tls.cert_file)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_error("no certificate in the file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).map_err(|e| HttpError::Tls {
        what: "private key",
        path: tls.key_file.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| cert_error(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until `stop`, then drains them for at most `grace`.
async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(
                        stream,
                        peer,
                        router.clone(),
                        tls.clone(),
                        stop.clone(),
                    ));
                }
                Err(error) => {
                    tracing::warn!(listener = name, %error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let open = connections.len();
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            listener = name,
            open,
            left = connections.len(),
            "shutdown grace period over; closing the remaining connections"
        );
        connections.shutdown().await;
    }
}

/// One connection: the TLS handshake if configured, then HTTP/1.1 until the client
/// closes or shutdown completes the connection's current request.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return http(stream, peer, router, stop).await;
    };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => http(stream, peer, router, stop).await,
        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

async fn http<I>(io: I, peer: SocketAddr, router: Router, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Resolves once shutdown was signalled (or the signalling side is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = stop.wait_for(|&s| s).await.map(|_| ());
}
