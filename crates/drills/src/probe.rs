//! Blocking probes of the Redis and Sentinel processes on 127.0.0.1: `ROLE`,
//! `SENTINEL GET-MASTER-ADDR-BY-NAME`, `SENTINEL MASTER`, or any command.
//!
//! One short-lived connection per command (the RESP client of
//! `sessiondb_local::resp`) with short timeouts, so a dead or stopped process
//! costs at most [`PROBE_TIMEOUT`] and a sampling loop never stalls. [`Access`]
//! says how to get in: plaintext without passwords, or (a secure drill topology)
//! TLS with the client certificate, the admin password on data nodes and the
//! Sentinel password on Sentinels.

use sessiondb_local::resp::Connection;
pub use sessiondb_local::resp::{Reply, PROBE_TIMEOUT};
use sessiondb_local::{LocalError, SecretString, SentinelTopology, TlsClient};

/// How the probes reach the data nodes and Sentinels. `Debug` shows no password.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Password of the data nodes' `default` user (under ACLs a second admin with the
    /// admin password); `None`: no `AUTH`.
    pub password: Option<SecretString>,
    /// Password of the Sentinels; `None`: no `AUTH`.
    pub sentinel_password: Option<SecretString>,
    /// TLS (CA and client certificate) when the processes speak TLS only; `None`:
    /// plain TCP.
    pub tls: Option<TlsClient>,
}

impl Access {
    /// Plain TCP, no passwords.
    pub fn open() -> Self {
        Self::default()
    }

    /// How the fixture that started `topology` reaches it.
    pub fn to(topology: &SentinelTopology) -> Self {
        Self {
            password: topology.password().cloned(),
            sentinel_password: topology.sentinel_password().cloned(),
            tls: topology.tls().cloned(),
        }
    }

    fn connect(
        &self,
        port: u16,
        password: Option<&SecretString>,
    ) -> Result<Connection, LocalError> {
        let tls = self.tls.as_ref();
        Connection::open_tls("127.0.0.1", port, password, tls, PROBE_TIMEOUT)
    }
}

/// A probe that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Connecting, sending or reading failed (the process is down, stopped or
    /// slow), or the server answered with an error reply.
    #[error(transparent)]
    Redis(#[from] LocalError),
    /// The server answered with an unexpected shape.
    #[error("127.0.0.1:{port}: {command}: {message}")]
    Reply {
        /// The probed port.
        port: u16,
        /// The command name.
        command: String,
        /// What was wrong with the reply.
        message: String,
    },
}

/// What a data node says it is (`ROLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A master, with the ports of the replicas connected to it.
    Master {
        /// Ports of the connected replicas.
        replicas: Vec<u16>,
    },
    /// A replica of `master_port`; `link` is the replication state
    /// (`connect`, `connecting`, `sync`, `connected`).
    Replica {
        /// The master it replicates from.
        master_port: u16,
        /// The replication link state.
        link: String,
    },
    /// A Sentinel.
    Sentinel,
}

/// Runs one command on the data node on `127.0.0.1:port`; error replies are errors.
pub fn query(access: &Access, port: u16, args: &[&str]) -> Result<Reply, ProbeError> {
    let mut conn = access.connect(port, access.password.as_ref())?;
    Ok(conn.call(args)?)
}

/// Runs one command on the Sentinel on `127.0.0.1:port`; error replies are errors.
pub fn sentinel_query(access: &Access, port: u16, args: &[&str]) -> Result<Reply, ProbeError> {
    let mut conn = access.connect(port, access.sentinel_password.as_ref())?;
    Ok(conn.call(args)?)
}

/// The role of the data node on `port`.
pub fn role(access: &Access, port: u16) -> Result<Role, ProbeError> {
    let reply = query(access, port, &["ROLE"])?;
    let bad = |message: String| ProbeError::Reply {
        port,
        command: "ROLE".to_owned(),
        message,
    };
    let items = reply
        .items()
        .ok_or_else(|| bad(format!("not an array: {reply:?}")))?;
    let field = |i: usize| items.get(i).and_then(Reply::text).unwrap_or_default();
    match field(0) {
        "master" => {
            let replicas = items
                .get(2)
                .and_then(Reply::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.items()?.get(1)?.text()?.parse().ok())
                .collect();
            Ok(Role::Master { replicas })
        }
        "slave" => Ok(Role::Replica {
            master_port: items
                .get(2)
                .and_then(number)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| bad(format!("bad master port in {reply:?}")))?,
            link: field(3).to_owned(),
        }),
        "sentinel" => Ok(Role::Sentinel),
        other => Err(bad(format!("unknown role {other:?}"))),
    }
}

/// An integer reply, or a status or bulk reply holding one.
fn number(reply: &Reply) -> Option<i64> {
    match reply {
        Reply::Integer(n) => Some(*n),
        other => other.text()?.parse().ok(),
    }
}

/// The master port the Sentinel on `sentinel_port` reports for `service`
/// (`SENTINEL GET-MASTER-ADDR-BY-NAME`); `None` when it knows no such master.
pub fn sentinel_master(
    access: &Access,
    sentinel_port: u16,
    service: &str,
) -> Result<Option<u16>, ProbeError> {
    let reply = sentinel_query(
        access,
        sentinel_port,
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", service],
    )?;
    let Some(items) = reply.items() else {
        return Ok(None);
    };
    let port = items
        .get(1)
        .and_then(Reply::text)
        .and_then(|p| p.parse().ok());
    port.map(Some).ok_or_else(|| ProbeError::Reply {
        port: sentinel_port,
        command: "SENTINEL".to_owned(),
        message: format!("unexpected master address {reply:?}"),
    })
}

/// The `flags` field of `SENTINEL MASTER <service>` (e.g. `master`,
/// `s_down,master`, `o_down,s_down,master,failover_in_progress`).
pub fn sentinel_flags(
    access: &Access,
    sentinel_port: u16,
    service: &str,
) -> Result<String, ProbeError> {
    let reply = sentinel_query(access, sentinel_port, &["SENTINEL", "MASTER", service])?;
    let items = reply.items().unwrap_or_default();
    items
        .chunks_exact(2)
        .find(|kv| kv[0].text() == Some("flags"))
        .and_then(|kv| kv[1].text())
        .map(str::to_owned)
        .ok_or_else(|| ProbeError::Reply {
            port: sentinel_port,
            command: "SENTINEL".to_owned(),
            message: "no flags in SENTINEL MASTER".to_owned(),
        })
}
