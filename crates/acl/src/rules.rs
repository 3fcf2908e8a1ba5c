//! What each role may run and touch.
//!
//! A role's commands are of two kinds:
//!
//! - the commands sessiondb itself sends in that role, connection set-up and the
//!   commands inside its Lua scripts included: on every topology
//!   ([`Permissions::sessiondb`]), only on a standalone server or through Sentinel
//!   ([`Permissions::standalone`]), only on a Redis Cluster ([`Permissions::cluster`]).
//!   These lists are proven exact by the `acl` tests of this crate, which run the engine and
//!   the operations in each role on a live server and on a live Cluster and compare
//!   what the nodes counted (`INFO commandstats`) with the lists, both ways: a command
//!   sessiondb starts sending and a command it stops sending both fail them;
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
    /// Commands sessiondb sends in this role on every topology (checked against a live
    /// server and a live Cluster).
    pub sessiondb: &'static [&'static str],
    /// Commands sessiondb sends in this role only on a standalone server or through
    /// Sentinel (checked against a live server).
    pub standalone: &'static [&'static str],
    /// Commands sessiondb sends in this role only on a Redis Cluster (checked against a
    /// live Cluster).
    pub cluster: &'static [&'static str],
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
    "fcall",
    "function|load",
    "get",
    "incr",
    "incrby",
    "info",
    "role",
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
    "fcall",
    "function|load",
    "get",
    "info",
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

/// What the Redis client sends on a Cluster: `cluster|info` when it connects to a node
/// (it checks `cluster_state`), `cluster|slots` to learn the slot layout, `asking`
/// before a command it follows an ASK redirection with (while a slot migrates).
const CLUSTER_CLIENT: &[&str] = &["asking", "cluster|info", "cluster|slots"];

/// The engine on a Cluster: the client's commands, and `readonly` on its connections
/// to replicas (listings with `redis.read_from = replica_preferred`).
const APP_CLUSTER: &[&str] = &["asking", "cluster|info", "cluster|slots", "readonly"];

/// On a standalone server or through Sentinel the client asks the server for its
/// replicas (`role`) when it connects; on a Cluster it learns them from `cluster|slots`.
const ROLE_PROBE: &[&str] = &["role"];

/// `backup` on a Cluster: the client's commands, the node table (`cluster|nodes`) to
/// find each shard's master or replica, and `readonly` on the connections to replicas
/// (`--from replica`).
const BACKUP_CLUSTER: &[&str] = &[
    "asking",
    "cluster|info",
    "cluster|nodes",
    "cluster|slots",
    "readonly",
];

/// `health` and `status` on a Cluster: the client's commands and the node table.
const MONITOR_CLUSTER: &[&str] = &["asking", "cluster|info", "cluster|nodes", "cluster|slots"];

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

/// No commands.
const NONE: &[&str] = &[];

/// The commands sessiondb sends on every topology and only on a Cluster; the other
/// lists empty.
const fn sent(sessiondb: &'static [&'static str], cluster: &'static [&'static str]) -> Permissions {
    Permissions {
        sessiondb,
        standalone: NONE,
        cluster,
        external: NONE,
        external_source: "",
        only_on: &[],
    }
}

impl Role {
    /// The commands this role may run (`admin`: every command, so empty lists).
    pub const fn permissions(self) -> Permissions {
        match self {
            Role::Admin => sent(NONE, NONE),
            Role::App => sent(APP, APP_CLUSTER),
            Role::Cleanup => Permissions {
                standalone: ROLE_PROBE,
                ..sent(CLEANUP, CLUSTER_CLIENT)
            },
            Role::Backup => Permissions {
                only_on: &[("set", "backup:last")],
                ..sent(BACKUP, BACKUP_CLUSTER)
            },
            Role::Monitor => Permissions {
                external: EXPORTER,
                external_source: "redis_exporter",
                only_on: &[("set", "health"), ("set", "health:{*}")],
                ..sent(MONITOR, MONITOR_CLUSTER)
            },
            Role::Sentinel => Permissions {
                external: SENTINEL,
                external_source: "Redis Sentinel and replication",
                ..sent(NONE, NONE)
            },
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
            .chain(p.standalone)
            .chain(p.cluster)
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
            let lists = [p.sessiondb, p.standalone, p.cluster, p.external];
            for list in lists {
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
