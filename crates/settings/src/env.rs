//! The environment layer: `SESSIONDB_<SECTION>__<KEY>` variables and the variable
//! names of the original shell deployment.
//!
//! Empty values count as unset (deployment tooling often passes `NAME=`). When a legacy
//! name and a `SESSIONDB_` name set the same key, the `SESSIONDB_` one wins.

use sessiondb_acl::Role;

use crate::error::{Origin, SettingsError};
use crate::schema::{self, KeySpec, ENV_PREFIX, KEYS};
use crate::value::{self, Assignment};

/// Environment variable naming the config file when no `--config` is given.
pub const CONFIG_FILE_ENV: &str = "SESSIONDB_CONFIG";

/// `SESSIONDB_*` variables that are not settings and are therefore not rejected as
/// unknown.
pub const RESERVED_ENV_VARS: &[&str] = &[CONFIG_FILE_ENV];

/// Variable names of the original shell deployment and the keys each one sets. The six
/// role passwords come from the role table of `sessiondb_acl` (`REDIS_PASSWORD`, the
/// admin's, is also the password of the data nodes).
pub const LEGACY_ENV_VARS: &[(&str, &[&str])] = &[
    ("REDIS_URL", &["redis.url"]),
    ("REDIS_HOST", &["redis.host"]),
    ("REDIS_PORT", &["redis.port"]),
    (
        Role::Admin.env_var(),
        &["redis.password", Role::Admin.setting_key()],
    ),
    ("REDIS_DB", &["redis.db"]),
    ("SESSION_TTL_SECONDS", &["session.idle_ttl_seconds"]),
    ("MAX_SESSIONS_PER_USER", &["session.max_per_user"]),
    ("CLEANUP_INTERVAL_SECONDS", &["cleanup.interval_seconds"]),
    ("DELETION_TOKEN_TTL_SECONDS", &["deletion.ttl_seconds"]),
    ("LOG_LEVEL", &["log.level"]),
    (Role::Sentinel.env_var(), &[Role::Sentinel.setting_key()]),
    (Role::App.env_var(), &[Role::App.setting_key()]),
    (Role::Monitor.env_var(), &[Role::Monitor.setting_key()]),
    (Role::Cleanup.env_var(), &[Role::Cleanup.setting_key()]),
    (Role::Backup.env_var(), &[Role::Backup.setting_key()]),
];

/// The settings the environment variable `name` sets: a legacy name's keys, or the key
/// a `SESSIONDB_<SECTION>__<KEY>` name stands for; none for other names (reserved,
/// unknown, unrelated).
fn keys_set_by(name: &str) -> Vec<&'static KeySpec> {
    if let Some((_, paths)) = LEGACY_ENV_VARS.iter().find(|(legacy, _)| *legacy == name) {
        return paths.iter().filter_map(|path| schema::spec(path)).collect();
    }
    schema::spec_by_env_var(name).into_iter().collect()
}

/// Whether the environment variable `name` sets a setting that says where Redis is or
/// how to log in to it (its address, credentials, TLS towards it, the role passwords),
/// e.g. `REDIS_HOST` or `SESSIONDB_REDIS__TLS__CA_FILE`, but not
/// `SESSIONDB_REDIS__POOL_SIZE`. `serve --local` leaves such variables of the process
/// out: there the stack sets the connection.
pub fn sets_connection(name: &str) -> bool {
    keys_set_by(name).iter().any(|k| k.connection)
}

/// Whether `name` is read by the loader (a legacy name or any `SESSIONDB_` name).
pub(crate) fn is_relevant(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) || LEGACY_ENV_VARS.iter().any(|(n, _)| *n == name)
}

