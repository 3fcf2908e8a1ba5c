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
    /// The administrator: the default user with `acl.admin_password`.
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

/// The Redis user (`None`: the default user) and password of `role`, when its password
/// is configured.
pub(crate) fn credentials(
    settings: &Settings,
    role: Role,
) -> Option<(Option<String>, SecretString)> {
    let acl = &settings.acl;
    let (user, password) = match role {
        Role::Admin => (None, &acl.admin_password),
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
