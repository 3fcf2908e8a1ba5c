//! Measures Redis memory per session: creates N sessions (one per user, 100-byte data)
//! on a fresh redis-server, sums `MEMORY USAGE` over every key the engine wrote, and
//! prints the total divided by N, next to the growth of `used_memory` (which also counts
//! the keyspace's hash tables and the expiry entries that `MEMORY USAGE` leaves out).
//!
//! ```sh
//! cargo run --release -p sessiondb-engine --example memory_per_session -- 10000
//! cargo run --release -p sessiondb-engine --example memory_per_session -- 10000 --hash-max-listpack-value 1024
//! ```

use std::collections::BTreeMap;

use fred::prelude::*;
use futures::{stream, StreamExt, TryStreamExt};
use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, NewSession, UserId};
use sessiondb_local::{RedisOptions, RedisServer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(10_000), |a| a.parse())?;
    // Extra redis-server arguments, e.g. `--hash-max-listpack-value 1024`.
    let extra_args: Vec<String> = std::env::args().skip(2).collect();
    let server = RedisServer::start(RedisOptions {
        extra_args: extra_args.clone(),
        ..RedisOptions::default()
    })?;
    let (host, port) = server.addr();
    let mut config = EngineConfig::default();
    config.events.enabled = false;
    let connection = ConnectionConfig::standalone(host, port);
    let engine = Engine::connect(&connection, config).await?;
    // Our own connection for INFO, SCAN and MEMORY USAGE beside the engine's.
    let pool = sessiondb_engine::admin::connect(&connection, 1).await?;
    let client = pool.next();

    let used_memory = |info: String| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = used_memory(client.info(Some(fred::types::InfoKind::Memory)).await?);
    let mut data = serde_json::Map::new();
    // {"profile":"xxx…"} serializes to exactly 100 bytes.
    data.insert(
        "profile".into(),
        "x".repeat(100 - r#"{"profile":""}"#.len()).into(),
    );
    assert_eq!(serde_json::to_string(&data)?.len(), 100);
    stream::iter(0..n)
        .map(|i| {
            let engine = &engine;
            let data = data.clone();
            async move {
                engine
                    .create(NewSession {
                        user_id: UserId::parse(format!("user-{i:07}"))?,
                        data,
                        metadata: Default::default(),
                        idle_ttl: None,
                    })
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(64)
        .try_collect::<()>()
        .await?;

    let after = used_memory(client.info(Some(fred::types::InfoKind::Memory)).await?);
    let keys: Vec<String> = {
        let mut out = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let (next, batch): (String, Vec<String>) = client
                .custom(fred::cmd!("SCAN"), vec![cursor.as_str(), "COUNT", "1000"])
                .await?;
            out.extend(batch);
            if next == "0" {
                break out;
            }
            cursor = next;
        }
    };
    let mut by_kind: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for key in &keys {
        let bytes: Option<u64> = client.memory_usage(key.as_str(), Some(0)).await?;
        let kind = key.split(':').nth(2).unwrap_or("?").to_owned();
        let entry = by_kind.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += bytes.unwrap_or(0);
    }
    let total: u64 = by_kind.values().map(|(_, b)| b).sum();
    println!("sessions: {n} (one per user, 100-byte data, default metadata)");
    println!("redis-server arguments: {extra_args:?}");
    println!("keys: {}", keys.len());
    for (kind, (count, bytes)) in &by_kind {
        println!("  {kind:>4}: {count:>7} keys, {bytes:>11} bytes");
    }
    println!("MEMORY USAGE total: {total} bytes");
    println!("bytes per session: {:.0}", total as f64 / n as f64);
    println!(
        "used_memory growth per session: {:.0}",
        after.saturating_sub(before) as f64 / n as f64
    );
    engine.shutdown().await?;
    Ok(())
}
