//! `status` and `stats`: the figures match the sessions the engine holds, and the JSON
//! shapes are the documented ones.

use sessiondb_engine::UserId;
use sessiondb_local::{RedisCluster, RedisOptions, RedisServer, SentinelOptions, SentinelTopology};
use sessiondb_ops::{stats, status, ExitStatus, StatsOptions};

use crate::support::{assert_documented, cluster, create, engine, sentinel, standalone};

#[tokio::test]
async fn status_shows_every_node_the_sentinel_view_and_the_session_figures() -> anyhow::Result<()> {
    let topology = SentinelTopology::start(SentinelOptions::default())?;
    let conn = sentinel(&topology);
    let engine = engine(&conn, "st").await?;
    create(&engine, "ana", 2).await?;
    create(&engine, "bo", 1).await?;

    let report = status(&conn, "st").await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    assert_eq!(report.topology, "sentinel");
    let master = topology.current_master()?;
    let roles: Vec<(&str, bool)> = report
        .nodes
        .iter()
        .map(|n| (n.role.as_str(), n.reachable))
        .collect();
    assert_eq!(
        roles,
        [("master", true), ("replica", true), ("replica", true)],
        "{report}"
    );
    assert_eq!(
        report.nodes[0].address,
        format!("{}:{}", master.0, master.1)
    );
    for replica in &report.nodes[1..] {
        assert_eq!(
            replica.master.as_deref(),
            Some(report.nodes[0].address.as_str())
        );
        assert_eq!(replica.link.as_deref(), Some("up"));
        assert!(
            replica.lag_seconds.is_some() && replica.lag_bytes.is_some(),
            "{report}"
        );
    }
    assert_eq!(report.sentinels.len(), 3);
    for s in &report.sentinels {
        assert_eq!(s.master.as_deref(), Some(report.nodes[0].address.as_str()));
        assert_eq!(s.quorum, Some(2));
        assert_eq!(s.ckquorum_ok, Some(true));
        assert_eq!(s.sentinels_known, Some(3));
    }
    let figures = report.sessions.as_ref().expect("figures");
    assert_eq!((figures.live_sessions, figures.users), (3, 2));
    assert_eq!(figures.schema_version.as_deref(), Some("2"));
    assert_eq!(figures.last_cleanup_ms, None);
    assert_eq!(figures.last_backup_ms, None);
    let text = report.to_string();
    assert!(text.contains("last cleanup    unknown"), "{text}");
    assert!(text.contains("CKQUORUM"), "{text}");

    // The JSON shape documented in docs/operations.md.
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["status"], "ok");
    assert_eq!(json["topology"], "sentinel");
    for field in [
        "address",
        "role",
        "reachable",
        "error",
        "master",
        "link",
        "replication_offset",
        "lag_bytes",
        "lag_seconds",
        "used_memory",
        "maxmemory",
        "keys",
        "connected_clients",
        "uptime_seconds",
        "redis_version",
    ] {
        assert!(
            json["nodes"][0].get(field).is_some(),
            "nodes[].{field} missing: {json}"
        );
    }
    for field in [
        "address",
        "reachable",
        "error",
        "master",
        "flags",
        "quorum",
        "sentinels_known",
        "replicas_known",
        "ckquorum",
        "ckquorum_ok",
        "config_epoch",
        "failover_state",
    ] {
        assert!(
            json["sentinels"][0].get(field).is_some(),
            "sentinels[].{field} missing"
        );
    }
    assert!(json["cluster"].is_null());
    assert_eq!(json["sessions"]["live_sessions"], 3);
    assert_eq!(json["sessions"]["users"], 2);
    assert_eq!(json["sessions"]["schema_version"], "2");
    assert!(json["sessions"]["last_cleanup_ms"].is_null());
    assert!(json["sessions"]["last_backup_ms"].is_null());
    assert!(json["sessions_error"].is_null());
    assert_documented(&json);
    engine.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn status_shows_the_cluster_shards() -> anyhow::Result<()> {
    let nodes = RedisCluster::start(3, None)?;
    let conn = cluster(nodes.seed_nodes());
    let engine = engine(&conn, "cs").await?;
    for user in ["a", "b", "c", "d"] {
        create(&engine, user, 1).await?;
    }
    let report = status(&conn, "cs").await?;
    assert_eq!(report.exit_status(), ExitStatus::Ok, "{report}");
    let cluster = report.cluster.as_ref().expect("cluster status");
    assert_eq!(cluster.state.as_deref(), Some("ok"));
    assert_eq!(cluster.shards.len(), 3);
    assert_eq!(
        cluster.shards.iter().map(|s| s.slot_count).sum::<u32>(),
        16384
    );
    assert_eq!(report.nodes.len(), 3);
    assert_eq!(report.sessions.as_ref().map(|f| f.live_sessions), Some(4));
    let json = serde_json::to_value(&report)?;
    for field in ["master", "slots", "slot_count", "replicas", "failing"] {
        assert!(
            json["cluster"]["shards"][0].get(field).is_some(),
            "shards[].{field} missing"
        );
    }
    for field in [
        "state",
        "slots_assigned",
        "slots_ok",
        "slots_pfail",
        "slots_fail",
        "known_nodes",
        "current_epoch",
    ] {
        assert!(
            json["cluster"].get(field).is_some(),
            "cluster.{field} missing"
        );
    }
    engine.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn status_of_nothing_is_an_error() -> anyhow::Result<()> {
    let nowhere =
        sessiondb_engine::ConnectionConfig::standalone("127.0.0.1", sessiondb_local::free_port()?);
    let error = status(&nowhere, "sdb").await.expect_err("nothing answers");
    assert!(
        error.to_string().contains("no data node answered"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn stats_count_sessions_per_user_and_events_per_minute() -> anyhow::Result<()> {
    let server = RedisServer::start(RedisOptions::default())?;
    let conn = standalone(&server);
    let engine = engine(&conn, "sx").await?;
    create(&engine, "one", 1).await?;
    create(&engine, "two", 2).await?;
    let three = create(&engine, "three", 3).await?;
    create(&engine, "seven", 7).await?; // the cap (5) evicts two
    engine.revoke(&three[0].session_token).await?;
    engine.flush_events().await;

    let options = StatsOptions {
        top: 2,
        ..StatsOptions::default()
    };
    let report = stats(&conn, "sx", &options).await?;
    assert_eq!(report.live_sessions, 1 + 2 + 2 + 5);
    assert_eq!(report.users, 4);
    assert_eq!(report.users_counted, 4);
    let rows: Vec<(u32, u64)> = report
        .distribution
        .iter()
        .map(|r| (r.sessions, r.users))
        .collect();
    assert_eq!(rows, [(1, 1), (2, 2), (3, 0), (4, 0), (5, 1)], "{report}");
    assert_eq!(report.events.window_seconds, 60);
    assert!(!report.events.truncated);
    let rate = |kind: &str| report.events.per_minute.get(kind).copied();
    assert_eq!(rate("created"), Some(13.0));
    assert_eq!(rate("evicted"), Some(2.0));
    assert_eq!(rate("revoked"), Some(1.0));
    assert_eq!(rate("refreshed"), Some(0.0));
    assert_eq!(rate("reuse_detected"), Some(0.0));
    let top: Vec<(Option<&str>, u64)> = report
        .top_users
        .iter()
        .map(|u| (u.user_id.as_deref(), u.sessions))
        .collect();
    assert_eq!(top, [(None, 5), (None, 2)], "ids are hidden unless asked");
    assert!(!report.to_string().contains("seven"));

    let shown = stats(
        &conn,
        "sx",
        &StatsOptions {
            top: 1,
            show_users: true,
            ..StatsOptions::default()
        },
    )
    .await?;
    assert_eq!(shown.top_users[0].user_id.as_deref(), Some("seven"));
    assert!(shown.to_string().contains("seven"));
    UserId::parse("seven")?;

    // The JSON shape documented in docs/operations.md.
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["live_sessions"], 10);
    assert_eq!(json["users"], 4);
    assert_eq!(json["users_counted"], 4);
    assert_eq!(
        json["distribution"][0],
        serde_json::json!({"sessions": 1, "users": 1})
    );
    assert_eq!(
        json["top_users"][0],
        serde_json::json!({"user_id": null, "sessions": 5})
    );
    assert_eq!(json["events"]["window_seconds"], 60);
    assert_eq!(json["events"]["counted"], 16);
    assert_eq!(json["events"]["truncated"], false);
    assert_eq!(json["events"]["per_minute"]["created"], 13.0);
    assert_documented(&json);
    engine.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn stats_on_a_cluster_read_every_shard() -> anyhow::Result<()> {
    let nodes = RedisCluster::start(3, None)?;
    let conn = cluster(nodes.seed_nodes());
    let engine = engine(&conn, "sc").await?;
    for (i, user) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        create(&engine, user, i % 3 + 1).await?;
    }
    engine.flush_events().await;
    let report = stats(&conn, "sc", &StatsOptions::default()).await?;
    assert_eq!(report.live_sessions, 12);
    assert_eq!(report.users, 6);
    let rows: Vec<u64> = report.distribution.iter().map(|r| r.users).collect();
    assert_eq!(rows, [2, 2, 2, 0, 0]);
    assert_eq!(report.events.per_minute.get("created").copied(), Some(12.0));
    engine.shutdown().await?;
    Ok(())
}
