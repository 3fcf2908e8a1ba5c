//! `sessiondb acl verify --role ROLE | --all`: logs in as each role with its password,
//! proves it can do its job and is refused what it must not do, one line per check.

use std::fmt;
use std::process::ExitCode;

use anyhow::Context as _;
use fred::prelude::*;
use fred::types::{ClusterHash, CustomCommand, Value};
use serde::Serialize;
use sessiondb_acl::{refusals, Role};
use sessiondb_engine::{admin, CleanupOptions, ConnectionConfig, Engine, NewSession, UserId};
use sessiondb_settings::Settings;

use crate::cli::ConnectArgs;
use crate::ctx::Ctx;

/// Arguments of `sessiondb acl verify`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["role", "all"])))]
pub(crate) struct Args {
    /// The role to check: admin, sentinel, app, monitor, cleanup or backup.
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// Check all six roles.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// The user id of the session `app` creates and revokes.
const PROBE_USER: &str = "sessiondb-acl-verify";

pub(crate) fn run(ctx: &Ctx, args: &Args) -> anyhow::Result<ExitCode> {
    let roles = match &args.role {
        Some(name) => vec![Role::from_user(name).with_context(|| {
            format!(
                "unknown role {name:?}: expected one of {}",
                Role::ALL.map(Role::user).join(", ")
            )
        })?],
        None => Role::ALL.to_vec(),
    };
    let loaded = ctx.load(&args.connect)?;
    let settings = &loaded.settings;
    let base = settings.connection_config().context(
        "no Redis configured: set REDIS_HOST / SESSIONDB_REDIS__URL (or redis.* in the \
         config file), or use --local for the stack of `sessiondb local up`",
    )?;
    let report = ctx.block_on(async {
        let mut checks = Vec::new();
        for role in roles {
            let conn = as_role(&base, settings, role)?;
            verify_role(settings, &conn, role, &mut checks)
                .await
                .with_context(|| loaded.connecting())?;
        }
        anyhow::Ok(Report::new(checks))
    })??;
    ctx.out().report(&report)?;
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `base` with the credentials of `role`.
fn as_role(
    base: &ConnectionConfig,
    settings: &Settings,
    role: Role,
) -> anyhow::Result<ConnectionConfig> {
    let Some(password) = settings.acl.password(role) else {
        return Err(sessiondb_acl::AclError::MissingPassword(role).into());
    };
    let mut conn = base.clone();
    conn.username = Some(role.user().to_owned());
    conn.password = Some(password.clone());
    conn.password_from = Some(crate::role::password_from(role));
    conn.pool_size = 1;
    Ok(conn)
}

async fn verify_role(
    settings: &Settings,
    conn: &ConnectionConfig,
    role: Role,
    checks: &mut Vec<CheckLine>,
) -> anyhow::Result<()> {
    let pool = admin::connect(conn, 1)
        .await
        .with_context(|| format!("checking `{role}`"))?;
    let prefix = settings.key_prefix.as_str();
    let mut line = |check: String, outcome: Result<(), String>| {
        checks.push(CheckLine {
            role: role.user(),
            check,
            ok: outcome.is_ok(),
            detail: outcome.err(),
        });
    };
    line("logs in".to_owned(), Ok(()));
    match role {
        Role::App => {
            let outcome = app_job(settings, conn).await.map_err(|e| format!("{e:#}"));
            line(
                "creates, reads, refreshes and revokes a session through the engine".to_owned(),
                outcome,
            );
        }
        Role::Cleanup => {
            let outcome = cleanup_job(settings, conn)
                .await
                .map_err(|e| format!("{e:#}"));
            line("runs a cleanup pass through the engine".to_owned(), outcome);
        }
        _ => {
            for args in job_commands(role, prefix) {
                let outcome = call(&pool, &args)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                line(format!("runs {}", args.join(" ")), outcome);
            }
        }
    }
    for probe in refusals(role, prefix) {
        let outcome = match call(&pool, &probe.args).await {
            Err(e) if probe.is_refusal(e.details()) => Ok(()),
            Err(e) => Err(format!("not refused by ACL: {e}")),
            Ok(_) => Err(format!("the server ran `{}`", probe.args.join(" "))),
        };
        line(probe.what, outcome);
    }
    let _ = pool.quit().await;
    Ok(())
}

/// The commands proving `role`'s job (other than `app` and `cleanup`, which run the
/// engine).
fn job_commands(role: Role, prefix: &str) -> Vec<Vec<String>> {
    let words = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let schema = format!("{prefix}:schema");
    let pattern = format!("{prefix}:*");
    match role {
        Role::Admin => vec![
            words(&["ACL", "WHOAMI"]),
            words(&["CONFIG", "GET", "maxmemory"]),
        ],
        Role::Monitor => vec![
            words(&["PING"]),
            words(&["INFO"]),
            words(&["GET", &schema]),
            words(&["CONFIG", "GET", "maxmemory"]),
            words(&["SLOWLOG", "GET", "1"]),
            words(&["LATENCY", "LATEST"]),
            words(&["CLIENT", "LIST"]),
        ],
        Role::Backup => vec![
            words(&["SCAN", "0", "MATCH", &pattern, "COUNT", "100"]),
            words(&["DUMP", &schema]),
            words(&["PTTL", &schema]),
            words(&["INFO", "server"]),
        ],
        Role::Sentinel => vec![
            words(&["PING"]),
            words(&["ROLE"]),
            words(&["INFO", "replication"]),
        ],
        Role::App | Role::Cleanup => Vec::new(),
    }
}

async fn app_job(settings: &Settings, conn: &ConnectionConfig) -> anyhow::Result<()> {
    let engine = Engine::connect(conn, settings.engine_config()).await?;
    let result = async {
        let created = engine
            .create(NewSession {
                user_id: UserId::parse(PROBE_USER)?,
                data: serde_json::Map::new(),
                metadata: sessiondb_engine::SessionMetadata::default(),
                idle_ttl: None,
            })
            .await?;
        engine.get(&created.session_token, false).await?;
        let refreshed = engine.refresh(&created.refresh_token).await?;
        engine.revoke(&refreshed.session_token).await?;
        anyhow::Ok(())
    }
    .await;
    engine.flush_events().await;
    engine.shutdown().await?;
    result
}

async fn cleanup_job(settings: &Settings, conn: &ConnectionConfig) -> anyhow::Result<()> {
    let engine = Engine::connect(conn, settings.engine_config()).await?;
    let result = engine.cleanup(CleanupOptions::default()).await;
    engine.flush_events().await;
    engine.shutdown().await?;
    result?;
    Ok(())
}

/// One command, as the server answers it.
async fn call(pool: &Pool, args: &[String]) -> Result<Value, fred::error::Error> {
    let (name, rest) = args.split_first().expect("every probe names a command");
    let command = CustomCommand::new(name.clone(), ClusterHash::Random, false);
    let rest: Vec<Value> = rest.iter().map(|a| Value::from(a.as_str())).collect();
    pool.next().custom(command, rest).await
}

/// One check's outcome.
#[derive(Debug, Serialize)]
struct CheckLine {
    role: &'static str,
    check: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Every check and the count of failures.
#[derive(Debug, Serialize)]
struct Report {
    checks: Vec<CheckLine>,
    failed: usize,
}

impl Report {
    fn new(checks: Vec<CheckLine>) -> Self {
        let failed = checks.iter().filter(|c| !c.ok).count();
        Self { checks, failed }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let status = if c.ok { "ok  " } else { "FAIL" };
            write!(f, "{status}  {:<9} {}", c.role, c.check)?;
            if let Some(detail) = &c.detail {
                write!(f, ": {detail}")?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "acl verify: {} checks, {} failed",
            self.checks.len(),
            self.failed
        )
    }
}
