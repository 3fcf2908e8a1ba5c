//! Shared fixtures: topologies and connection settings.

use sessiondb_engine::{
    ConnectionConfig, CreatedSession, Engine, EngineConfig, NewSession, SessionMetadata, Topology,
    UserId,
};
use sessiondb_local::{RedisServer, SentinelTopology};

/// The connection settings of a standalone server.
pub fn standalone(server: &RedisServer) -> ConnectionConfig {
    let (host, port) = server.addr();
    ConnectionConfig::standalone(host, port)
}

/// The connection settings of a Sentinel topology.
pub fn sentinel(topology: &SentinelTopology) -> ConnectionConfig {
    let mut conn = ConnectionConfig::standalone("unused", 0);
    conn.topology = Topology::Sentinel {
        sentinels: topology.sentinel_addrs(),
        service_name: topology.service_name().to_owned(),
        sentinel_username: None,
        sentinel_password: None,
    };
    conn
}

/// The connection settings of a Cluster.
pub fn cluster(nodes: Vec<(String, u16)>) -> ConnectionConfig {
    let mut conn = ConnectionConfig::standalone("unused", 0);
    conn.topology = Topology::Cluster { nodes };
    conn
}

/// An engine on `conn` with the default policies and `prefix`.
pub async fn engine(conn: &ConnectionConfig, prefix: &str) -> anyhow::Result<Engine> {
    engine_with(conn, prefix, |_| {}).await
}

/// An engine on `conn` with `prefix` and policies changed by `change`.
pub async fn engine_with(
    conn: &ConnectionConfig,
    prefix: &str,
    change: impl FnOnce(&mut EngineConfig),
) -> anyhow::Result<Engine> {
    let mut config = EngineConfig {
        key_prefix: prefix.to_owned(),
        ..EngineConfig::default()
    };
    change(&mut config);
    Ok(Engine::connect(conn, config).await?)
}

/// A new session for `user`.
pub fn new_session(user: &str) -> NewSession {
    let mut data = serde_json::Map::new();
    data.insert("user".to_owned(), serde_json::Value::from(user));
    NewSession {
        user_id: UserId::parse(user).expect("a valid user id"),
        data,
        metadata: SessionMetadata {
            device: Some(format!("device of {user}")),
            ..SessionMetadata::default()
        },
        idle_ttl: None,
    }
}

/// Creates `n` sessions for `user`.
pub async fn create(engine: &Engine, user: &str, n: usize) -> anyhow::Result<Vec<CreatedSession>> {
    let mut created = Vec::new();
    for _ in 0..n {
        created.push(engine.create(new_session(user)).await?);
    }
    Ok(created)
}

/// Asserts that every field name in `json` (at any depth) appears quoted in
/// `docs/operations.md`, so the documented JSON shapes stay true.
pub fn assert_documented(json: &serde_json::Value) {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .expect("docs/operations.md is readable");
    let mut missing = Vec::new();
    let mut stack = vec![json];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    if !docs.contains(&format!("\"{key}\"")) {
                        missing.push(key.clone());
                    }
                    stack.push(inner);
                }
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "fields not documented in docs/operations.md: {missing:?}"
    );
}
