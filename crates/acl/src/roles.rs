//! The table of the six roles: user name, password variable, settings key, purpose.

use serde::Serialize;

/// One of the six Redis ACL roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Operators, `sessiondb restore` and `sessiondb stats`: every command on every key.
    Admin,
    /// The Sentinels (monitoring, failover) and the replicas (replication stream).
    Sentinel,
    /// The API (`sessiondb serve`): the engine's scripts and reads on the key prefix.
    App,
    /// `health`, `status` and redis_exporter: server state, no session values.
    Monitor,
    /// `sessiondb cleanup`: the cleanup pass on the key prefix.
    Cleanup,
    /// `sessiondb backup`: reads of the key prefix.
    Backup,
}

/// What the table says about one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSpec {
    /// The role.
    pub role: Role,
    /// Its Redis ACL user name (also how the CLI names it: `--role app`).
    pub user: &'static str,
    /// The environment variable holding its password (the name of the original shell
    /// deployment, as in `.env.example`).
    pub env_var: &'static str,
    /// The settings key holding its password.
    pub setting_key: &'static str,
    /// Which process uses it, for what.
    pub purpose: &'static str,
}

/// The six roles, in the order of `.env.example`.
pub const ROLES: [RoleSpec; 6] = [
    RoleSpec {
        role: Role::Admin,
        user: "admin",
        env_var: "REDIS_PASSWORD",
        setting_key: "acl.admin_password",
        purpose: "operators, `sessiondb restore` and `sessiondb stats`: every command on every key",
    },
    RoleSpec {
        role: Role::Sentinel,
        user: "sentinel",
        env_var: "SENTINEL_PASSWORD",
        setting_key: "acl.sentinel_password",
        purpose: "the Sentinels (monitoring and failover of the data nodes, and their own \
                  `requirepass`) and the replicas (`masteruser`/`masterauth`)",
    },
    RoleSpec {
        role: Role::App,
        user: "app",
        env_var: "APP_PASSWORD",
        setting_key: "acl.app_password",
        purpose: "the API (`sessiondb serve`): the engine's scripts, reads, event stream \
                  and cleanup lease on the key prefix",
    },
    RoleSpec {
        role: Role::Monitor,
        user: "monitor",
        env_var: "MONITOR_PASSWORD",
        setting_key: "acl.monitor_password",
        purpose: "`sessiondb health`/`status` and redis_exporter: server state and \
                  counters, never session values",
    },
    RoleSpec {
        role: Role::Cleanup,
        user: "cleanup",
        env_var: "CLEANUP_PASSWORD",
        setting_key: "acl.cleanup_password",
        purpose: "the cleanup job (`sessiondb cleanup`): the cleanup pass on the key prefix",
    },
    RoleSpec {
        role: Role::Backup,
        user: "backup",
        env_var: "BACKUP_PASSWORD",
        setting_key: "acl.backup_password",
        purpose: "the backup job (`sessiondb backup`): reads of the key prefix and its \
                  own success marker",
    },
];

/// The six password variables, in the order of [`ROLES`].
pub const PASSWORD_VARIABLES: [&str; 6] = [
    ROLES[0].env_var,
    ROLES[1].env_var,
    ROLES[2].env_var,
    ROLES[3].env_var,
    ROLES[4].env_var,
    ROLES[5].env_var,
];

impl Role {
    /// Every role, in the order of [`ROLES`].
    pub const ALL: [Role; 6] = [
        ROLES[0].role,
        ROLES[1].role,
        ROLES[2].role,
        ROLES[3].role,
        ROLES[4].role,
        ROLES[5].role,
    ];

    /// This role's row of [`ROLES`].
    pub const fn spec(self) -> &'static RoleSpec {
        &ROLES[self as usize]
    }

    /// Its ACL user name.
    pub const fn user(self) -> &'static str {
        self.spec().user
    }

    /// The environment variable holding its password.
    pub const fn env_var(self) -> &'static str {
        self.spec().env_var
    }

    /// The settings key holding its password.
    pub const fn setting_key(self) -> &'static str {
        self.spec().setting_key
    }

    /// The role whose user name is `name`.
    pub fn from_user(name: &str) -> Option<Role> {
        ROLES.iter().find(|r| r.user == name).map(|r| r.role)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.user())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_indexed_by_the_enum() {
        for (i, spec) in ROLES.iter().enumerate() {
            assert_eq!(spec.role as usize, i, "{}", spec.user);
            assert_eq!(Role::from_user(spec.user), Some(spec.role));
            assert_eq!(PASSWORD_VARIABLES[i], spec.env_var);
            assert_eq!(
                spec.setting_key,
                format!("acl.{}_password", spec.user),
                "settings keys follow the user names"
            );
        }
        assert_eq!(Role::from_user("default"), None);
    }
}
