//! Measures backup and restore: creates N sessions (two per user, 100-byte data) with
//! the engine on a fresh redis-server, times `stats` and `status` on them, backs them
//! up, restores the file into another fresh redis-server, and prints the time of each
//! step and the file's size. With
//! `--pitr`, the source runs with the append-only file and a point-in-time recovery to
//! the current second is timed too.
//!
//! ```sh
//! cargo run --release -p sessiondb-ops --example backup_figures -- 1000000
//! cargo run --release -p sessiondb-ops --example backup_figures -- 100000 --pitr
//! ```

use std::time::{Duration, Instant};

use futures::{stream, StreamExt, TryStreamExt};
use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, NewSession, UserId};
use sessiondb_local::{RedisOptions, RedisServer};
use sessiondb_ops::{
    backup, pitr, restore, stats, status, BackupOptions, PitrOptions, RestoreOptions, StatsOptions,
};

fn conn(server: &RedisServer) -> ConnectionConfig {
    ConnectionConfig {
        command_timeout: Duration::from_secs(30),
        ..ConnectionConfig::standalone("127.0.0.1", server.port())
    }
}

/// CPU seconds the server has used (user + system).
fn cpu(server: &RedisServer) -> anyhow::Result<f64> {
    let info = server.cli(&["INFO", "cpu"])?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(name)?.parse().ok())
            .unwrap_or(0.0)
    };
    Ok(field("used_cpu_user:") + field("used_cpu_sys:"))
}

fn used_memory(server: &RedisServer) -> anyhow::Result<u64> {
    Ok(server
        .cli(&["INFO", "memory"])?
        .lines()
        .find_map(|l| l.trim().strip_prefix("used_memory:")?.parse().ok())
        .unwrap_or(0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(100_000), |a| a.parse())?;
    let with_pitr = std::env::args().any(|a| a == "--pitr");
    let work = tempfile::tempdir()?;
    let source = RedisServer::start(RedisOptions {
        appendonly: with_pitr,
        ..RedisOptions::default()
    })?;
    let mut config = EngineConfig::default();
    config.events.enabled = false;
    let engine = Engine::connect(&conn(&source), config).await?;

    let started = Instant::now();
    let data: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format!("{{\"blob\":\"{}\"}}", "x".repeat(90)))?;
    stream::iter(0..n)
        .map(|i| {
            let (engine, data) = (engine.clone(), data.clone());
            async move {
                let request = NewSession {
                    user_id: UserId::parse(format!("user-{}", i / 2))?,
                    data,
                    metadata: Default::default(),
                    idle_ttl: None,
                };
                engine.create(request).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(256)
        .try_for_each(|()| async { Ok(()) })
        .await?;
    println!(
        "created {n} sessions ({} users) in {:.1} s; used_memory {:.0} MiB",
        n.div_ceil(2),
        started.elapsed().as_secs_f64(),
        used_memory(&source)? as f64 / 1048576.0
    );
    engine.shutdown().await?;

    let cpu_before = cpu(&source)?;
    let started = Instant::now();
    let figures = stats(&conn(&source), "sdb", &StatsOptions::default()).await?;
    println!(
        "stats: {} users counted in {:.2} s (Redis CPU {:.2} s)",
        figures.users_counted,
        started.elapsed().as_secs_f64(),
        cpu(&source)? - cpu_before
    );
    let started = Instant::now();
    status(&conn(&source), "sdb").await?;
    println!("status: {:.2} s", started.elapsed().as_secs_f64());

    let file = work.path().join("sessions.sdbbackup");
    let cpu_before = cpu(&source)?;
    let started = Instant::now();
    let report = backup(
        &conn(&source),
        "sdb",
        &file,
        &BackupOptions::default(),
        None,
    )
    .await?;
    let backup_secs = started.elapsed().as_secs_f64();
    println!(
        "backup: {} keys ({} users) in {backup_secs:.1} s (Redis CPU {:.1} s), file {:.1} MiB ({:.0} bytes per session)",
        report.header.key_count,
        report.counts.users,
        cpu(&source)? - cpu_before,
        report.bytes as f64 / 1048576.0,
        report.bytes as f64 / n as f64
    );

    let target = RedisServer::start(RedisOptions::default())?;
    let cpu_before = cpu(&target)?;
    let started = Instant::now();
    let restored = restore(
        &conn(&target),
        "sdb",
        &file,
        &RestoreOptions::default(),
        None,
    )
    .await?;
    println!(
        "restore: {} users, {} records in {:.1} s (verification included; Redis CPU {:.1} s)",
        restored.users.restored,
        restored.records_restored,
        started.elapsed().as_secs_f64(),
        cpu(&target)? - cpu_before
    );
    anyhow::ensure!(
        restored.records_restored as usize == n,
        "every session restored"
    );

    if with_pitr {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let out = work.path().join("pitr.sdbbackup");
        let started = Instant::now();
        let options = PitrOptions {
            aof_dir: source.dir().to_owned(),
            to_unix_seconds: now,
            work_dir: Some(work.path().to_owned()),
        };
        let report = pitr("sdb", &options, &out, None).await?;
        println!(
            "pitr: {} keys in {:.1} s (copy, check, load and backup)",
            report.backup.header.key_count,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
