//! Which Redis credentials an operations command logs in with.
//!
//! Each operations command runs as the Redis ACL role meant for its job (`monitor` for
//! `health`/`status`/`stats`, `backup` for `backup`, `admin` for `restore`): when the
//! role's password is configured (`acl.<role>_password`, e.g. `MONITOR_PASSWORD`), the
//! command logs in as that role's user with that password; otherwise it uses the
//! configured Redis connection (`redis.username` / `redis.password`) unchanged. With
//! `--local` the configured connection is always used: the stack's `local.env` carries
//! the six passwords, but its Redis has only the default user.
//!
//! The role → user and password mapping is [`credentials`], and nothing else here
//! knows it.

use secrecy::SecretString;
use sessiondb_engine::ConnectionConfig;
use sessiondb_settings::Settings;

/// A Redis ACL role a command can log in as (`sentinel` is for the Sentinels and
/// replication only, so it is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// The administrator: the default user with `acl.admin_password` (or the user
    /// `admin` when `redis.username` names it, for a users file that disables the
    /// default user).
    Admin,
    /// The engine's user.
    App,
    /// Read-only monitoring.
    Monitor,
    /// The cleanup pass.
    Cleanup,
    /// Read-only export.
    Backup,
}

impl Role {
    /// The role's name, as in the ACL users file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::App => "app",
            Self::Monitor => "monitor",
            Self::Cleanup => "cleanup",
            Self::Backup => "backup",
        }
    }

    /// The settings key holding the role's password.
    pub(crate) fn password_key(self) -> &'static str {
        match self {
            Self::Admin => "acl.admin_password",
            Self::App => "acl.app_password",
            Self::Monitor => "acl.monitor_password",
            Self::Cleanup => "acl.cleanup_password",
            Self::Backup => "acl.backup_password",
        }
    }
}

/// The explicit administrator's user name, for deployments whose users file disables
/// the default user.
const ADMIN_USER: &str = "admin";

/// The Redis user (`None`: the default user) and password of `role`, when its password
/// is configured.
pub(crate) fn credentials(
    settings: &Settings,
    role: Role,
) -> Option<(Option<String>, SecretString)> {
    let acl = &settings.acl;
    let admin = settings
        .redis
        .username
        .as_deref()
        .filter(|user| *user == ADMIN_USER);
    let (user, password) = match role {
        Role::Admin => (admin, &acl.admin_password),
        Role::App => (Some("app"), &acl.app_password),
        Role::Monitor => (Some("monitor"), &acl.monitor_password),
        Role::Cleanup => (Some("cleanup"), &acl.cleanup_password),
        Role::Backup => (Some("backup"), &acl.backup_password),
    };
    password
        .clone()
        .map(|password| (user.map(str::to_owned), password))
}

/// `conn` logged in as `role` when its credentials are configured; `conn` unchanged
/// otherwise. Returns whether the role's credentials were applied.
pub(crate) fn apply(conn: &mut ConnectionConfig, settings: &Settings, role: Role) -> bool {
    match credentials(settings, role) {
        Some((username, password)) => {
            conn.username = username;
            conn.password = Some(password);
            true
        }
        None => false,
    }
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
        assert!(apply(&mut conn, &s, Role::Monitor));
        assert_eq!(conn.username.as_deref(), Some("monitor"));
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
