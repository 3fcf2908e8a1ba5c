//! `serve --local`: the settings of a `sessiondb local` stack.
//!
//! `sessiondb local up` writes `<dir>/local.env`: the six role passwords and the
//! `SESSIONDB_REDIS__*` variables that point at the stack (see
//! `sessiondb_local::stack`). `--local` reads that file with the parser that belongs
//! to its writer ([`parse_env_file`]) and builds the environment layer of the
//! settings from, in order (later wins):
//!
//! 1. the process environment, minus every variable that says where Redis is or how
//!    to log in to it (`REDIS_HOST`, `SESSIONDB_REDIS__URL`,
//!    `SESSIONDB_REDIS__TLS__ENABLED`, a role password, …: the settings declared as
//!    connection settings; see [`sets_connection`]);
//! 2. the variables of `local.env`.
//!
//! So the connection is exactly the stack's, never mixed with a stray variable meant
//! for another Redis, while everything else (TTLs, API keys, log level, Redis tuning
//! such as `redis.pool_size` or `redis.durability`) still comes from the environment.
//! The config file stays below the environment layer and `--set` above it, as always.

use std::io::ErrorKind;
use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use sessiondb_local::stack::{parse_env_file, StackDir, StackError};
use sessiondb_settings::{sets_connection, LoadOptions};

use crate::commands::local::dir_flag;

/// Settings sources for `serve --local`: `config_file` and `overrides` as given, and
/// the environment layer described in the module docs. Says on stderr (by name
/// only) which process variables it leaves out.
pub(crate) fn load_options(
    dir: &StackDir,
    config_file: Option<PathBuf>,
    overrides: Vec<String>,
) -> anyhow::Result<LoadOptions> {
    let stack = read_env_file(dir)?;
    let mut options = LoadOptions::from_process(config_file, overrides);
    let (env, ignored) = merge(std::mem::take(&mut options.env), stack);
    if !ignored.is_empty() {
        eprintln!(
            "sessiondb: note: --local ignores {} from the environment: the stack's \
             local.env sets the Redis connection",
            ignored.join(", ")
        );
    }
    options.env = env;
    Ok(options)
}

/// The variables of `<dir>/local.env`. Errors name the file and line, never a value.
fn read_env_file(dir: &StackDir) -> anyhow::Result<Vec<(String, String)>> {
    let path = dir.env_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(anyhow!(missing_file(dir))),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    parse_env_file(&text)
        .map_err(|(line, message)| StackError::EnvFile {
            path,
            line,
            message,
        })
        .context("reading the local stack's settings")
}

/// What to do when `local.env` does not exist.
fn missing_file(dir: &StackDir) -> String {
    let path = dir.env_file();
    let flag = dir_flag(dir);
    if dir.has_stack() {
        format!(
            "{} does not exist: run `sessiondb local up{flag}` to write it again \
             (`sessiondb local stop{flag}` first if the stack is running)",
            path.display()
        )
    } else {
        format!(
            "no local stack in {}: {} does not exist; run `sessiondb local up{flag}` first",
            dir.root().display(),
            path.display()
        )
    }
}

