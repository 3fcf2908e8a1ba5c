//! What each role must be refused, as commands that are harmless when a server wrongly
//! accepts them: Redis checks ACL permissions before it parses a command's arguments,
//! so a refused command answers `NOPERM`, while an accepted one fails on a deliberately
//! invalid argument (or reads nothing) and changes nothing.

use serde::Serialize;

use crate::Role;

/// One command a role must be refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// What it proves, e.g. `no FLUSHALL`.
    pub what: String,
    /// The command and its arguments.
    pub args: Vec<String>,
    /// How the answer starts when the command is refused: `NOPERM` (ACL), or for
    /// `DEBUG` also the refusal of `enable-debug-command no` (Redis's default), which
    /// Redis checks first.
    pub refused: &'static [&'static str],
}

/// The start of the answer to a command ACL refuses.
pub const NOPERM: &str = "NOPERM";

impl Probe {
    /// Whether `error` (an error answer to [`Probe::args`]) is a refusal.
    pub fn is_refusal(&self, error: &str) -> bool {
        self.refused.iter().any(|start| error.starts_with(start))
    }
}

/// Commands `role` must never be granted (ACL names). Empty for `admin`.
pub fn forbidden(role: Role) -> &'static [&'static str] {
    const DATA_ROLES: &[&str] = &[
        "acl|list",
        "acl|setuser",
        "config|get",
        "config|set",
        "debug",
        "flushall",
        "flushdb",
        "function|delete",
        "function|flush",
        "keys",
        "module|list",
        "replicaof",
        "script|flush",
        "shutdown",
        "slaveof",
    ];
    const MONITOR: &[&str] = &[
        "acl|list",
        "acl|setuser",
        "config|set",
        "debug",
        "del",
        "dump",
        "flushall",
        "flushdb",
        "function|delete",
        "function|flush",
        "keys",
        "module|list",
        "replicaof",
        "script|flush",
        "shutdown",
        "zrange",
    ];
    const BACKUP: &[&str] = &[
        "acl|list",
        "acl|setuser",
        "config|get",
        "config|set",
        "debug",
        "del",
        "flushall",
        "flushdb",
        "function|delete",
        "function|flush",
        "keys",
        "module|list",
        "replicaof",
        "restore",
        "script|flush",
        "shutdown",
        "zadd",
    ];
    const SENTINEL: &[&str] = &[
        "acl|list",
        "config|set",
        "del",
        "flushall",
        "get",
        "keys",
        "scan",
        "set",
        "shutdown",
    ];
    match role {
        Role::Admin => &[],
        Role::App | Role::Cleanup => DATA_ROLES,
        Role::Monitor => MONITOR,
        Role::Backup => BACKUP,
        Role::Sentinel => SENTINEL,
    }
}

/// The probes proving `role` is refused what it must not do, for keys under `prefix`.
pub fn refusals(role: Role, prefix: &str) -> Vec<Probe> {
    let probe = |what: &str, args: &[&str]| Probe {
        what: what.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        refused: if args[0] == "DEBUG" {
            &[NOPERM, "ERR DEBUG command not allowed"]
        } else {
            &[NOPERM]
        },
    };
    let session = format!("{prefix}:{{0}}:s:acl-verify-probe");
    let outside = "acl-verify-probe:outside-the-prefix".to_owned();
    let mut probes = Vec::new();
    if role == Role::Admin {
        return probes;
    }
    let admin_probes = [
        probe("no KEYS", &["KEYS", "acl-verify-probe:no-such-key:*"]),
        probe("no FLUSHALL", &["FLUSHALL", "NOT-AN-OPTION"]),
        probe("no FLUSHDB", &["FLUSHDB", "NOT-AN-OPTION"]),
        probe(
            "no CONFIG SET",
            &["CONFIG", "SET", "acl-verify-no-such-parameter", "x"],
        ),
        probe("no DEBUG", &["DEBUG", "ACL-VERIFY-NO-SUCH-SUBCOMMAND"]),
        probe("no SHUTDOWN", &["SHUTDOWN", "NOT-AN-OPTION"]),
        probe("no MODULE", &["MODULE", "LIST"]),
        probe("no ACL", &["ACL", "LIST"]),
        probe("no SCRIPT FLUSH", &["SCRIPT", "FLUSH", "NOT-AN-OPTION"]),
        probe("no FUNCTION FLUSH", &["FUNCTION", "FLUSH", "NOT-AN-OPTION"]),
        probe(
            "no FUNCTION DELETE",
            &["FUNCTION", "DELETE", "acl-verify-no-such-library"],
        ),
        probe("no REPLICAOF", &["REPLICAOF", "127.0.0.1", "not-a-port"]),
    ];
    match role {
        Role::Admin => {}
        Role::App | Role::Cleanup => {
            probes.extend(admin_probes);
            probes.push(probe("no CONFIG GET", &["CONFIG", "GET", "maxmemory"]));
            probes.push(probe("no key outside the prefix", &["GET", &outside]));
        }
        Role::Monitor => {
            probes.extend(admin_probes);
            probes.push(probe("no read of a session record", &["GET", &session]));
            probes.push(probe("no DUMP of a session record", &["DUMP", &session]));
            probes.push(probe("no delete", &["DEL", &session]));
        }
        Role::Backup => {
            probes.extend(admin_probes);
            probes.push(probe("no CONFIG GET", &["CONFIG", "GET", "maxmemory"]));
            probes.push(probe("no delete", &["DEL", &session]));
            probes.push(probe("no RESTORE", &["RESTORE", &session, "0", "x"]));
            probes.push(probe("no key outside the prefix", &["GET", &outside]));
        }
        Role::Sentinel => {
            probes.extend(
                admin_probes
                    .into_iter()
                    .filter(|p| p.args[0] != "REPLICAOF"),
            );
            probes.push(probe("no key reads", &["GET", &session]));
            probes.push(probe("no SCAN", &["SCAN", "0", "COUNT", "1"]));
            probes.push(probe("no delete", &["DEL", &session]));
        }
    }
    probes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_but_admin_has_probes_and_none_is_granted_a_forbidden_command() {
        for role in Role::ALL {
            let probes = refusals(role, "sdb");
            assert_eq!(probes.is_empty(), role == Role::Admin, "{role}");
            let granted = role.commands();
            for name in forbidden(role) {
                assert!(!granted.contains(name), "{role} is granted {name}");
            }
        }
    }
}