/// The environment's assignments as two groups, applied in order: legacy names, then
/// `SESSIONDB_` names (which therefore win).
pub(crate) fn assignments(env: &[(String, String)]) -> Result<[Vec<Assignment>; 2], SettingsError> {
    let mut legacy = Vec::new();
    let mut prefixed = Vec::new();
    for (name, raw) in env {
        if name.starts_with(ENV_PREFIX) {
            if RESERVED_ENV_VARS.contains(&name.as_str()) {
                continue;
            }
            let spec = schema::spec_by_env_var(name).ok_or_else(|| {
                let known: Vec<String> = KEYS.iter().map(schema::KeySpec::env_var).collect();
                SettingsError::UnknownEnvVar {
                    name: name.clone(),
                    suggestion: schema::suggest(name, known.iter().map(String::as_str))
                        .map(str::to_owned),
                }
            })?;
            if !raw.is_empty() {
                prefixed.push(value::from_str(spec, raw, &Origin::Env(name.clone()))?);
            }
        } else if let Some((_, paths)) = LEGACY_ENV_VARS.iter().find(|(n, _)| n == name) {
            if raw.is_empty() {
                continue;
            }
            for path in *paths {
                let spec = schema::spec(path).ok_or_else(|| SettingsError::UnknownKey {
                    key: (*path).to_owned(),
                    origin: Origin::Env(name.clone()),
                    suggestion: None,
                })?;
                legacy.push(value::from_str(spec, raw, &Origin::Env(name.clone()))?);
            }
        }
    }
    Ok([legacy, prefixed])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legacy_target_is_a_key() {
        for (name, paths) in LEGACY_ENV_VARS {
            for path in *paths {
                assert!(schema::spec(path).is_some(), "{name} -> {path}");
            }
        }
    }

    #[test]
    fn variable_names_map_to_the_keys_they_set() {
        let paths =
            |name: &str| -> Vec<&str> { keys_set_by(name).iter().map(|k| k.path).collect() };
        assert_eq!(
            paths("REDIS_PASSWORD"),
            ["redis.password", "acl.admin_password"]
        );
        assert_eq!(
            paths("SESSIONDB_REDIS__SENTINEL_SERVICE"),
            ["redis.sentinel_service"]
        );
        assert_eq!(
            paths("SESSIONDB_REDIS__TLS__ENABLED"),
            ["redis.tls.enabled"]
        );
        assert!(paths("SESSIONDB_CONFIG").is_empty());
        assert!(paths("HOME").is_empty());
    }

    #[test]
    fn connection_variables_are_the_ones_setting_a_connection_key() {
        for name in [
            "REDIS_HOST",
            "REDIS_PASSWORD",
            "SENTINEL_PASSWORD",
            "SESSIONDB_REDIS__URL",
            "SESSIONDB_REDIS__TLS__ENABLED",
            "SESSIONDB_ACL__APP_PASSWORD",
        ] {
            assert!(sets_connection(name), "{name}");
        }
        for name in [
            "SESSION_TTL_SECONDS",
            "SESSIONDB_REDIS__POOL_SIZE",
            "SESSIONDB_REDIS__WAIT_REPLICAS",
            "SESSIONDB_CONFIG",
            "HOME",
        ] {
            assert!(!sets_connection(name), "{name}");
        }
    }

    #[test]
    fn every_role_password_variable_sets_its_key() {
        for spec in sessiondb_acl::ROLES {
            let (_, paths) = LEGACY_ENV_VARS
                .iter()
                .find(|(n, _)| *n == spec.env_var)
                .unwrap();
            assert!(paths.contains(&spec.setting_key), "{}", spec.env_var);
            assert!(
                schema::spec(spec.setting_key).is_some(),
                "{}",
                spec.setting_key
            );
        }
    }

    #[test]
    fn reserved_variables_are_not_settings_and_not_rejected() {
        let env = vec![(CONFIG_FILE_ENV.to_owned(), "/etc/sessiondb.toml".to_owned())];
        let [legacy, prefixed] = assignments(&env).unwrap();
        assert!(legacy.is_empty() && prefixed.is_empty());
        assert!(KEYS
            .iter()
            .all(|k| !RESERVED_ENV_VARS.contains(&k.env_var().as_str())));
    }

    #[test]
    fn unknown_prefixed_variables_get_a_suggestion() {
        let env = vec![(
            "SESSIONDB_SESSION_IDLE_TTL_SECONDS".to_owned(),
            "60".to_owned(),
        )];
        let err = assignments(&env).unwrap_err().to_string();
        assert!(err.contains("SESSIONDB_SESSION_IDLE_TTL_SECONDS"), "{err}");
        assert!(
            err.contains("did you mean SESSIONDB_SESSION__IDLE_TTL_SECONDS"),
            "{err}"
        );
    }
}
