//! The roles on a Redis Cluster of three masters with a replica each, every node loading
//! the generated `users.acl`: each role sends exactly its `sessiondb` and `cluster` lists
//! (the commands counted on all nodes together) and is refused nothing on any node.
//!
//! On a Cluster the client reads the slot layout, tells its replica connections
//! `READONLY` and follows ASK redirections with `ASKING`; the operations read the node
//! table. ASK redirections only happen while a slot migrates, so each role also works
//! while one slot it uses is mid-migration (MIGRATING on its master, IMPORTING on
//! another master, no key in it yet): every command on that slot is answered with an
//! ASK redirection to the importing master.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use anyhow::{ensure, Context as _};
use sessiondb_acl::{render_with, DefaultUser, Passwords, Role, SecretString};
use sessiondb_engine::{
    CleanupOptions, ConnectionConfig, DeletionTarget, Durability, Engine, EngineConfig, ReadFrom,
    Topology, UserId,
};
use sessiondb_local::resp::{Connection, Reply};
use sessiondb_local::{ClusterOptions, RedisCluster};

use crate::support::{acl_log, check_exactly, commands_seen, engine_config, reset_node, PREFIX};
use crate::{every_engine_operation, expired_logins, health_and_status, new_session};

/// The user whose bucket's slot migrates while `app`, `cleanup` and `monitor` work (no
/// role writes to it otherwise).
const MIGRATING_USER: &str = "acl-ask";

/// What the nodes counted while a role worked: the commands (all nodes together) and
/// the refusals (each prefixed with its node).
#[derive(Default)]
struct Observed {
    seen: BTreeSet<String>,
    refused: Vec<String>,
}

impl Observed {
    fn add(&mut self, other: Observed) {
        self.seen.extend(other.seen);
        self.refused.extend(other.refused);
    }

    /// Checks that `role` was refused nothing and sent exactly its `sessiondb` and
    /// `cluster` lists (every role here connects with `read_from = replica_preferred`).
    fn assert_exactly(&self, role: Role) -> anyhow::Result<()> {
        let p = role.permissions();
        let listed: Vec<&str> = p.sessiondb.iter().chain(p.cluster).copied().collect();
        check_exactly(role, &self.refused, &self.seen, &listed)
    }
}

/// One line of `CLUSTER NODES`: id, port, whether a master, its slot ranges.
struct NodeEntry {
    id: String,
    port: u16,
    master: bool,
    slots: Vec<(u16, u16)>,
}

impl NodeEntry {
    fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
    }
}

/// A slot mid-migration from `source` to `target` (node ids and ports).
struct Migration {
    slot: u16,
    source: (String, u16),
    target: (String, u16),
}

/// A Cluster whose nodes load the generated file, with the `default` user as a second
/// admin (which the fixture's `--cluster create`, replication and probes use).
struct AclCluster {
    cluster: RedisCluster,
    passwords: Passwords,
    /// What replication makes the nodes count, left out of the comparisons (see
    /// [`AclCluster::observe`]).
    replication: Replication,
    _dir: tempfile::TempDir,
}

/// The commands the nodes count for replication rather than for a client: on a master
/// the replicas' `REPLCONF ACK`s; on a replica the stream its master sends (every
/// write command, `MULTI`/`EXEC` around a script's writes, `SELECT`, the periodic
/// `PING`, `REPLCONF GETACK`).
struct Replication {
    on_masters: BTreeSet<String>,
    on_replicas: BTreeSet<String>,
}

impl Replication {
    /// Asks a node (`admin`: logged in as admin) for its write commands.
    fn ask(admin: &mut Connection) -> anyhow::Result<Self> {
        let writes = admin.call(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "write"])?;
        let mut on_replicas: BTreeSet<String> = writes
            .items()
            .context("COMMAND LIST is an array")?
            .iter()
            .filter_map(|name| name.text().map(str::to_ascii_lowercase))
            .collect();
        ensure!(
            on_replicas.contains("set"),
            "write commands: {on_replicas:?}"
        );
        on_replicas.extend(["multi", "exec", "select", "ping", "replconf"].map(str::to_owned));
        Ok(Self {
            on_masters: BTreeSet::from(["replconf".to_owned()]),
            on_replicas,
        })
    }
}

impl AclCluster {
    fn start() -> anyhow::Result<Self> {
        let passwords = Passwords::from_fn(|r| Some(SecretString::from(format!("test-{r}-pw"))));
        let dir = tempfile::tempdir()?;
        let acl = dir.path().join("users.acl");
        std::fs::write(&acl, render_with(&passwords, PREFIX, DefaultUser::Admin)?)?;
        let cluster = RedisCluster::start_with_options(ClusterOptions {
            masters: 3,
            replicas: 1,
            password: passwords.get(Role::Admin).cloned(),
            acl_file: Some(acl),
        })?;
        let mut admin = Connection::open_as(
            "127.0.0.1",
            cluster.seed_nodes()[0].1,
            Role::Admin.user(),
            passwords.get(Role::Admin).context("admin password")?,
        )?;
        let replication = Replication::ask(&mut admin)?;
        Ok(Self {
            cluster,
            passwords,
            replication,
            _dir: dir,
        })
    }

