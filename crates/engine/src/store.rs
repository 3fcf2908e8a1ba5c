//! The connection to Redis: building the client for each topology, running the scripts'
//! functions (see `scripts.rs`), and reading their replies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::config::{
    ClusterDiscoveryPolicy, ConnectionConfig as FredConnectionConfig, PerformanceConfig,
    ReconnectError, ReconnectPolicy, Server, ServerConfig,
};
use fred::types::{ClusterHash, CustomCommand, Value};
use secrecy::ExposeSecret;

use crate::clock::ReadClock;
use crate::config::{ConnectionConfig, Durability, ReadFrom, Topology};
use crate::error::Error;
use crate::events::Observer;
use crate::refused::{connect_error, describe, Login};
use crate::replicas::{ClusterReplicas, Follower, ReplicaClient, ReplicaReads};
use crate::scripts::NamedScript;
use crate::sentinel::SwitchWatcher;
use crate::throttle::Throttle;
use crate::tls::client_tls;

/// A pool of connections to one Redis deployment.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: Pool,
    /// One connection of its own for background work (cleanup), so a long pass never
    /// queues behind requests on the pool's connections or holds them up.
    background: Pool,
    /// Where listings go with `read_from = replica_preferred`.
    replicas: Option<ReplicaReads>,
    /// Moves the pool when Sentinel announces a new master (Sentinel topology only).
    _switch_watcher: Option<Arc<SwitchWatcher>>,
    /// Receives timings of every script call.
    observer: Option<Arc<dyn Observer>>,
    /// Whether writes wait for replicas.
    durability: Durability,
    /// The store's clock for session reads (one master only; `None` on Cluster).
    clock: Option<Arc<ReadClock>>,
    /// The scripts' library code, loaded again when a call finds it missing.
    library: Arc<str>,
}

