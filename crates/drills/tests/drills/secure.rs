//! The HA stack as production runs it: ACL roles, a Sentinel password, TLS only. The
//! API follows a kill -9 of the master and a forced failover, logged in as `app`, and
//! the replicas resync over TLS.

use std::time::{Duration, Instant};

use sessiondb_drills::api::{definitive, Outcome};
use sessiondb_drills::app::{engine_config, sentinel_connection, DrillApp};
use sessiondb_drills::drill::{
    kill_master, start_topology, wait_for_new_master, DrillOptions, Mode, Security,
};
use sessiondb_drills::probe::{self, Access, Reply, Role};
use sessiondb_drills::report::{outcome_line, table_header, table_row};
use tokio::task::block_in_place;

use crate::support::{eventually, role};

/// Short failure detection and fast Sentinel timers keep the tests quick.
const DOWN_AFTER_MS: u64 = 2000;

/// How many clients are connected to the data node on `port` as ACL user `user`
/// (`CLIENT LIST`).
fn clients_logged_in_as(access: &Access, port: u16, user: &str) -> Result<usize, String> {
    let list = match probe::query(access, port, &["CLIENT", "LIST"]) {
        Ok(Reply::Bulk(Some(list))) => list,
        other => return Err(format!("CLIENT LIST on {port}: {other:?}")),
    };
    let field = format!("user={user}");
    Ok(list
        .lines()
        .filter(|line| line.split(' ').any(|f| f == field))
        .count())
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_master_of_a_secure_topology_under_load_loses_no_acknowledged_write() {
    let mut options = DrillOptions::new(Mode::Replicated);
    options.security = Security::Secure;
    options.down_after_ms = DOWN_AFTER_MS;
    options.fast_timers = true;
    let report = kill_master(&options).await.expect("the drill runs");
    eprintln!(
        "{}\n{}\n{}",
        table_header(),
        table_row(1, &report),
        outcome_line(&report)
    );

    assert!(
        report.time_to_first_write.is_some(),
        "writes succeed again after the kill"
    );
    assert_ne!(report.new_master, report.old_master);
    let v = &report.verification;
    assert!(
        v.acked_creates > 0 && v.acked_updates > 0 && v.acked_refreshes > 0,
        "the load created, updated and refreshed: {v:?}"
    );
    assert_eq!(v.lost_writes, 0, "acknowledged writes lost: {v:?}");
    assert_eq!(v.false_reuse, 0, "retried refreshes taken for theft: {v:?}");
    assert_eq!(report.masters.max_role_masters, 1, "{:?}", report.masters);
    // The drill returned once the new master had a replica again: on this topology
    // replication runs over TLS only. The watcher (which logs in over TLS too) saw it.
    assert_eq!(
        report.masters_after_failover.max_masters_with_replicas, 1,
        "{:?}",
        report.masters_after_failover
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forced_failover_of_a_secure_topology_is_followed_by_the_api_logged_in_as_app() {
    let topology = start_topology(Mode::Replicated, DOWN_AFTER_MS, true, Security::Secure)
        .await
        .expect("topology starts");
    assert_eq!(topology.security(), Security::Secure);
    let access = topology.access();
    let (_, old) = topology.current_master().expect("master known");

    // Nothing answers in plaintext, and nothing without a password.
    let plain = probe::query(&Access::open(), old, &["PING"]);
    assert!(plain.is_err(), "plaintext PING answered: {plain:?}");
    let anonymous = Access {
        tls: access.tls.clone(),
        ..Access::open()
    };
    let refused = probe::query(&anonymous, old, &["GET", "drill:x"]);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("NOAUTH")),
        "a TLS client without a password was served: {refused:?}"
    );

    let connection = sentinel_connection(&topology);
    assert_eq!(connection.username.as_deref(), Some("app"));
    let app = DrillApp::start(
        &connection,
        engine_config(Mode::Replicated.durability()),
        Duration::from_secs(10),
    )
    .await
    .expect("app starts");
    app.wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");
    let api = app.api();
    let created = api
        .create("secure-user")
        .await
        .body
        .expect("session created before the failover");
    let on_old = block_in_place(|| clients_logged_in_as(&access, old, "app"));
    assert!(
        matches!(on_old, Ok(n) if n > 0),
        "the engine is connected to the master as app: {on_old:?}"
    );

    let (_, new) = block_in_place(|| topology.failover()).expect("forced failover");
    assert_ne!(old, new);

    let until = Instant::now() + Duration::from_secs(30);
    let update = definitive(until, || api.put(&created.session_token, 1))
        .await
        .expect("the update gets a definitive answer");
    assert_eq!(
        update.outcome,
        Outcome::Success(200),
        "write after failover"
    );
    let read = api.get(&created.session_token).await;
    assert_eq!(read.outcome, Outcome::Success(200));
    assert_eq!(read.body.expect("session body").seq(), 1);
    let on_new = block_in_place(|| clients_logged_in_as(&access, new, "app"));
    assert!(
        matches!(on_new, Ok(n) if n > 0),
        "the engine follows to the new master as app: {on_new:?}"
    );

    // The new master gets a replica back, and the demoted master resyncs from it.
    let with_replica = wait_for_new_master(&topology, old, Duration::from_secs(60))
        .await
        .expect("the new master has a replica");
    assert_eq!(with_replica, new);
    block_in_place(|| {
        eventually(
            "the old master to replicate from the new one over TLS",
            Duration::from_secs(60),
            || match role(&access, old)? {
                Role::Replica { master_port, link }
                    if master_port == new && link == "connected" =>
                {
                    Ok(())
                }
                other => Err(format!("role {other:?}")),
            },
        );
    });
    let after = definitive(Instant::now() + Duration::from_secs(30), || {
        api.create("secure-user")
    })
    .await
    .expect("a create gets a definitive answer");
    assert_eq!(after.outcome, Outcome::Success(201));
}