    fn password(&self, role: Role) -> &SecretString {
        self.passwords.get(role).expect("all set")
    }

    fn ports(&self) -> Vec<u16> {
        self.cluster
            .seed_nodes()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// How the engine and the operations reach the Cluster as `role` (every node a
    /// seed), listings from replicas.
    fn connection(&self, role: Role) -> ConnectionConfig {
        let mut conn = ConnectionConfig::standalone("unused", 0);
        conn.topology = Topology::Cluster {
            nodes: self.cluster.seed_nodes(),
        };
        conn.username = Some(role.user().to_owned());
        conn.password = Some(self.password(role).clone());
        conn.pool_size = 2;
        conn.read_from = ReadFrom::ReplicaPreferred;
        conn
    }

    fn admin(&self, port: u16) -> anyhow::Result<Connection> {
        Ok(Connection::open_as(
            "127.0.0.1",
            port,
            Role::Admin.user(),
            self.password(Role::Admin),
        )?)
    }

    /// The node table as the first node sees it.
    fn layout(&self) -> anyhow::Result<Vec<NodeEntry>> {
        self.layout_on(self.ports()[0])
    }

    /// The node table as the node on `port` sees it.
    fn layout_on(&self, port: u16) -> anyhow::Result<Vec<NodeEntry>> {
        let reply = self.admin(port)?.call(&["CLUSTER", "NODES"])?;
        let text = reply.text().context("CLUSTER NODES is text")?;
        let mut nodes = Vec::new();
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            ensure!(parts.len() >= 8, "CLUSTER NODES line {line:?}");
            let endpoint = parts[1].split(['@', ',']).next().unwrap_or_default();
            let (_, node_port) = endpoint.rsplit_once(':').context("node address")?;
            let mut slots = Vec::new();
            for range in parts[8..].iter().filter(|s| !s.starts_with('[')) {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                slots.push((a.parse()?, b.parse()?));
            }
            nodes.push(NodeEntry {
                id: parts[0].to_owned(),
                port: node_port.parse()?,
                master: parts[2].split(',').any(|f| f == "master"),
                slots,
            });
        }
        Ok(nodes)
    }

    fn masters(&self) -> anyhow::Result<Vec<NodeEntry>> {
        Ok(self.layout()?.into_iter().filter(|n| n.master).collect())
    }