impl Store {
    /// Builds the client for the configured topology and waits (bounded) until it is
    /// connected. Afterwards the client reconnects by itself, forever, with backoff.
    pub(crate) async fn connect(
        conn: &ConnectionConfig,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, Error> {
        let server = server_config(conn);
        let pool = connect_pool(conn, server.clone(), conn.pool_size.max(1)).await?;
        let background = connect_pool(conn, server, 1).await?;
        let replicas = match (conn.read_from, &conn.topology) {
            (ReadFrom::Master, _) => None,
            (ReadFrom::ReplicaPreferred, Topology::Cluster { .. }) => {
                Some(ReplicaReads::Cluster(ClusterReplicas::start(pool.clone())))
            }
            (ReadFrom::ReplicaPreferred, _) => {
                Some(ReplicaReads::Follower(Follower::start(pool.clone(), conn)))
            }
        };
        let switch_watcher = SwitchWatcher::start(conn, &pool, observer.as_ref())?.map(Arc::new);
        let clock = match conn.topology {
            Topology::Cluster { .. } => None,
            _ => Some(Arc::new(ReadClock::new(pool.clone()))),
        };
        Ok(Self {
            pool,
            background,
            replicas,
            _switch_watcher: switch_watcher,
            observer,
            durability: Durability::Async,
            clock,
            library: Arc::from(""),
        })
    }

    pub(crate) fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Records the key schema version on a new database, and refuses data written with
    /// another one.
    pub(crate) async fn check_schema(&self, key: &str, version: u32) -> Result<(), Error> {
        let client = self.pool.next();
        let _: Value = client
            .set(
                key,
                version.to_string(),
                None,
                Some(fred::types::SetOptions::NX),
                false,
            )
            .await?;
        let stored: Option<String> = client.get(key).await?;
        match stored {
            Some(v) if v == version.to_string() => Ok(()),
            other => Err(Error::SchemaMismatch {
                key: key.to_owned(),
                found: other.unwrap_or_default(),
                expected: version,
            }),
        }
    }

    /// Loads the scripts' library on every primary (see `scripts.rs`) and keeps its code
    /// to load it again wherever a call finds it missing.
    pub(crate) async fn load_library(&mut self, code: String) -> Result<(), Error> {
        self.library = Arc::from(code);
        Ok(load_library(self.pool.next(), &self.library).await?)
    }

    /// Calls a script's function with one key, loading the library after `Function not
    /// found` (a restarted server without persistence, a new Cluster node).
    async fn call(
        &self,
        client: &Client,
        script: &NamedScript,
        key: String,
        args: Vec<Value>,
    ) -> Result<Value, fred::error::Error> {
        fcall(client, &self.library, &script.function, vec![key], args).await
    }

    /// A handle that calls `script` on the pool, as [`Store::call`] does, without
    /// reporting the calls to the observer (the events writer counts its own failures).
    pub(crate) fn caller(&self, script: &NamedScript) -> Caller {
        Caller {
            pool: self.pool.clone(),
            library: self.library.clone(),
            function: script.function.clone(),
        }
    }

    /// Calls `loaded` (a function that answers 1), loading the library if it is missing.
    /// `key` routes the call (on a Cluster, to that key's node).
    pub(crate) async fn check_library(
        &self,
        loaded: &NamedScript,
        key: String,
    ) -> Result<(), Error> {
        let _: Value = self.call(self.pool.next(), loaded, key, Vec::new()).await?;
        Ok(())
    }

    /// Runs a script (see [`Store::call`]).
    pub(crate) async fn run(
        &self,
        script: &NamedScript,
        key: String,
        args: Vec<Value>,
    ) -> Result<Value, Error> {
        let started = Instant::now();
        let result = self.call(self.pool.next(), script, key, args).await;
        self.observe(script.name, started, result.is_ok());
        result.map_err(|error| backend(script, error))
    }

    /// `GET key` and the store's clock (Unix ms), read after the value: from the
    /// [`ReadClock`] estimate when one is fresh, else by `TIME` in one pipeline with the
    /// `GET`, both to the node that owns `key`. `name` labels the call in metrics and
    /// errors. `None` when the key does not exist.
    pub(crate) async fn get_with_clock(
        &self,
        name: &'static str,
        key: String,
    ) -> Result<Option<(fred::bytes::Bytes, u64)>, Error> {
        let started = Instant::now();
        let read = match self.clock.as_deref() {
            Some(clock) if clock.now_ms().is_some() => {
                self.get_then_estimate(name, key, clock).await
            }
            _ => self.get_and_time(name, key).await,
        };
        self.observe(name, started, read.is_ok());
        let (value, now) = read?;
        let protocol = |detail: &str| Error::Protocol {
            script: name,
            detail: detail.to_owned(),
        };
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some((bytes, now))),
            Value::String(text) => Ok(Some((text.into_inner(), now))),
            _ => Err(protocol("GET answered something else than a value")),
        }
    }

    /// `GET key`, then the clock's estimate (falling back to `TIME` if the estimate went
    /// stale meanwhile).
    async fn get_then_estimate(
        &self,
        name: &'static str,
        key: String,
        clock: &ReadClock,
    ) -> Result<(Value, u64), Error> {
        let value: Value = self
            .pool
            .next()
            .get(key.as_str())
            .await
            .map_err(|error| read_failed(name, error))?;
        match clock.now_ms() {
            Some(now) => Ok((value, now)),
            None => self.get_and_time(name, key).await,
        }
    }

    /// `GET key` and `TIME` in one pipeline, both to the node that owns `key`.
    async fn get_and_time(&self, name: &'static str, key: String) -> Result<(Value, u64), Error> {
        let slot = fred::util::redis_keyslot(key.as_bytes());
        let pipeline = self.pool.next().pipeline();
        let get = CustomCommand::new_static("GET", ClusterHash::Custom(slot), false);
        let time = CustomCommand::new_static("TIME", ClusterHash::Custom(slot), false);
        let queued: Result<(), _> = pipeline.custom(get, vec![Value::from(key)]).await;
        let queued = queued.and(pipeline.custom::<(), _>(time, Vec::<Value>::new()).await);
        let replies = match queued {
            Ok(()) => pipeline.all::<Vec<Value>>().await,
            Err(error) => Err(error),
        };
        let replies = replies.map_err(|error| read_failed(name, error))?;
        let protocol = |detail: &str| Error::Protocol {
            script: name,
            detail: detail.to_owned(),
        };
        let mut replies = replies.into_iter();
        let (Some(value), Some(Value::Array(time))) = (replies.next(), replies.next()) else {
            return Err(protocol("expected a value and TIME"));
        };
        let part = |i: usize| time.get(i).and_then(Value::as_u64);
        let (Some(secs), Some(micros)) = (part(0), part(1)) else {
            return Err(protocol(
                "TIME answered something else than seconds and microseconds",
            ));
        };
        Ok((value, secs * 1000 + micros / 1000))
    }

    /// Runs a script on the background connection (see [`Store::run`]).
    pub(crate) async fn run_background(
        &self,
        script: &NamedScript,
        key: String,
        args: Vec<Value>,
    ) -> Result<Value, Error> {
        let started = Instant::now();
        let result = self.call(self.background.next(), script, key, args).await;
        self.observe(script.name, started, result.is_ok());
        result.map_err(|error| backend(script, error))
    }

    /// Runs `read` on a replica when listings may go there and one is known. `None`
    /// means the caller reads from the master: no replica is configured or known, or
    /// the replica read failed (which also has the replica checked at once).
    pub(crate) async fn on_replica<T, F, Fut>(&self, name: &'static str, read: F) -> Option<T>
    where
        F: FnOnce(ReplicaClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, fred::error::Error>>,
    {
        let replicas = self.replicas.as_ref()?;
        let observer = self.observer.as_deref();
        let Some(client) = replicas.client() else {
            if let Some(o) = observer {
                o.listing_read_from_replica(false);
            }
            return None;
        };
        let started = Instant::now();
        match read(client).await {
            Ok(value) => {
                self.observe(name, started, true);
                if let Some(o) = observer {
                    o.listing_read_from_replica(true);
                }
                Some(value)
            }
            Err(error) => {
                self.observe(name, started, false);
                if let Some(o) = observer {
                    o.replica_read_fell_back();
                    o.listing_read_from_replica(false);
                }
                if let Some(suppressed) = FAILED_CALLS.allow() {
                    tracing::warn!(operation = name, %error, suppressed, "replica read failed; reading from the master");
                }
                replicas.failed();
                None
            }
        }
    }

    /// Closes every connection.
    pub(crate) async fn quit(&self) -> Result<(), Error> {
        if let Some(replicas) = &self.replicas {
            replicas.quit().await;
        }
        self.background.quit().await?;
        self.pool.quit().await?;
        Ok(())
    }

    /// [`Store::run_write`], reading the answer as an array.
    pub(crate) async fn call_write(
        &self,
        script: &NamedScript,
        key: String,
        args: Vec<Value>,
    ) -> Result<Reply, Error> {
        let value = self.run_write(script, key, args).await?;
        Reply::array(script.name, value)
    }

    /// Runs a script that changes state (see [`Store::write`]) and reports the call.
    pub(crate) async fn run_write(
        &self,
        script: &NamedScript,
        key: String,
        args: Vec<Value>,
    ) -> Result<Value, Error> {
        let started = Instant::now();
        let result = self.write(script, vec![key], args).await;
        self.observe(script.name, started, answered(&result));
        result
    }

    /// Runs a script that changes state, with `keys` (on a Cluster, all in one slot),
    /// without reporting the call (see [`Store::observe`]). In replicated durability the
    /// script and a `WAIT` go down the same connection in one pipeline (one round trip),
    /// and the write counts only when enough replicas confirmed it.
    pub(crate) async fn write(
        &self,
        script: &NamedScript,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<Value, Error> {
        let client = self.pool.next();
        let Durability::Replicated { replicas, timeout } = self.durability else {
            return fcall(client, &self.library, &script.function, keys, args)
                .await
                .map_err(|error| backend(script, error));
        };
        // Route WAIT to the node that owns the script's keys (matters on Cluster).
        let slot = keys
            .first()
            .map_or(0, |key| fred::util::redis_keyslot(key.as_bytes()));
        let mut reloaded = false;
        loop {
            let pipeline = client.pipeline();
            let wait = CustomCommand::new_static("WAIT", ClusterHash::Custom(slot), false);
            let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
            // Pipelines have no Lua interface; FCALL goes as a command routed like WAIT.
            let fcall = CustomCommand::new_static("FCALL", ClusterHash::Custom(slot), false);
            let mut fcall_args = Vec::with_capacity(2 + keys.len() + args.len());
            fcall_args.push(Value::from(script.function.as_str()));
            fcall_args.push(Value::from(keys.len() as i64));
            fcall_args.extend(keys.iter().map(|key| Value::from(key.as_str())));
            fcall_args.extend(args.iter().cloned());
            let queued: Result<(), _> = pipeline.custom(fcall, fcall_args).await;
            let waited: Result<(), _> = pipeline
                .custom(
                    wait,
                    vec![Value::from(i64::from(replicas)), Value::from(timeout_ms)],
                )
                .await;
            if let Err(error) = queued.and(waited) {
                return Err(backend(script, error));
            }
            let mut results = pipeline.try_all::<Value>().await.into_iter();
            // A failed pipeline (timeout, dropped connection) answers with one error for
            // all its commands, so a missing second reply follows the first one's error.
            let (applied, acked) = (results.next(), results.next());
            let applied = applied.unwrap_or_else(|| {
                Err(fred::error::Error::new(
                    fred::error::ErrorKind::Unknown,
                    "empty pipeline reply",
                ))
            });
            match applied {
                Err(error) if !reloaded && function_missing(&error) => {
                    load_library(client, &self.library)
                        .await
                        .map_err(|e| backend(script, e))?;
                    reloaded = true;
                }
                Err(error) => return Err(backend(script, error)),
                Ok(_) if acked.is_none() => {
                    return Err(Error::Protocol {
                        script: script.name,
                        detail: "the pipeline answered the script but not WAIT".to_owned(),
                    });
                }
                Ok(value) => {
                    let acked = acked
                        .expect("checked above")
                        .map_err(|e| backend(script, e))?;
                    let acked = acked.as_u64().unwrap_or(0);
                    if acked < u64::from(replicas) {
                        if let Some(suppressed) = FAILED_CALLS.allow() {
                            tracing::warn!(
                                script = script.name,
                                acked,
                                wanted = replicas,
                                suppressed,
                                "write not replicated in time"
                            );
                        }
                        return Err(Error::NotReplicated {
                            acked,
                            wanted: replicas,
                        });
                    }
                    return Ok(value);
                }
            }
        }
    }

    /// Reports one operation of `name` that took from `started` until now.
    pub(crate) fn observe(&self, name: &'static str, started: Instant, ok: bool) {
        if let Some(observer) = &self.observer {
            observer.script_call(name, started.elapsed(), ok);
        }
    }
}

/// The longest pause between reconnection attempts (they start at 50 ms and double).
/// It bounds how long after a failover the pool waits before asking Sentinel again;
/// at this rate the default pool of 4 makes 8 small connection attempts a second while
/// Redis is unreachable.
const MAX_RECONNECT_DELAY_MS: u32 = 500;

/// Where the deployment is, in fred's terms: one server, the Sentinels of a service, or
/// Cluster seed nodes, each with the configured TLS server name.
pub(crate) fn server_config(conn: &ConnectionConfig) -> ServerConfig {
    let servers = |list: &[(String, u16)]| -> Vec<Server> {
        list.iter().map(|(h, p)| server(conn, h, *p)).collect()
    };
    match &conn.topology {
        Topology::Standalone { host, port } => ServerConfig::Centralized {
            server: server(conn, host, *port),
        },
        Topology::Sentinel {
            sentinels,
            service_name,
            sentinel_username,
            sentinel_password,
        } => ServerConfig::Sentinel {
            hosts: servers(sentinels),
            service_name: service_name.clone(),
            username: sentinel_username.clone(),
            password: sentinel_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
        },
        Topology::Cluster { nodes } => ServerConfig::Clustered {
            hosts: servers(nodes),
            policy: ClusterDiscoveryPolicy::default(),
        },
    }
}

/// One data node's address, with the configured TLS server name.
pub(crate) fn server(conn: &ConnectionConfig, host: &str, port: u16) -> Server {
    let mut server = Server::new(host, port);
    server.tls_server_name = conn
        .tls
        .as_ref()
        .and_then(|t| t.server_name.as_deref())
        .map(Into::into);
    server
}

/// Builds and connects a pool of `size` clients to `server` with the connection's
/// credentials, TLS, timeouts and reconnect policy.
pub(crate) async fn connect_pool(
    conn: &ConnectionConfig,
    server: ServerConfig,
    size: usize,
) -> Result<Pool, Error> {
    let cluster = matches!(server, ServerConfig::Clustered { .. });
    let described = describe(&server);
    let tls = conn.tls.as_ref().map(client_tls).transpose()?;
    let refused = tls.as_ref().map(|t| t.refused.clone());
    let config = Config {
        server,
        username: conn.username.clone(),
        password: conn.password.as_ref().map(|p| p.expose_secret().to_owned()),
        database: (!cluster && conn.database != 0).then_some(conn.database),
        fail_fast: true,
        tls: tls.map(|t| t.config),
        ..Config::default()
    };
    let timeout = conn.command_timeout;
    let pool = Builder::from_config(config)
        .with_performance_config(|perf: &mut PerformanceConfig| {
            perf.default_command_timeout = timeout;
        })
        .with_connection_config(|c: &mut FredConnectionConfig| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
            c.max_command_attempts = 2;
            // A demoted master answers READONLY, a restarting one LOADING: reconnect
            // (through Sentinel, to the current master) instead of failing forever.
            c.reconnect_errors = vec![
                ReconnectError::ReadOnly,
                ReconnectError::Loading,
                ReconnectError::MasterDown,
                ReconnectError::ClusterDown,
            ];
        })
        .set_policy(ReconnectPolicy::new_exponential(
            0,
            50,
            MAX_RECONNECT_DELAY_MS,
            2,
        ))
        .build_pool(size)
        .map_err(Error::Backend)?;
    let _tasks = pool.init().await.map_err(|error| {
        let login = Login {
            user: conn.username.as_deref(),
            password_from: conn.password_from.as_deref(),
        };
        connect_error(conn, described, &login, refused.as_ref(), error)
    })?;
    Ok(pool)
}

/// Failed store calls, logged at most once a second (every request fails during an
/// outage; the metrics count each one).
static FAILED_CALLS: Throttle = Throttle::new(Duration::from_secs(1));

/// A failed session read, logged at most a few times a second.
fn read_failed(name: &'static str, error: fred::error::Error) -> Error {
    if let Some(suppressed) = FAILED_CALLS.allow() {
        tracing::warn!(operation = name, %error, suppressed, "read failed");
    }
    Error::Backend(error)
}

/// `FUNCTION LOAD REPLACE` of the library on every primary.
async fn load_library(client: &Client, library: &str) -> Result<(), fred::error::Error> {
    let _: Value = client.function_load_cluster(true, library).await?;
    Ok(())
}

/// Calls a function of the library with `keys`, loading the library after `Function
/// not found` (a restarted server without persistence, a new Cluster node) and retrying
/// once.
async fn fcall(
    client: &Client,
    library: &str,
    function: &str,
    keys: Vec<String>,
    args: Vec<Value>,
) -> Result<Value, fred::error::Error> {
    match client.fcall(function, keys.clone(), args.clone()).await {
        Err(error) if function_missing(&error) => {
            load_library(client, library).await?;
            client.fcall(function, keys, args).await
        }
        result => result,
    }
}

/// One function of the scripts' library, callable from a background task (see
/// [`Store::caller`]).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pool: Pool,
    library: Arc<str>,
    function: String,
}

