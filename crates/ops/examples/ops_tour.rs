//! Runs every operation once on a throw-away HA topology (a master, two replicas,
//! three Sentinels, with the append-only file) holding a few sessions, and prints what
//! each reports: the text output of `health`, `status`, `stats`, `backup`, `restore`
//! (dry run), `pitr` and the `redis-cli` invocation. With `--json`, the JSON instead.
//!
//! ```sh
//! cargo run -p sessiondb-ops --example ops_tour
//! cargo run -p sessiondb-ops --example ops_tour -- --json
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, NewSession, Topology, UserId};
use sessiondb_local::{SentinelOptions, SentinelTopology};
use sessiondb_ops::{
    backup, health, pitr, redis_cli_command, restore, stats, status, BackupOptions, HealthOptions,
    PitrOptions, ReadFrom, RestoreOptions, StatsOptions,
};

fn show<T: std::fmt::Display + serde::Serialize>(
    json: bool,
    title: &str,
    report: &T,
) -> anyhow::Result<()> {
    println!("$ {title}");
    if json {
        println!("{}\n", serde_json::to_string_pretty(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let json = std::env::args().any(|a| a == "--json");
    let mut topology = SentinelTopology::start(SentinelOptions {
        appendonly: true,
        ..SentinelOptions::default()
    })?;
    let mut conn = ConnectionConfig::standalone("unused", 0);
    conn.topology = Topology::Sentinel {
        sentinels: topology.sentinel_addrs(),
        service_name: topology.service_name().to_owned(),
        sentinel_username: None,
        sentinel_password: None,
    };
    let engine = Engine::connect(&conn, EngineConfig::default()).await?;
    for (user, n) in [("ana", 1), ("bo", 2), ("chen", 2), ("dee", 5), ("eli", 7)] {
        for _ in 0..n {
            engine
                .create(NewSession {
                    user_id: UserId::parse(user)?,
                    data: Default::default(),
                    metadata: Default::default(),
                    idle_ttl: None,
                })
                .await?;
        }
    }
    engine.flush_events().await;
    let work = tempfile::tempdir()?;
    let file = work.path().join("sessions.sdbbackup");

    show(
        json,
        "sessiondb health",
        &health(&conn, "sdb", &HealthOptions::default()).await?,
    )?;
    let report = backup(
        &conn,
        "sdb",
        &file,
        &BackupOptions {
            from: ReadFrom::Replica,
        },
        None,
    )
    .await?;
    show(
        json,
        "sessiondb backup --from replica --out sessions.sdbbackup",
        &report,
    )?;
    show(json, "sessiondb status", &status(&conn, "sdb").await?)?;
    show(
        json,
        "sessiondb stats",
        &stats(&conn, "sdb", &StatsOptions::default()).await?,
    )?;
    let dry = RestoreOptions {
        dry_run: true,
        ..RestoreOptions::default()
    };
    show(
        json,
        "sessiondb restore --dry-run sessions.sdbbackup",
        &restore(&conn, "sdb", &file, &dry, None).await?,
    )?;
    let mut master = topology.master()?.dir().to_owned();
    master.push("appendonlydir");
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let options = PitrOptions {
        aof_dir: master,
        to_unix_seconds: now,
        work_dir: Some(work.path().to_owned()),
    };
    let recovered = pitr("sdb", &options, &work.path().join("pitr.sdbbackup"), None).await?;
    show(
        json,
        "sessiondb pitr --aof-dir DIR --to NOW --out pitr.sdbbackup",
        &recovered,
    )?;
    let cli = redis_cli_command(&conn).await?;
    println!("$ sessiondb redis-cli\n{cli}\n");
    engine.shutdown().await?;
    Ok(())
}
