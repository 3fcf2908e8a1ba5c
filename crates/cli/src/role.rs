//! Which Redis credentials an operations command logs in with.
//!
//! Each operations command runs as the Redis ACL role meant for its job (`monitor` for
//! `health`/`status`, `backup` for `backup`, `cleanup` for `cleanup`, `admin` for
//! `restore` and `stats`; the roles are the table of `sessiondb_acl`): when the role's
//! password is configured (`acl.<role>_password`, e.g. `MONITOR_PASSWORD`; the local
//! stack's `local.env` sets all six), the command logs in as that role's user with that
//! password; otherwise it uses the configured Redis connection (`redis.username` /
//! `redis.password`) unchanged.
//!
//! The role → user and password mapping is [`credentials`], and nothing else here
//! knows it.

use secrecy::SecretString;
use sessiondb_acl::Role;
use sessiondb_engine::ConnectionConfig;
use sessiondb_settings::Settings;

/// Parses `--role`: a role's user name; `sentinel` is for the Sentinels and replication
/// only, so it is not offered.
pub(crate) fn parse_role(name: &str) -> Result<Role, String> {
    match Role::from_user(name) {
        Some(Role::Sentinel) | None => Err(format!(
            "unknown role `{name}`: one of admin, app, monitor, cleanup, backup"
        )),
        Some(role) => Ok(role),
    }
}

/// The explicit administrator's user name, for deployments whose users file disables
/// the default user.
const ADMIN_USER: &str = "admin";

/// The Redis user (`None`: the default user) and password of `role`, when its password
/// is configured. The administrator is the default user (whose password
/// `REDIS_PASSWORD` also sets) unless `redis.username` names the `admin` user.
pub(crate) fn credentials(
    settings: &Settings,
    role: Role,
) -> Option<(Option<String>, SecretString)> {
    let user = match role {
        Role::Admin => settings
            .redis
            .username
            .as_deref()
            .filter(|user| *user == ADMIN_USER),
        other => Some(other.user()),
    };
    settings
        .acl
        .password(role)
        .cloned()
        .map(|password| (user.map(str::to_owned), password))
}

/// `conn` logged in as `role` when its credentials are configured; `conn` unchanged
/// otherwise, saying in its `password_from` that the role's password is not set (so a
/// refused login names both). Returns whether the role's credentials were applied.
pub(crate) fn apply(conn: &mut ConnectionConfig, settings: &Settings, role: Role) -> bool {
    match credentials(settings, role) {
        Some((username, password)) => {
            conn.username = username;
            conn.password = Some(password);
            conn.password_from = Some(password_from(role));
            true
        }
        None => {
            let configured = conn.password_from.as_deref().unwrap_or("redis.password");
            conn.password_from = Some(format!(
                "{configured}, as {} ({}) is not set",
                role.setting_key(),
                role.env_var()
            ));
            false
        }
    }
}

/// Where the password of `role` comes from, as errors name it, e.g.
/// `APP_PASSWORD (acl.app_password)`.
pub(crate) fn password_from(role: Role) -> String {
    format!("{} ({})", role.env_var(), role.setting_key())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use secrecy::ExposeSecret as _;
    use sessiondb_settings::LoadOptions;

    use super::*;

    fn settings(env: &[(&str, &str)]) -> Settings {
        Settings::load(&LoadOptions {
            config_file: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            overrides: Vec::new(),
        })
        .unwrap()
    }

    fn login(settings: &Settings, role: Role) -> Option<(Option<String>, String)> {
        credentials(settings, role).map(|(user, p)| (user, p.expose_secret().to_owned()))
    }

    #[test]
    fn each_role_logs_in_as_its_user_when_its_password_is_configured() {
        let s = settings(&[
            ("REDIS_HOST", "redis"),
            ("SESSIONDB_REDIS__USERNAME", "app"),
            ("REDIS_PASSWORD", "a"),
            ("MONITOR_PASSWORD", "m"),
            ("BACKUP_PASSWORD", "b"),
        ]);
        assert_eq!(
            login(&s, Role::Monitor),
            Some((Some("monitor".into()), "m".into()))
        );
        assert_eq!(
            login(&s, Role::Backup),
            Some((Some("backup".into()), "b".into()))
        );
        // REDIS_PASSWORD is the admin password too: the default user.
        assert_eq!(login(&s, Role::Admin), Some((None, "a".into())));
        assert_eq!(login(&s, Role::Cleanup), None);
        let mut conn = s.connection_config().unwrap();
        assert!(!apply(&mut conn, &s, Role::Cleanup));
        assert_eq!(conn.username.as_deref(), Some("app"));
        assert_eq!(
            conn.password_from.as_deref(),
            Some("redis.password, as acl.cleanup_password (CLEANUP_PASSWORD) is not set")
        );
        let mut conn = s.connection_config().unwrap();
        assert!(apply(&mut conn, &s, Role::Monitor));
        assert_eq!(conn.username.as_deref(), Some("monitor"));
        assert_eq!(
            conn.password_from.as_deref(),
            Some("MONITOR_PASSWORD (acl.monitor_password)")
        );
        assert_eq!(conn.password.unwrap().expose_secret(), "m");
    }

    #[test]
    fn the_admin_role_keeps_an_explicit_admin_user() {
        let s = settings(&[
            ("REDIS_HOST", "redis"),
            ("SESSIONDB_REDIS__USERNAME", "admin"),
            ("REDIS_PASSWORD", "a"),
        ]);
        assert_eq!(
            login(&s, Role::Admin),
            Some((Some("admin".into()), "a".into()))
        );
    }
}