impl Caller {
    /// Calls the function with one key on the next connection of the pool.
    pub(crate) async fn call(
        &self,
        key: String,
        args: Vec<Value>,
    ) -> Result<Value, fred::error::Error> {
        fcall(
            self.pool.next(),
            &self.library,
            &self.function,
            vec![key],
            args,
        )
        .await
    }
}

/// Whether Redis ran a write, for the observer: a write that fewer replicas than
/// required confirmed was still applied, so it counts as answered.
pub(crate) fn answered<T>(result: &Result<T, Error>) -> bool {
    matches!(result, Ok(_) | Err(Error::NotReplicated { .. }))
}

/// Whether a call failed because the server does not have the library (yet).
fn function_missing(error: &fred::error::Error) -> bool {
    error.details().starts_with("ERR Function not found")
}

pub(crate) fn backend(script: &NamedScript, error: fred::error::Error) -> Error {
    if let Some(suppressed) = FAILED_CALLS.allow() {
        tracing::warn!(script = script.name, %error, suppressed, "script call failed");
    }
    Error::Backend(error)
}

/// Reads the array a script returned, element by element.
pub(crate) struct Reply {
    script: &'static str,
    items: std::vec::IntoIter<Value>,
}

impl Reply {
    /// `None` for a nil/false reply.
    pub(crate) fn new(script: &'static str, value: Value) -> Result<Option<Self>, Error> {
        match value {
            Value::Null => Ok(None),
            Value::Array(items) => Ok(Some(Self {
                script,
                items: items.into_iter(),
            })),
            other => Err(Error::Protocol {
                script,
                detail: format!("expected an array, got {:?}", other.kind()),
            }),
        }
    }