    /// Empties every master (and so its replica) and waits until the replicas are empty
    /// too.
    async fn flush(&self) -> anyhow::Result<()> {
        for master in self.masters()? {
            self.admin(master.port)?.call(&["FLUSHALL"])?;
        }
        let ports = self.ports();
        crate::support::eventually(Duration::from_secs(10), "every node is empty", || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    let reply = self.admin(port)?.call(&["DBSIZE"])?;
                    if !matches!(reply, Reply::Integer(0)) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        })
        .await
    }

    /// The Cluster slot of `key`.
    fn slot_of(&self, key: &str) -> anyhow::Result<u16> {
        let reply = self
            .admin(self.ports()[0])?
            .call(&["CLUSTER", "KEYSLOT", key])?;
        match reply {
            Reply::Integer(n) => Ok(u16::try_from(n)?),
            other => anyhow::bail!("CLUSTER KEYSLOT answered {other:?}"),
        }
    }

    /// The slot of `user`'s bucket.
    fn slot_of_user(&self, user: &str) -> anyhow::Result<u16> {
        let tag = UserId::parse(user)?.tag();
        self.slot_of(&format!("{PREFIX}:{{{tag}}}:"))
    }

    /// The master that owns `slot`.
    fn owner(&self, slot: u16) -> anyhow::Result<NodeEntry> {
        self.masters()?
            .into_iter()
            .find(|m| m.owns(slot))
            .with_context(|| format!("no master owns slot {slot}"))
    }

    /// Puts `slot`, which must hold no key, mid-migration: MIGRATING on its master,
    /// IMPORTING on another master.
    fn start_migration(&self, slot: u16) -> anyhow::Result<Migration> {
        let source = self.owner(slot)?;
        let target = self
            .masters()?
            .into_iter()
            .find(|m| m.id != source.id)
            .context("a second master")?;
        let slot_text = slot.to_string();
        let keys = self
            .admin(source.port)?
            .call(&["CLUSTER", "COUNTKEYSINSLOT", &slot_text])?;
        ensure!(
            matches!(keys, Reply::Integer(0)),
            "slot {slot} holds keys ({keys:?}): pick another one"
        );
        let setslot = |port: u16, state: &str, node: &str| {
            self.admin(port)?
                .call(&["CLUSTER", "SETSLOT", &slot_text, state, node])
                .map_err(anyhow::Error::from)
        };
        setslot(target.port, "IMPORTING", &source.id)?;
        setslot(source.port, "MIGRATING", &target.id)?;
        Ok(Migration {
            slot,
            source: (source.id, source.port),
            target: (target.id, target.port),
        })
    }

    /// Completes `migration`: the importing master owns the slot (with any key created
    /// there). Every master is told; waits until every node says so.
    async fn finish_migration(&self, migration: &Migration) -> anyhow::Result<()> {
        let slot = migration.slot;
        let slot_text = slot.to_string();
        let target_id = migration.target.0.as_str();
        let mut ports = vec![migration.target.1, migration.source.1];
        for master in self.masters()? {
            if !ports.contains(&master.port) {
                ports.push(master.port);
            }
        }
        for port in ports {
            self.admin(port)?
                .call(&["CLUSTER", "SETSLOT", &slot_text, "NODE", target_id])?;
        }
        let what = format!("every node sees slot {slot} on its new master");
        crate::support::eventually(Duration::from_secs(10), &what, || async {
            for port in self.ports() {
                let owner = self.layout_on(port)?.into_iter().find(|n| n.owns(slot));
                if owner.is_none_or(|n| n.id != target_id) {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .await
    }

    /// Forgets every node's statistics and ACL log, runs `work`, and returns what the
    /// nodes counted meanwhile, replication's own commands left out. (Leaving them out
    /// hides nothing the role may not send: a command it sent without permission is in
    /// the ACL log.)
    async fn observe<F, Fut>(&self, work: F) -> anyhow::Result<Observed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let masters: BTreeSet<u16> = self.masters()?.iter().map(|m| m.port).collect();
        for port in self.ports() {
            reset_node(&mut self.admin(port)?)?;
        }
        work().await?;
        let mut observed = Observed::default();
        for port in self.ports() {
            let mut admin = self.admin(port)?;
            observed.refused.extend(
                acl_log(&mut admin)?
                    .into_iter()
                    .map(|line| format!("node {port}: {line}")),
            );
            let replication = if masters.contains(&port) {
                &self.replication.on_masters
            } else {
                &self.replication.on_replicas
            };
            observed.seen.extend(
                commands_seen(&mut admin)?
                    .into_iter()
                    .filter(|c| !replication.contains(c)),
            );
        }
        Ok(observed)
    }

    /// [`AclCluster::observe`] while `slot` (which must hold no key) migrates: the
    /// commands `work` sends on that slot are answered with an ASK redirection, which
    /// the client follows with `ASKING`. fred 10.1 then sends the command itself back
    /// to the migrating master instead of the one named in the redirection, which
    /// redirects it again until the client gives up: the redirected operation fails
    /// whatever the permissions, so `work` does not check its outcome; what counts here
    /// is that `ASKING` was sent and nothing refused.
    async fn observe_redirected<F, Fut>(&self, slot: u16, work: F) -> anyhow::Result<Observed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let migration = self.start_migration(slot)?;
        let observed = self.observe(work).await;
        self.finish_migration(&migration).await?;
        let observed = observed?;
        ensure!(
            observed.seen.contains("asking"),
            "no ASK redirection happened while slot {slot} migrated"
        );
        Ok(observed)
    }
}

/// Writes wait for the replica, so listings from replicas see them.
fn replicated(config: EngineConfig) -> EngineConfig {
    EngineConfig {
        durability: Durability::Replicated {
            replicas: 1,
            timeout: Duration::from_secs(5),
        },
        ..config
    }
}

async fn app(cluster: &AclCluster) -> anyhow::Result<Observed> {
    cluster.flush().await?;
    let conn = cluster.connection(Role::App);
    let config = replicated(engine_config());
    expired_logins(
        &conn,
        &config,
        &["acl-short-1", "acl-short-2", "acl-short-3", "acl-short-3"],
    )
    .await?;
    let mut observed = cluster
        .observe(|| async {
            let engine = Engine::connect(&conn, config.clone()).await?;
            every_engine_operation(&engine).await?;
            engine.shutdown().await?;
            Ok(())
        })
        .await?;
    let slot = cluster.slot_of_user(MIGRATING_USER)?;
    observed.add(
        cluster
            .observe_redirected(slot, || async {
                let engine = Engine::connect(&conn, engine_config()).await?;
                let _ = engine.create(new_session(MIGRATING_USER)?).await;
                engine.shutdown().await?;
                Ok(())
            })
            .await?,
    );
    Ok(observed)
}

async fn cleanup(cluster: &AclCluster) -> anyhow::Result<Observed> {
    cluster.flush().await?;
    let app = cluster.connection(Role::App);
    let config = replicated(engine_config());
    Engine::connect(&app, config.clone())
        .await?
        .shutdown()
        .await?;
    expired_logins(&app, &config, &["acl-short-1", "acl-short-2"]).await?;
    let conn = cluster.connection(Role::Cleanup);
    let mut observed = cluster
        .observe(|| async {
            let engine = Engine::connect(&conn, engine_config()).await?;
            let report = engine.cleanup(CleanupOptions::default()).await?;
            ensure!(report.ran && report.removed == 2, "{report:?}");
            engine.flush_events().await;
            engine.shutdown().await?;
            Ok(())
        })
        .await?;
    // The pass visits every bucket, the migrating one too.
    let slot = cluster.slot_of_user(MIGRATING_USER)?;
    observed.add(
        cluster
            .observe_redirected(slot, || async {
                let engine = Engine::connect(&conn, engine_config()).await?;
                let _ = engine.cleanup(CleanupOptions::default()).await;
                engine.shutdown().await?;
                Ok(())
            })
            .await?,
    );
    Ok(observed)
}

/// An emptied cluster and an engine logged in as `app` whose writes wait for a replica,
/// to write what a role's run then reads.
async fn app_on_empty(cluster: &AclCluster) -> anyhow::Result<Engine> {
    cluster.flush().await?;
    Ok(Engine::connect(&cluster.connection(Role::App), replicated(engine_config())).await?)
}

async fn backup(cluster: &AclCluster) -> anyhow::Result<Observed> {
    let engine = app_on_empty(cluster).await?;
    for user in ["acl-user-1", "acl-user-2", "acl-user-2"] {
        engine.create(new_session(user)?).await?;
    }
    engine
        .issue_deletion_token(&DeletionTarget::User {
            user_id: UserId::parse("acl-user-1")?,
        })
        .await?;
    engine.flush_events().await;
    engine.shutdown().await?;
    let dir = tempfile::tempdir()?;
    let conn = cluster.connection(Role::Backup);
    let run = |from: sessiondb_ops::ReadFrom, name: &'static str| {
        let (conn, file) = (&conn, dir.path().join(name));
        async move {
            sessiondb_ops::backup(
                conn,
                PREFIX,
                &file,
                &sessiondb_ops::BackupOptions { from },
                None,
            )
            .await
        }
    };
    // From the masters, then from the replicas (READONLY connections).
    let mut observed = cluster
        .observe(|| async {
            for (from, name) in [
                (sessiondb_ops::ReadFrom::Master, "masters.sdbbak"),
                (sessiondb_ops::ReadFrom::Replica, "replicas.sdbbak"),
            ] {
                let report = run(from, name).await?;
                ensure!(
                    report.exit_status() == sessiondb_ops::ExitStatus::Ok,
                    "{report}"
                );
            }
            Ok(())
        })
        .await?;
    // The success marker's SET, while its slot migrates.
    let marker = format!("{PREFIX}:backup:last");
    let slot = cluster.slot_of(&marker)?;
    cluster
        .admin(cluster.owner(slot)?.port)?
        .call(&["DEL", &marker])?;
    observed.add(
        cluster
            .observe_redirected(slot, || async {
                let _ = run(sessiondb_ops::ReadFrom::Master, "redirected.sdbbak").await;
                Ok(())
            })
            .await?,
    );
    Ok(observed)
}

