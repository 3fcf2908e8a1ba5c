//! Shared fixtures and helpers for the conformance suite.

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context as _};
use fred::prelude::*;
use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, TlsConfig, Topology};
use sessiondb_local::testkit::eventually_async;
use sessiondb_local::{
    free_port, RedisCluster, RedisOptions, RedisServer, SentinelOptions, SentinelTopology, TlsFiles,
};

/// The name in the TLS backend's server certificate (not the address it is reached at, so
/// the engine's server-name override is exercised).
pub const TLS_SERVER_NAME: &str = "redis.sessiondb.test";

pub type CaseResult = anyhow::Result<()>;
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One behaviour test, run once per topology.
#[derive(Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub run: fn(Ctx) -> CaseFuture,
}

/// Declares cases: `cases![area; fn_a, fn_b]` names them `area::fn_a`, ….
#[macro_export]
macro_rules! cases {
    ($area:literal; $($f:ident),* $(,)?) => {
        vec![$($crate::support::Case {
            name: concat!($area, "::", stringify!($f)),
            run: |ctx| Box::pin($f(ctx)),
        }),*]
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topo {
    Standalone,
    /// Standalone over TLS, checking the CA and the server name.
    Tls,
    Sentinel,
    Cluster,
}

impl Topo {
    pub const ALL: [Topo; 4] = [Topo::Standalone, Topo::Tls, Topo::Sentinel, Topo::Cluster];

    pub fn name(self) -> &'static str {
        match self {
            Topo::Standalone => "standalone",
            Topo::Tls => "tls",
            Topo::Sentinel => "sentinel",
            Topo::Cluster => "cluster",
        }
    }
}

/// A running topology and how to reach it.
pub struct Backend {
    pub connection: ConnectionConfig,
    /// Addresses of every master (for key scans).
    masters: Box<dyn Fn() -> Vec<(String, u16)> + Send + Sync>,
    _guard: Box<dyn Send + Sync>,
}

/// Topologies, each started on first use and stopped when this is dropped.
#[derive(Default)]
pub struct Backends {
    standalone: OnceLock<Result<Arc<Backend>, String>>,
    tls: OnceLock<Result<Arc<Backend>, String>>,
    sentinel: OnceLock<Result<Arc<Backend>, String>>,
    cluster: OnceLock<Result<Arc<Backend>, String>>,
}

impl Backends {
    pub fn get(&self, topo: Topo) -> Result<Arc<Backend>, String> {
        let cell = match topo {
            Topo::Standalone => &self.standalone,
            Topo::Tls => &self.tls,
            Topo::Sentinel => &self.sentinel,
            Topo::Cluster => &self.cluster,
        };
        cell.get_or_init(|| start(topo).map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
    }
}

fn start(topo: Topo) -> anyhow::Result<Backend> {
    Ok(match topo {
        Topo::Standalone => {
            let server = RedisServer::start(RedisOptions::default())?;
            let (host, port) = server.addr();
            let addr = server.addr();
            Backend {
                connection: ConnectionConfig::standalone(host, port),
                masters: Box::new(move || vec![addr.clone()]),
                _guard: Box::new(server),
            }
        }
        Topo::Tls => {
            let dir = tempfile::tempdir()?;
            let files = TlsFiles::generate(dir.path(), &[TLS_SERVER_NAME])?;
            let tls_port = free_port()?;
            let server = RedisServer::start(RedisOptions {
                extra_args: files.redis_args(tls_port),
                ..RedisOptions::default()
            })?;
            let mut connection = ConnectionConfig::standalone("127.0.0.1", tls_port);
            connection.tls = Some(TlsConfig {
                ca_file: Some(files.ca_cert.clone()),
                server_name: Some(TLS_SERVER_NAME.to_owned()),
                ..TlsConfig::default()
            });
            // Key scans use the plain port the fixture keeps for its probes.
            let addr = server.addr();
            Backend {
                connection,
                masters: Box::new(move || vec![addr.clone()]),
                _guard: Box::new((server, dir)),
            }
        }
        Topo::Sentinel => {
            let topology = SentinelTopology::start(SentinelOptions::default())?;
            let mut connection = ConnectionConfig::standalone("unused", 0);
            connection.topology = Topology::Sentinel {
                sentinels: topology.sentinel_addrs(),
                service_name: topology.service_name().to_owned(),
                sentinel_username: None,
                sentinel_password: None,
            };
            let topology = Arc::new(Mutex::new(topology));
            let t = topology.clone();
            Backend {
                connection,
                masters: Box::new(move || {
                    let t = t.lock().expect("fixture lock");
                    t.current_master().map(|m| vec![m]).unwrap_or_default()
                }),
                _guard: Box::new(topology),
            }
        }
        Topo::Cluster => {
            let cluster = RedisCluster::start(3, None)?;
            let nodes = cluster.seed_nodes();
            let mut connection = ConnectionConfig::standalone("unused", 0);
            connection.topology = Topology::Cluster {
                nodes: nodes.clone(),
            };
            Backend {
                connection,
                masters: Box::new(move || nodes.clone()),
                _guard: Box::new(cluster),
            }
        }
    })
}

static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

/// What a test gets: its topology and a key prefix of its own.
pub struct Ctx {
    pub topo: Topo,
    pub backend: Arc<Backend>,
    pub prefix: String,
    /// A connection of the test's own for reading Redis beside the engine, opened on
    /// first use.
    redis: tokio::sync::OnceCell<Pool>,
}

impl Ctx {
    pub fn new(topo: Topo, backend: Arc<Backend>, hint: &str) -> Self {
        let n = NEXT_PREFIX.fetch_add(1, Ordering::Relaxed);
        let hint: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect();
        Self {
            topo,
            backend,
            prefix: format!("t{n}-{}-{hint}", topo.name()),
            redis: tokio::sync::OnceCell::new(),
        }
    }

    /// A client of the test's own connection to the topology (the engine's way to
    /// reach it, `sessiondb_engine::admin::connect`), for commands beside the engine.
    pub async fn redis(&self) -> anyhow::Result<Client> {
        let pool = self
            .redis
            .get_or_try_init(|| sessiondb_engine::admin::connect(&self.backend.connection, 1))
            .await
            .context("connecting the test's own client")?;
        Ok(pool.next().clone())
    }

    /// The configuration every test starts from: the defaults with this test's prefix.
    pub fn config(&self) -> EngineConfig {
        EngineConfig {
            key_prefix: self.prefix.clone(),
            ..EngineConfig::default()
        }
    }

    /// An engine with the default policies.
    pub async fn engine(&self) -> anyhow::Result<Engine> {
        self.engine_with(|_| {}).await
    }

    /// An engine with adjusted policies.
    pub async fn engine_with(
        &self,
        adjust: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Engine> {
        self.engine_on(&self.backend.connection, adjust).await
    }

    /// An engine with adjusted policies whose listings prefer replicas.
    pub async fn engine_reading_from_replicas(
        &self,
        adjust: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Engine> {
        let mut connection = self.backend.connection.clone();
        connection.read_from = sessiondb_engine::ReadFrom::ReplicaPreferred;
        self.engine_on(&connection, adjust).await
    }

    /// An engine with adjusted policies and an adjusted connection.
    pub async fn engine_connected(
        &self,
        connect: impl FnOnce(&mut ConnectionConfig),
        adjust: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Engine> {
        let mut connection = self.backend.connection.clone();
        connect(&mut connection);
        self.engine_on(&connection, adjust).await
    }

    async fn engine_on(
        &self,
        connection: &ConnectionConfig,
        adjust: impl FnOnce(&mut EngineConfig),
    ) -> anyhow::Result<Engine> {
        let mut config = self.config();
        adjust(&mut config);
        Engine::connect(connection, config)
            .await
            .context("connecting the engine")
    }

    /// Every key under this test's prefix, from every master.
    pub fn keys(&self) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        for (host, port) in (self.backend.masters)() {
            let out = Command::new("redis-cli")
                .args(["-h", &host, "-p", &port.to_string(), "--scan", "--pattern"])
                .arg(format!("{}:*", self.prefix))
                .output()
                .context("running redis-cli --scan")?;
            if !out.status.success() {
                bail!(
                    "redis-cli --scan failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            keys.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_owned),
            );
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The session data under the test's prefix, as text: every key and value except
    /// the time of the last cleanup pass (a job marker, not data).
    pub async fn dump(&self) -> anyhow::Result<String> {
        let client = self.redis().await?;
        let mut out = String::new();
        let marker = format!("{}:cleanup:last", self.prefix);
        for key in self.keys()?.into_iter().filter(|k| *k != marker) {
            let kind: String = client.r#type(key.as_str()).await?;
            // Collections are sorted so two dumps of the same data compare equal.
            let value = match kind.as_str() {
                "string" => format!("{:?}", client.get::<Value, _>(key.as_str()).await?),
                "hash" => {
                    let map: std::collections::BTreeMap<String, String> =
                        client.hgetall(key.as_str()).await?;
                    format!("{map:?}")
                }
                "zset" => {
                    let members: Vec<(String, f64)> = client
                        .zrange(key.as_str(), 0, -1, None, false, None, true)
                        .await?;
                    format!("{members:?}")
                }
                "set" => {
                    let mut members: Vec<String> = client.smembers(key.as_str()).await?;
                    members.sort();
                    format!("{members:?}")
                }
                "stream" => format!(
                    "{:?}",
                    client
                        .xrange::<Value, _, _, _>(key.as_str(), "-", "+", None)
                        .await?
                ),
                "none" => continue,
                other => bail!("unexpected key type {other} for {key}"),
            };
            out.push_str(&key);
            out.push('=');
            out.push_str(&value);
            out.push('\n');
        }
        Ok(out)
    }

    /// Redis's clock, in milliseconds.
    pub async fn redis_now(&self) -> anyhow::Result<u64> {
        let (secs, micros): (u64, u64) = self
            .redis()
            .await?
            .custom(fred::cmd!("TIME"), Vec::<String>::new())
            .await?;
        Ok(secs * 1000 + micros / 1000)
    }

    /// Polls Redis's clock until it passes `at_ms` (bounded by a deadline).
    pub async fn wait_until(&self, at_ms: u64) -> anyhow::Result<()> {
        let what = format!("Redis's clock to pass {at_ms}");
        eventually_async(&what, Duration::from_secs(30), || async {
            let now = self.redis_now().await?;
            if now > at_ms {
                Ok(())
            } else {
                Err(anyhow::anyhow!("Redis's clock at {now}"))
            }
        })
        .await;
        Ok(())
    }
}

/// Test user ids that never collide across tests.
pub fn user(name: &str) -> sessiondb_engine::UserId {
    sessiondb_engine::UserId::parse(name).expect("valid test user id")
}

/// A `NewSession` with small data.
pub fn new_session(user_id: &str) -> sessiondb_engine::NewSession {
    let mut data = serde_json::Map::new();
    data.insert("role".into(), "member".into());
    sessiondb_engine::NewSession {
        user_id: user(user_id),
        data,
        metadata: Default::default(),
        idle_ttl: None,
    }
}

/// Short lifetimes for tests that wait for expiry.
pub fn short_lived(config: &mut EngineConfig) {
    config.session.min_idle_ttl = Duration::from_millis(100);
    config.session.idle_ttl = Duration::from_millis(800);
}

/// Whole device logins that end within a second: short sessions and short families.
pub fn short_logins(config: &mut EngineConfig) {
    short_lived(config);
    config.session.absolute_ttl = Duration::from_millis(800);
    config.refresh.ttl = Duration::from_millis(900);
}
