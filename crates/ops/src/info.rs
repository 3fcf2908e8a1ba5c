//! Reading `INFO` replies: `field:value` lines, replica lines and the keyspace.

use std::collections::HashMap;

/// A parsed `INFO` reply.
#[derive(Debug, Clone, Default)]
pub(crate) struct Info {
    fields: HashMap<String, String>,
}

/// A replica as its master lists it (`slaveN:ip=…,port=…,state=…,offset=…,lag=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaLine {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) state: String,
    pub(crate) offset: u64,
    /// Seconds since the replica's last acknowledgement.
    pub(crate) lag: u64,
}

impl Info {
    pub(crate) fn parse(text: &str) -> Self {
        let fields = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.trim().split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { fields }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub(crate) fn u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }

    /// `master` or `replica` (`slave` in INFO).
    pub(crate) fn role(&self) -> Option<&str> {
        match self.get("role")? {
            "slave" => Some("replica"),
            other => Some(other),
        }
    }

    /// The replicas a master lists, in INFO order.
    pub(crate) fn replicas(&self) -> Vec<ReplicaLine> {
        let mut found: Vec<(u32, ReplicaLine)> = self
            .fields
            .iter()
            .filter_map(|(name, value)| {
                let index: u32 = name.strip_prefix("slave")?.parse().ok()?;
                Some((index, parse_replica(value)?))
            })
            .collect();
        found.sort_by_key(|(i, _)| *i);
        found.into_iter().map(|(_, r)| r).collect()
    }

    /// Keys in database `db` (`db0:keys=…,expires=…`).
    pub(crate) fn keys(&self, db: u8) -> u64 {
        self.get(&format!("db{db}"))
            .and_then(|v| {
                v.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find_map(|(k, v)| (k == "keys").then(|| v.parse().ok()).flatten())
            })
            .unwrap_or(0)
    }
}

fn parse_replica(value: &str) -> Option<ReplicaLine> {
    let field = |key: &str| {
        value
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find_map(|(k, v)| (k == key).then_some(v))
    };
    Some(ReplicaLine {
        host: field("ip")?.to_owned(),
        port: field("port")?.parse().ok()?,
        state: field("state")?.to_owned(),
        offset: field("offset")?.parse().ok()?,
        lag: field("lag")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
        slave1:ip=10.0.0.3,port=6381,state=online,offset=1000,lag=1\r\n\
        slave0:ip=10.0.0.2,port=6380,state=wait_bgsave,offset=0,lag=0\r\n\
        master_repl_offset:1000\r\n# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=5\r\n";

    #[test]
    fn replicas_come_in_index_order_with_their_fields() {
        let info = Info::parse(MASTER);
        assert_eq!(info.role(), Some("master"));
        let replicas = info.replicas();
        assert_eq!(replicas.len(), 2);
        assert_eq!(replicas[0].port, 6380);
        assert_eq!(replicas[0].state, "wait_bgsave");
        assert_eq!(replicas[1].lag, 1);
        assert_eq!(info.u64("master_repl_offset"), Some(1000));
    }

    #[test]
    fn keys_come_from_the_keyspace_section() {
        let info = Info::parse(MASTER);
        assert_eq!(info.keys(0), 12);
        assert_eq!(info.keys(1), 0);
    }

    #[test]
    fn a_replica_reports_role_replica() {
        assert_eq!(Info::parse("role:slave\n").role(), Some("replica"));
    }
}
