//! Talking to a group of sentinels that monitor one master, knowing only
//! their ports: readiness of a fresh topology, the current master, forced
//! failover and waiting for a master change.
//!
//! [`crate::SentinelTopology`] (which owns its processes) and the local
//! stack's supervisor and CLI helpers (which find the ports in a state file)
//! both drive sentinels through this view.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::poll::{poll_until, Pending};
use crate::process::LOOPBACK;
use crate::resp::{query, Connection, Reply, IO_TIMEOUT};
use crate::{LocalError, TlsClient};

/// Sentinels on 127.0.0.1 monitoring the master `service_name`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SentinelGroup<'a> {
    /// The monitored master's name.
    pub(crate) service_name: &'a str,
    /// Ports of the sentinels.
    pub(crate) sentinel_ports: &'a [u16],
    /// Password of the data nodes (for `ROLE` / `INFO` probes).
    pub(crate) password: Option<&'a SecretString>,
    /// Password of the sentinels themselves.
    pub(crate) sentinel_password: Option<&'a SecretString>,
    /// TLS towards the sentinels and data nodes, when they speak TLS only.
    pub(crate) tls: Option<&'a TlsClient>,
}

impl SentinelGroup<'_> {
    /// The master according to the first sentinel that answers
    /// `SENTINEL GET-MASTER-ADDR-BY-NAME`.
    pub(crate) fn current_master(&self) -> Result<(String, u16), LocalError> {
        let mut errors = Vec::new();
        for &port in self.sentinel_ports {
            match self.master_addr_from(port) {
                Ok(addr) => return Ok(addr),
                Err(err) => errors.push(err.to_string()),
            }
        }
        Err(LocalError::Command {
            target: "sentinels".to_owned(),
            command: "SENTINEL GET-MASTER-ADDR-BY-NAME".to_owned(),
            message: format!("no sentinel answered: {}", errors.join("; ")),
        })
    }

    /// The master according to the sentinel on `sentinel_port`.
    pub(crate) fn master_addr_from(&self, sentinel_port: u16) -> Result<(String, u16), LocalError> {
        let mut conn = self.open(sentinel_port, self.sentinel_password)?;
        self.master_addr_on(&mut conn)
    }

    /// A connection to the node or sentinel on `port`, authenticated with `password`.
    fn open(&self, port: u16, password: Option<&SecretString>) -> Result<Connection, LocalError> {
        Connection::open_tls(LOOPBACK, port, password, self.tls, IO_TIMEOUT)
    }

    fn master_addr_on(&self, conn: &mut Connection) -> Result<(String, u16), LocalError> {
        let reply = conn.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name])?;
        let parsed = match reply.items() {
            Some([host, port]) => host
                .text()
                .zip(port.text().and_then(|p| p.parse::<u16>().ok()))
                .map(|(host, port)| (host.to_owned(), port)),
            _ => None,
        };
        parsed.ok_or_else(|| LocalError::Protocol {
            target: conn.target().to_owned(),
            command: "SENTINEL GET-MASTER-ADDR-BY-NAME".to_owned(),
            message: format!("expected [host, port], got {reply:?}"),
        })
    }

    /// Sends `SENTINEL FAILOVER` until one sentinel accepts it (or reports
    /// that a failover is already in progress), for at most `wait`.
    /// Retries cover the time sentinels need to consider a replica suitable.
    pub(crate) fn request_failover(&self, wait: Duration) -> Result<(), LocalError> {
        let what = format!(
            "a sentinel to accept SENTINEL FAILOVER {}",
            self.service_name
        );
        poll_until(&what, wait, || {
            let mut last = String::from("no sentinel");
            for &port in self.sentinel_ports {
                let args = ["SENTINEL", "FAILOVER", self.service_name];
                match query(LOOPBACK, port, self.sentinel_password, self.tls, &args) {
                    Ok(_) => return Ok(()),
                    // Another failover is already running: wait for it.
                    Err(LocalError::Command { message, .. }) if message.starts_with("INPROG") => {
                        return Ok(())
                    }
                    Err(err) => last = err.to_string(),
                }
            }
            Err(Pending::Wait(last))
        })
    }

    /// Forces a failover and waits, up to `wait` in all, until the sentinels agree on
    /// a new master that says `ROLE` master (see [`Self::wait_for_master_change`]).
    ///
    /// A sentinel accepts `SENTINEL FAILOVER` and may then abort it when no replica
    /// looks suitable yet (`-failover-abort-no-good-slave`, e.g. while its view of the
    /// replicas is being refreshed on a busy machine); forced failovers are not retried
    /// by Sentinel itself, so the request is repeated after each attempt window.
    pub(crate) fn failover(
        &self,
        old: &(String, u16),
        wait: Duration,
        min_answers: usize,
    ) -> Result<(String, u16), LocalError> {
        const ATTEMPT: Duration = Duration::from_secs(10);
        let deadline = Instant::now() + wait;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            self.request_failover(remaining)?;
            let window = ATTEMPT.min(deadline.saturating_duration_since(Instant::now()));
            match self.wait_for_master_change(old.clone(), window, min_answers) {
                Err(LocalError::Timeout { .. })
                    if Instant::now() + Duration::from_secs(1) < deadline => {}
                outcome => return outcome,
            }
        }
    }

    /// Waits up to `deadline` until the sentinels report a master other
    /// than `old` and that node says `ROLE` master.
    ///
    /// Every reachable sentinel must report the same new address, and at
    /// least `min_answers` sentinels must answer.
    pub(crate) fn wait_for_master_change(
        &self,
        old: (String, u16),
        deadline: Duration,
        min_answers: usize,
    ) -> Result<(String, u16), LocalError> {
        let (old_host, old_port) = old;
        let what = format!("the sentinels to replace master {old_host}:{old_port}");
        poll_until(&what, deadline, || {
            let mut answers = Vec::new();
            for &port in self.sentinel_ports {
                let Ok(mut conn) = self.open(port, self.sentinel_password) else {
                    continue;
                };
                answers.push(self.master_addr_on(&mut conn)?);
            }
            let Some(first) = answers.first().cloned() else {
                return Err(Pending::wait("no sentinel reachable"));
            };
            if answers.len() < min_answers {
                return Err(Pending::wait(format!(
                    "only {} sentinels reachable",
                    answers.len()
                )));
            }
            if answers.iter().any(|a| *a != first) {
                return Err(Pending::wait(format!("sentinels disagree: {answers:?}")));
            }
            if first.0 == old_host && first.1 == old_port {
                return Err(Pending::wait("sentinels still report the old master"));
            }
            let role = role_of(&first.0, first.1, self.password, self.tls)?;
            if role != "master" {
                return Err(Pending::wait(format!(
                    "new master {first:?} has role {role}"
                )));
            }
            Ok(first)
        })
    }

    /// One probe of whether a failover to `new` is complete on every
    /// sentinel: `SENTINEL MASTER` shows `new`'s address with the flags
    /// back to plain `master` (no `failover_in_progress`).
    ///
    /// `SENTINEL GET-MASTER-ADDR-BY-NAME` already reports the promoted
    /// replica while the failover is still reconfiguring replicas; this is
    /// the stricter "done" check.
    pub(crate) fn check_failover_complete(&self, new: (&str, u16)) -> Result<(), Pending> {
        let new_port = new.1.to_string();
        for &port in self.sentinel_ports {
            let args = ["SENTINEL", "MASTER", self.service_name];
            let reply = query(LOOPBACK, port, self.sentinel_password, self.tls, &args)?;
            let fields = pairs(&reply);
            let seen = |key: &str| fields.get(key).copied().unwrap_or("?");
            if seen("ip") != new.0 || seen("port") != new_port || seen("flags") != "master" {
                return Err(Pending::wait(format!(
                    "sentinel {port} sees {}:{} with flags {}",
                    seen("ip"),
                    seen("port"),
                    seen("flags")
                )));
            }
        }
        Ok(())
    }

    /// One readiness probe of a freshly started group: the master on
    /// `master_port` says `ROLE` master and has `replicas` replicas online
    /// that acknowledge its writes (`WAIT`), and every sentinel sees it as master with all replicas and all other
    /// sentinels.
    pub(crate) fn check_ready(&self, master_port: u16, replicas: usize) -> Result<(), Pending> {
        let role = role_of(LOOPBACK, master_port, self.password, self.tls)?;
        if role != "master" {
            return Err(Pending::wait(format!("master has role {role}")));
        }
        let info = query(
            LOOPBACK,
            master_port,
            self.password,
            self.tls,
            &["INFO", "replication"],
        )?;
        let info = info.text().unwrap_or_default();
        let online = info
            .lines()
            .filter(|l| l.starts_with("slave") && l.contains("state=online"))
            .count();
        if online != replicas {
            return Err(Pending::wait(format!(
                "{online}/{replicas} replicas online"
            )));
        }
        // "online" is not enough: after a diskless full sync the master streams
        // writes to a replica only once that replica sent its first REPLCONF ACK (its
        // once-a-second cron). A replica promoted before then lacks every write made
        // since. So propagate something (a PUBLISH, which leaves no data behind) and
        // WAIT on the same connection until every replica acknowledged it.
        let mut conn = self.open(master_port, self.password)?;
        conn.call(&["PUBLISH", "__sessiondb_fixture__:ready", "1"])?;
        let wanted = replicas.to_string();
        let acked = conn.call(&["WAIT", wanted.as_str(), "100"])?;
        let all = i64::try_from(replicas).unwrap_or(i64::MAX);
        if !matches!(acked, Reply::Integer(n) if n >= all) {
            return Err(Pending::wait(format!(
                "replicas acknowledging the master's writes: {acked:?} of {replicas}"
            )));
        }
        let other_sentinels = self.sentinel_ports.len().saturating_sub(1).to_string();
        let replicas = replicas.to_string();
        for &port in self.sentinel_ports {
            let args = ["SENTINEL", "MASTER", self.service_name];
            let reply = query(LOOPBACK, port, self.sentinel_password, self.tls, &args)?;
            let fields = pairs(&reply);
            let seen = |key: &str| fields.get(key).copied().unwrap_or("?");
            if seen("flags") != "master"
                || seen("num-slaves") != replicas
                || seen("num-other-sentinels") != other_sentinels
            {
                return Err(Pending::wait(format!(
                    "sentinel {port} sees flags={} num-slaves={} num-other-sentinels={}",
                    seen("flags"),
                    seen("num-slaves"),
                    seen("num-other-sentinels"),
                )));
            }
        }
        Ok(())
    }
}

/// The first element of `ROLE` (`master`, `slave` or `sentinel`).
pub(crate) fn role_of(
    host: &str,
    port: u16,
    password: Option<&SecretString>,
    tls: Option<&TlsClient>,
) -> Result<String, LocalError> {
    let reply = query(host, port, password, tls, &["ROLE"])?;
    match reply
        .items()
        .and_then(|items| items.first())
        .and_then(Reply::text)
    {
        Some(role) => Ok(role.to_owned()),
        None => Err(LocalError::Protocol {
            target: format!("{host}:{port}"),
            command: "ROLE".to_owned(),
            message: format!("unexpected reply {reply:?}"),
        }),
    }
}

/// A flat `[key, value, key, value, ...]` reply as a map.
pub(crate) fn pairs(reply: &Reply) -> HashMap<&str, &str> {
    reply
        .items()
        .unwrap_or_default()
        .chunks_exact(2)
        .filter_map(|kv| Some((kv[0].text()?, kv[1].text()?)))
        .collect()
}
