//! The roles on an HA stack (master, two replicas, three Sentinels) as `sessiondb local
//! up --ha` runs it: every data node loads the generated file, replicas and Sentinels
//! log in as `sentinel`, the Sentinels require their own password.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::ensure;
use sessiondb_acl::Role;
use sessiondb_engine::{ConnectionConfig, Durability, Engine, EngineConfig};
use sessiondb_local::resp::Connection;
use sessiondb_local::stack::{
    supervise, wait_running, write_env_file, NodeKind, StackDir, StackError, StackMode,
    StackPasswords, StackState, Topology, TopologyOptions, STACK_KEY_PREFIX,
};
use sessiondb_local::SecretString;

use crate::support::engine_config;
use crate::{every_engine_operation, expired_logins};

/// The supervisor thread of an in-process stack; stops it when dropped.
struct Supervised {
    shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), StackError>>>,
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn start_ha_stack(dir: &StackDir) -> anyhow::Result<(Topology, StackPasswords, Supervised)> {
    dir.create()?;
    let topology = Topology::plan(&TopologyOptions {
        mode: StackMode::Ha,
        down_after_ms: 1000,
        fast_timers: true,
        ..TopologyOptions::default()
    })?;
    let (passwords, _) = StackPasswords::from_env_or_generate(|_| None)?;
    write_env_file(&dir.env_file(), &topology, &passwords, None)?;
    dir.save_state(&StackState::new(topology.clone()))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    let thread = {
        let (dir, shutdown) = (dir.clone(), shutdown.clone());
        std::thread::spawn(move || supervise(&dir, &shutdown, &mut |_| {}))
    };
    let supervised = Supervised {
        shutdown,
        thread: Some(thread),
    };
    wait_running(dir, std::process::id(), Duration::from_secs(60), || {
        supervised
            .thread
            .as_ref()
            .is_some_and(JoinHandle::is_finished)
            .then(|| "the supervisor returned".to_owned())
    })?;
    Ok((topology, passwords, supervised))
}

/// The refused commands and keys in the ACL log of the data node on `port`.
fn acl_log(port: u16, admin: &SecretString) -> anyhow::Result<usize> {
    let mut conn = Connection::open("127.0.0.1", port, Some(admin))?;
    let reply = conn.call(&["ACL", "LOG"])?;
    Ok(reply.items().map_or(0, <[_]>::len))
}

#[tokio::test]
async fn app_runs_every_operation_through_sentinel_with_sentinel_auth_and_replicated_writes(
) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = StackDir::new(temp.path().join("stack"))?;
    let (topology, passwords, _supervised) = start_ha_stack(&dir)?;

    let mut conn = ConnectionConfig::standalone("unused", 0);
    conn.topology = sessiondb_engine::Topology::Sentinel {
        sentinels: topology
            .sentinels()
            .map(|s| ("127.0.0.1".to_owned(), s.port))
            .collect(),
        service_name: topology.service_name.clone(),
        sentinel_username: None,
        sentinel_password: Some(passwords.sentinel.clone()),
    };
    conn.username = Some(Role::App.user().to_owned());
    conn.password = Some(passwords.app.clone());
    conn.pool_size = 2;
    // Replicated durability, as Sentinel deployments run it: every write is followed by
    // WAIT, which `app` must be allowed too.
    let config = EngineConfig {
        key_prefix: STACK_KEY_PREFIX.to_owned(),
        durability: Durability::Replicated {
            replicas: 1,
            timeout: Duration::from_secs(5),
        },
        ..engine_config()
    };
    expired_logins(
        &conn,
        &config,
        &["acl-short-1", "acl-short-2", "acl-short-3", "acl-short-3"],
    )
    .await?;
    let engine = Engine::connect(&conn, config).await?;
    every_engine_operation(&engine).await?;
    engine.shutdown().await?;

    // Nobody was refused anything on any data node: not `app`, not the replicas'
    // replication stream, not the Sentinels' monitoring.
    for node in topology.nodes.iter().filter(|n| n.kind == NodeKind::Redis) {
        let refused = acl_log(node.port, &passwords.admin)?;
        ensure!(refused == 0, "{}: {refused} ACL LOG entries", node.name);
    }
    // The Sentinels answer only with their password.
    let sentinel = topology.sentinel_ports()[0];
    let mut anonymous = Connection::open("127.0.0.1", sentinel, None)?;
    let reply = anonymous.call_raw(&["SENTINEL", "MASTERS"])?;
    ensure!(
        matches!(&reply, sessiondb_local::resp::Reply::Error(e) if e.starts_with("NOAUTH")),
        "{reply:?}"
    );
    Ok(())
}
