//! A live redis-server loaded with the generated `users.acl`, and what the tests ask it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Context as _};
use sessiondb_acl::{render, Passwords, Role, SecretString};
use sessiondb_engine::{ConnectionConfig, EngineConfig};
use sessiondb_local::resp::{Connection, Reply};
use sessiondb_local::{RedisOptions, RedisServer};

/// The key prefix of the tests.
pub(crate) const PREFIX: &str = "acltest";

/// Commands every user may run whatever its rules (Redis lets any client authenticate),
/// left out of the comparisons.
const ALWAYS_ALLOWED: [&str; 3] = ["auth", "hello", "quit"];

/// A redis-server whose users come from the generated file; the `default` user is off.
pub(crate) struct AclServer {
    server: RedisServer,
    passwords: Passwords,
    _dir: tempfile::TempDir,
}

impl AclServer {
    /// Starts a server and loads `users.acl` generated for [`PREFIX`] (or `edit`ed).
    pub(crate) fn start_with(edit: impl FnOnce(String) -> String) -> anyhow::Result<Self> {
        let passwords = Passwords::from_fn(|r| Some(SecretString::from(format!("test-{r}-pw"))));
        let dir = tempfile::tempdir()?;
        let acl = dir.path().join("users.acl");
        // Start with an open default user so the fixture's readiness probe passes,
        // then load the generated file, which turns it off.
        std::fs::write(&acl, "user default on nopass ~* &* +@all\n")?;
        let server = RedisServer::start(RedisOptions {
            extra_args: vec!["--aclfile".into(), acl.display().to_string()],
            ..RedisOptions::default()
        })?;
        std::fs::write(&acl, edit(render(&passwords, PREFIX)?))?;
        server.cli(&["ACL", "LOAD"]).context("ACL LOAD")?;
        Ok(Self {
            server,
            passwords,
            _dir: dir,
        })
    }

    /// [`AclServer::start_with`] the generated file as it is.
    pub(crate) fn start() -> anyhow::Result<Self> {
        Self::start_with(|text| text)
    }

    pub(crate) fn port(&self) -> u16 {
        self.server.port()
    }

    pub(crate) fn password(&self, role: Role) -> &SecretString {
        self.passwords.get(role).expect("all set")
    }

    /// How the engine and the operations reach the server as `role`.
    pub(crate) fn connection(&self, role: Role) -> ConnectionConfig {
        let mut conn = ConnectionConfig::standalone("127.0.0.1", self.port());
        conn.username = Some(role.user().to_owned());
        conn.password = Some(self.password(role).clone());
        conn.pool_size = 2;
        conn
    }

    /// A raw connection logged in as `role`.
    pub(crate) fn login(&self, role: Role) -> anyhow::Result<Connection> {
        use secrecy::ExposeSecret as _;
        let mut conn = Connection::open("127.0.0.1", self.port(), None)?;
        conn.call(&["AUTH", role.user(), self.password(role).expose_secret()])
            .with_context(|| format!("logging in as {role}"))?;
        Ok(conn)
    }

    /// Forgets the command statistics and the ACL log.
    pub(crate) fn reset(&self) -> anyhow::Result<()> {
        reset_node(&mut self.login(Role::Admin)?)
    }

    /// Every command the server ran or refused since [`AclServer::reset`] (see
    /// [`commands_seen`]).
    pub(crate) fn commands_seen(&self) -> anyhow::Result<BTreeSet<String>> {
        commands_seen(&mut self.login(Role::Admin)?)
    }

    /// The server's ACL log, one line per entry.
    pub(crate) fn acl_log(&self) -> anyhow::Result<Vec<String>> {
        acl_log(&mut self.login(Role::Admin)?)
    }

    /// Checks that `role` was refused nothing and ran exactly its `sessiondb` and
    /// `standalone` lists.
    pub(crate) fn assert_exactly(&self, role: Role) -> anyhow::Result<()> {
        let mut admin = self.login(Role::Admin)?;
        let p = role.permissions();
        let listed: Vec<&str> = p.sessiondb.iter().chain(p.standalone).copied().collect();
        check_exactly(
            role,
            &acl_log(&mut admin)?,
            &commands_seen(&mut admin)?,
            &listed,
        )
    }
}

