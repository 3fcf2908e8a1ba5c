//! What each role may run and touch.
//!
//! Each list has two parts:
//!
//! - the commands sessiondb itself sends in that role ([`Permissions::sessiondb`]),
//!   connection set-up and the commands inside its Lua scripts included. These lists
//!   are proven exact by the `acl` tests of this crate, which run the engine and the
//!   operations on a live server in each role and compare what the server counted
//!   (`INFO commandstats`) with the list, both ways: a command sessiondb starts
//!   sending and a command it stops sending both fail them;
//! - the commands other programs send in that role ([`Permissions::external`]):
//!   redis_exporter for `monitor`, Sentinel and replication for `sentinel`, from those
//!   programs' documentation.
//!
//! Commands are lower-case Redis ACL names; `container|sub` names one subcommand.

use serde::Serialize;

use crate::Role;

/// The commands and keys of one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// Commands sessiondb sends in this role (checked against live servers).
    pub sessiondb: &'static [&'static str],
    /// Commands other programs send in this role (from their documentation), and which
    /// program.
    pub external: &'static [&'static str],
    /// Who sends [`Permissions::external`].
    pub external_source: &'static str,
    /// Commands of [`Permissions::sessiondb`] granted on one key only, as
    /// `(command, key under the prefix)`: an ACL selector, so the role's other keys
    /// stay out of reach of that command.
    pub only_on: &'static [(&'static str, &'static str)],
}

/// The engine's commands: start-up (schema check, script loading), the scripts and the
/// commands inside them, the event stream, the cleanup lease, readiness and role probes.
const APP: &[&str] = &[
    "client|id",
    "decr",
    "decrby",
    "del",
    "evalsha",
    "get",
    "incr",
    "incrby",
    "info",
    "ping",
    "role",
    "script|exists",
    "script|load",
    "set",
    "time",
    "wait",
    "xadd",
    "zadd",
    "zrange",
    "zrem",
    "zremrangebyscore",
];

/// The cleanup pass (it runs the engine's cleanup script and holds the lease).
const CLEANUP: &[&str] = &[
    "client|id",
    "decrby",
    "del",
    "evalsha",
    "get",
    "info",
    "role",
    "script|load",
    "set",
    "time",
    "xadd",
    "zadd",
    "zrange",
    "zrem",
];

/// `sessiondb backup`: scan, the export scripts, the server's clock and INFO for the
/// file header, and its success marker.
const BACKUP: &[&str] = &[
    "client|id",
    "dump",
    "evalsha",
    "get",
    "info",
    "pttl",
    "role",
    "scan",
    "script|load",
    "set",
    "time",
    "zrange",
];

/// `sessiondb health` and `status`: INFO, the write probe, the counters.
const MONITOR: &[&str] = &["client|id", "get", "info", "role", "set", "zcard"];

/// What redis_exporter sends (its README's minimal ACL, without key checks; the
/// `roles` tests scrape the installed exporter as `monitor` and check it is refused
/// nothing and sends nothing unlisted).
const EXPORTER: &[&str] = &[
    "client|list",
    "client|setname",
    "cluster|info",
    "config|get",
    "info",
    "latency|histogram",
    "latency|latest",
    "memory|stats",
    "ping",
    "select",
    "slowlog|get",
    "slowlog|len",
];

/// The Sentinel-to-Redis command set and the replication commands, from the Redis
/// documentation ("Redis Sentinel: ACL" and "Replication: authentication").
const SENTINEL: &[&str] = &[
    "client|kill",
    "client|setname",
    "config|rewrite",
    "exec",
    "info",
    "multi",
    "ping",
    "psync",
    "publish",
    "replconf",
    "replicaof",
    "role",
    "script|kill",
    "slaveof",
    "subscribe",
];

/// The Pub/Sub channel Sentinels announce themselves on.
pub const SENTINEL_CHANNEL: &str = "__sentinel__:hello";