async fn monitor(cluster: &AclCluster) -> anyhow::Result<Observed> {
    let engine = app_on_empty(cluster).await?;
    engine.create(new_session("acl-user-1")?).await?;
    engine.cleanup(CleanupOptions::default()).await?;
    engine.shutdown().await?;
    let conn = cluster.connection(Role::Monitor);
    let mut observed = cluster.observe(|| health_and_status(&conn)).await?;
    // `status` reads every bucket's counter, the migrating one's too.
    let slot = cluster.slot_of_user(MIGRATING_USER)?;
    observed.add(
        cluster
            .observe_redirected(slot, || async {
                let _ = sessiondb_ops::status(&conn, PREFIX).await;
                Ok(())
            })
            .await?,
    );
    Ok(observed)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_sends_exactly_its_lists_on_a_cluster() -> anyhow::Result<()> {
    let cluster = tokio::task::block_in_place(AclCluster::start)?;
    let mut failures = Vec::new();
    for (role, observed) in [
        (Role::App, app(&cluster).await),
        (Role::Cleanup, cleanup(&cluster).await),
        (Role::Backup, backup(&cluster).await),
        (Role::Monitor, monitor(&cluster).await),
    ] {
        let outcome = observed
            .with_context(|| format!("running the `{role}` role's work"))
            .and_then(|o| o.assert_exactly(role));
        if let Err(error) = outcome {
            failures.push(format!("{error:#}"));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