/// Forgets a node's command statistics and ACL log (`admin`: logged in as admin).
pub(crate) fn reset_node(admin: &mut Connection) -> anyhow::Result<()> {
    admin.call(&["CONFIG", "RESETSTAT"])?;
    admin.call(&["ACL", "LOG", "RESET"])?;
    Ok(())
}

/// Every command a node ran or refused since [`reset_node`], the admin's own
/// bookkeeping and the always-allowed commands left out.
pub(crate) fn commands_seen(admin: &mut Connection) -> anyhow::Result<BTreeSet<String>> {
    let reply = admin.call(&["INFO", "commandstats"])?;
    let text = reply.text().context("INFO is text")?;
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let Some((name, stats)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let count = |field: &str| {
            stats
                .split(',')
                .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let bookkeeping = ["config|resetstat", "acl|log"].contains(&name);
        if (count("calls") > 0 || count("rejected_calls") > 0)
            && !bookkeeping
            && !ALWAYS_ALLOWED.contains(&name)
        {
            seen.insert(name.to_owned());
        }
    }
    Ok(seen)
}

/// A node's ACL log (refused commands and keys), one line per entry.
pub(crate) fn acl_log(admin: &mut Connection) -> anyhow::Result<Vec<String>> {
    let reply = admin.call(&["ACL", "LOG"])?;
    let mut lines = Vec::new();
    for entry in reply.items().unwrap_or_default() {
        let fields: Vec<String> = entry
            .items()
            .unwrap_or_default()
            .iter()
            .map(|r| match r {
                Reply::Integer(n) => n.to_string(),
                other => other.text().unwrap_or_default().to_owned(),
            })
            .collect();
        let field = |name: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0] == name)
                .and_then(|kv| kv.get(1))
                .map_or("?", String::as_str)
        };
        lines.push(format!(
            "user {} refused {} {} ({})",
            field("username"),
            field("reason"),
            field("object"),
            field("context")
        ));
    }
    Ok(lines)
}

/// Checks that `role` was refused nothing (`log`, the ACL log) and that the commands
/// the server(s) counted (`seen`) are exactly `listed`, both ways.
pub(crate) fn check_exactly(
    role: Role,
    log: &[String],
    seen: &BTreeSet<String>,
    listed: &[&str],
) -> anyhow::Result<()> {
    if !log.is_empty() {
        bail!(
            "the `{role}` role lacks what sessiondb sends (add it to its list in \
             crates/acl/src/rules.rs):\n  {}",
            log.join("\n  ")
        );
    }
    let listed: BTreeSet<String> = listed.iter().map(|c| (*c).to_owned()).collect();
    let missing: Vec<&String> = seen.difference(&listed).collect();
    let unused: Vec<&String> = listed.difference(seen).collect();
    if !missing.is_empty() || !unused.is_empty() {
        bail!(
            "the `{role}` list in crates/acl/src/rules.rs differs from what sessiondb \
             sent: sent but not listed {missing:?}; listed but not sent {unused:?}"
        );
    }
    Ok(())
}

/// An engine configuration for [`PREFIX`], with lifetimes short enough to expire
/// within a test and a cap of two logins per user (so creating a third evicts).
pub(crate) fn engine_config() -> EngineConfig {
    let mut config = EngineConfig {
        key_prefix: PREFIX.to_owned(),
        ..EngineConfig::default()
    };
    config.session.max_per_user = 2;
    config
}

/// `config` with logins (session and refresh family) that end within a second.
pub(crate) fn short_logins(mut config: EngineConfig) -> EngineConfig {
    config.session.min_idle_ttl = Duration::from_millis(100);
    config.session.idle_ttl = Duration::from_millis(800);
    config.session.absolute_ttl = Duration::from_millis(800);
    config.refresh.ttl = Duration::from_millis(900);
    config
}

/// Polls `check` until it is true (the shared test kit's loop), failing after `timeout`.
pub(crate) async fn eventually<F, Fut>(
    timeout: Duration,
    what: &str,
    mut check: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    sessiondb_local::testkit::eventually_async(what, timeout, || {
        let pending = check();
        async move {
            match pending.await {
                Ok(true) => Ok(()),
                Ok(false) => Err(anyhow::anyhow!("not yet")),
                Err(error) => Err(error),
            }
        }
    })
    .await;
    Ok(())
}