impl Role {
    /// The commands this role may run (`admin`: every command, so empty lists).
    pub const fn permissions(self) -> Permissions {
        type Lists = (
            &'static [&'static str],
            &'static [&'static str],
            &'static str,
            &'static [(&'static str, &'static str)],
        );
        let (sessiondb, external, external_source, only_on): Lists = match self {
            Role::Admin => (&[], &[], "", &[]),
            Role::App => (APP, &[], "", &[]),
            Role::Cleanup => (CLEANUP, &[], "", &[]),
            Role::Backup => (BACKUP, &[], "", &[("set", "backup:last")]),
            Role::Monitor => (
                MONITOR,
                EXPORTER,
                "redis_exporter",
                &[("set", "health"), ("set", "health:{*}")],
            ),
            Role::Sentinel => (&[], SENTINEL, "Redis Sentinel and replication", &[]),
        };
        Permissions {
            sessiondb,
            external,
            external_source,
            only_on,
        }
    }

    /// Every command this role may run on all its keys, sorted, without repeats (empty
    /// for `admin`, which may run everything). Commands it may run on one key only
    /// ([`Permissions::only_on`]) are not among them.
    pub fn commands(self) -> Vec<&'static str> {
        let p = self.permissions();
        let mut all: Vec<&str> = p
            .sessiondb
            .iter()
            .chain(p.external)
            .copied()
            .filter(|c| !p.only_on.iter().any(|(only, _)| only == c))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The ACL key and channel rules of this role under the key prefix `prefix` (which
    /// must be valid: see [`check_prefix`](crate::check_prefix)).
    pub fn key_rules(self, prefix: &str) -> Vec<String> {
        match self {
            Role::Admin => vec!["~*".to_owned(), "&*".to_owned()],
            Role::App | Role::Cleanup => vec![format!("~{prefix}:*")],
            // Scripts declare their keys read-write (EVALSHA), so the key pattern
            // cannot be read-only; the commands are (writes only in the selector).
            Role::Backup => {
                let mut rules = vec![format!("~{prefix}:*")];
                rules.extend(self.selectors(prefix));
                rules
            }
            // No scripts: reads of the counters and markers only, never of a session.
            Role::Monitor => {
                let mut rules = vec![
                    format!("%R~{prefix}:{{*}}:n"),
                    format!("%R~{prefix}:{{*}}:due"),
                    format!("%R~{prefix}:schema"),
                    format!("%R~{prefix}:cleanup:last"),
                    format!("%R~{prefix}:backup:last"),
                ];
                rules.extend(self.selectors(prefix));
                rules
            }
            Role::Sentinel => vec![format!("&{SENTINEL_CHANNEL}")],
        }
    }

    /// One ACL selector per command of [`Permissions::only_on`], e.g.
    /// `(+set ~sdb:backup:last)`.
    fn selectors(self, prefix: &str) -> Vec<String> {
        let only_on = self.permissions().only_on;
        let mut commands: Vec<&str> = only_on.iter().map(|(c, _)| *c).collect();
        commands.dedup();
        commands
            .into_iter()
            .map(|command| {
                let keys: Vec<String> = only_on
                    .iter()
                    .filter(|(c, _)| *c == command)
                    .map(|(_, key)| format!("~{prefix}:{key}"))
                    .collect();
                format!("(+{command} {})", keys.join(" "))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_lower_case_and_never_grant_the_forbidden_commands() {
        for role in Role::ALL {
            let p = role.permissions();
            for list in [p.sessiondb, p.external] {
                let mut sorted = list.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted, list, "{role}: keep the list sorted, no repeats");
            }
            for command in role.commands() {
                assert_eq!(command, command.to_ascii_lowercase());
                for forbidden in crate::forbidden(role) {
                    assert_ne!(command, *forbidden, "{role} must not get {forbidden}");
                }
            }
        }
    }
}