/// The environment layer of `--local`: `process` without the variables that set a
/// connection key, then `stack`. Also returns the names of the non-empty process
/// variables left out (empty ones count as unset anyway), sorted.
fn merge(
    process: Vec<(String, String)>,
    stack: Vec<(String, String)>,
) -> (Vec<(String, String)>, Vec<String>) {
    let (left_out, mut env): (Vec<_>, Vec<_>) = process
        .into_iter()
        .partition(|(name, _)| sets_connection(name));
    env.extend(stack);
    let mut ignored: Vec<String> = left_out
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, _)| name)
        .collect();
    ignored.sort_unstable();
    (env, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessiondb_settings::{ExposeSecret as _, RedisMode, Settings};

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// What `local up` writes for a standalone stack (the passwords shortened).
    fn standalone_file() -> Vec<(String, String)> {
        vars(&[
            ("REDIS_PASSWORD", "admin-pw"),
            ("SENTINEL_PASSWORD", "sentinel-pw"),
            ("APP_PASSWORD", "app-pw"),
            ("MONITOR_PASSWORD", "monitor-pw"),
            ("CLEANUP_PASSWORD", "cleanup-pw"),
            ("BACKUP_PASSWORD", "backup-pw"),
            ("SESSIONDB_REDIS__MODE", "standalone"),
            ("SESSIONDB_REDIS__HOST", "127.0.0.1"),
            ("SESSIONDB_REDIS__PORT", "41000"),
            ("SESSIONDB_REDIS__USERNAME", "app"),
            ("SESSIONDB_REDIS__PASSWORD", "app-pw"),
        ])
    }

    #[test]
    fn connection_variables_of_the_process_are_left_out_and_named() {
        let process = vars(&[
            ("REDIS_HOST", "10.0.0.5"),
            ("SESSIONDB_REDIS__URL", "rediss://prod:6380/3"),
            ("SESSIONDB_REDIS__TLS__CA_FILE", "/etc/ca.pem"),
            ("SESSIONDB_ACL__APP_PASSWORD", "other"),
            ("REDIS_DB", ""),
            ("SESSIONDB_REDIS__POOL_SIZE", "4"),
            ("SESSION_TTL_SECONDS", "600"),
            ("SESSIONDB_CONFIG", "/etc/sessiondb.toml"),
        ]);
        let (env, ignored) = merge(process, standalone_file());
        assert_eq!(
            ignored,
            [
                "REDIS_HOST",
                "SESSIONDB_ACL__APP_PASSWORD",
                "SESSIONDB_REDIS__TLS__CA_FILE",
                "SESSIONDB_REDIS__URL",
            ]
        );
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..3],
            [
                "SESSIONDB_REDIS__POOL_SIZE",
                "SESSION_TTL_SECONDS",
                "SESSIONDB_CONFIG"
            ]
        );
        assert_eq!(env[3..], standalone_file()[..], "the file comes last");
    }

    #[test]
    fn the_stack_sets_the_connection_and_the_rest_of_the_layers_still_apply() {
        let process = vars(&[
            ("REDIS_URL", "rediss://user:pw@prod:6380/3"),
            ("SESSIONDB_REDIS__SENTINELS", "10.0.0.1:26379"),
            ("SESSIONDB_REDIS__DURABILITY", "replicated"),
            ("SESSIONDB_SESSION__IDLE_TTL_SECONDS", "600"),
        ]);
        let (env, _) = merge(process, standalone_file());
        let settings = Settings::load(&LoadOptions {
            env,
            overrides: vec!["session.max_per_user=7".into()],
            ..LoadOptions::default()
        })
        .unwrap();
        let redis = &settings.redis;
        assert_eq!(redis.mode, RedisMode::Standalone);
        assert_eq!(redis.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(redis.port, 41000);
        assert_eq!(redis.db, 0);
        assert_eq!(redis.username.as_deref(), Some("app"));
        assert!(!redis.tls.enabled);
        assert!(redis.sentinels.is_empty());
        assert_eq!(
            redis.password.as_ref().map(|p| p.expose_secret()),
            Some("app-pw"),
            "the API logs in as `app`"
        );
        assert_eq!(
            settings
                .acl
                .app_password
                .as_ref()
                .map(|p| p.expose_secret()),
            Some("app-pw")
        );
        assert_eq!(
            redis.durability,
            sessiondb_settings::DurabilityMode::Replicated
        );
        assert_eq!(settings.session.idle_ttl_seconds, 600);
        assert_eq!(settings.session.max_per_user, 7);
    }

    #[test]
    fn overrides_still_win_over_the_stack() {
        let (env, _) = merge(Vec::new(), standalone_file());
        let settings = Settings::load(&LoadOptions {
            env,
            overrides: vec!["redis.port=41001".into()],
            ..LoadOptions::default()
        })
        .unwrap();
        assert_eq!(settings.redis.port, 41001);
    }

    #[test]
    fn a_missing_file_says_to_run_local_up_with_the_right_dir() {
        let temp = tempfile::tempdir().unwrap();
        let dir = StackDir::new(temp.path().join("my stack")).unwrap();
        let err = read_env_file(&dir).unwrap_err().to_string();
        assert!(err.contains("no local stack in"), "{err}");
        assert!(err.contains(&dir.env_file().display().to_string()), "{err}");
        let flag = format!("--dir '{}'", dir.root().display());
        assert!(
            err.contains(&format!("run `sessiondb local up {flag}` first")),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_file_names_the_line_but_not_the_value() {
        let temp = tempfile::tempdir().unwrap();
        let dir = StackDir::new(temp.path()).unwrap();
        std::fs::write(dir.env_file(), "A=1\nREDIS_PASSWORD='s3cret\n").unwrap();
        let err = format!("{:#}", read_env_file(&dir).unwrap_err());
        assert!(err.contains("local.env:2:"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