    /// A reply made of already-split values.
    pub(crate) fn from_values(script: &'static str, values: Vec<Value>) -> Self {
        Self {
            script,
            items: values.into_iter(),
        }
    }

    /// The remaining values.
    pub(crate) fn into_values(self) -> Vec<Value> {
        self.items.collect()
    }

    /// Like [`Reply::new`] but a nil reply is a protocol error.
    pub(crate) fn array(script: &'static str, value: Value) -> Result<Self, Error> {
        Self::new(script, value)?.ok_or(Error::Protocol {
            script,
            detail: "unexpected nil reply".to_owned(),
        })
    }

    fn protocol(&self, detail: &str) -> Error {
        Error::Protocol {
            script: self.script,
            detail: detail.to_owned(),
        }
    }

    /// Reads the status a write script answers with: `Ok` for `'ok'`, the engine error
    /// for `{'err', code}` (codes that carry more, such as `version_conflict`, are
    /// parsed by their caller first).
    /// Whether the next element is the string `word` (without taking it).
    pub(crate) fn first_is(&self, word: &str) -> bool {
        self.items
            .as_slice()
            .first()
            .and_then(Value::as_str)
            .as_deref()
            == Some(word)
    }

    pub(crate) fn ok(&mut self) -> Result<(), Error> {
        match self.string()?.as_str() {
            "ok" => Ok(()),
            "err" => Err(crate::engine::script_error(self.script, &self.string()?)),
            other => Err(self.protocol(&format!("unexpected status {other:?}"))),
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, Error> {
        self.items
            .next()
            .and_then(|v| v.into_string())
            .ok_or_else(|| self.protocol("expected a string"))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Error> {
        let value = self.items.next();
        value
            .as_ref()
            .and_then(Value::as_i64)
            .ok_or_else(|| self.protocol("expected an integer"))
    }

    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        self.items
            .next()
            .and_then(|v| v.as_bytes().map(<[u8]>::to_vec))
            .ok_or_else(|| self.protocol("expected bytes"))
    }

    /// A count `n` followed by `n` session ids.
    pub(crate) fn ids(
        &mut self,
        script: &'static str,
    ) -> Result<Vec<crate::ids::SessionId>, Error> {
        let n = self.u64()?;
        let mut ids = Vec::new();
        for _ in 0..n {
            let id = self.string()?;
            ids.push(
                crate::ids::SessionId::parse(&id).map_err(|_| Error::Protocol {
                    script,
                    detail: "invalid session id in reply".to_owned(),
                })?,
            );
        }
        Ok(ids)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        let value = self.items.next();
        value
            .as_ref()
            .and_then(|v| v.as_u64())
            .ok_or_else(|| self.protocol("expected a non-negative integer"))
    }

    /// The remaining elements as strings.
    pub(crate) fn rest(self) -> Result<Vec<String>, Error> {
        let script = self.script;
        self.items
            .map(|v| {
                v.into_string().ok_or(Error::Protocol {
                    script,
                    detail: "expected strings".to_owned(),
                })
            })
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.len() == 0
    }
}
