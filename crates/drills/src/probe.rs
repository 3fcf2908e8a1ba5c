//! Blocking probes of the Redis and Sentinel processes on 127.0.0.1: `ROLE`,
//! `SENTINEL GET-MASTER-ADDR-BY-NAME`, `SENTINEL MASTER`, or any command.
//!
//! A tiny RESP2 client, one short-lived connection per command with short
//! timeouts, so a dead or stopped process costs at most [`PROBE_TIMEOUT`] and a
//! sampling loop never stalls. The drills need no passwords (loopback only).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Connect, read and write timeout of one probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A probe that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Connecting, sending or reading failed (the process is down, stopped or slow).
    #[error("127.0.0.1:{port}: {command}: {source}")]
    Io {
        /// The probed port.
        port: u16,
        /// The command name.
        command: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The server answered with an error reply or with an unexpected shape.
    #[error("127.0.0.1:{port}: {command}: {message}")]
    Reply {
        /// The probed port.
        port: u16,
        /// The command name.
        command: String,
        /// The error reply, or what was wrong with the reply.
        message: String,
    },
}

/// A decoded RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR …`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$…`; `None` for the null bulk string.
    Bulk(Option<String>),
    /// `*…`; `None` for the null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status or bulk reply, or an integer in decimal.
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Status(s) | Self::Bulk(Some(s)) => Some(s.clone()),
            Self::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// The elements of a non-null array reply.
    pub fn items(&self) -> Option<&[Reply]> {
        match self {
            Self::Array(Some(items)) => Some(items),
            _ => None,
        }
    }
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

/// Runs one command on `127.0.0.1:port`; error replies are [`ProbeError::Reply`].
pub fn query(port: u16, args: &[&str]) -> Result<Reply, ProbeError> {
    let command = args
        .first()
        .copied()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let io = |source| ProbeError::Io {
        port,
        command: command.clone(),
        source,
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    let mut frame = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        frame.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(&frame).map_err(io)?;
    match read_reply(&mut reader).map_err(io)? {
        Reply::Error(message) => Err(ProbeError::Reply {
            port,
            command,
            message,
        }),
        reply => Ok(reply),
    }
}

/// The role of the process on `port`.
pub fn role(port: u16) -> Result<Role, ProbeError> {
    let reply = query(port, &["ROLE"])?;
    let bad = |message: String| ProbeError::Reply {
        port,
        command: "ROLE".to_owned(),
        message,
    };
    let items = reply
        .items()
        .ok_or_else(|| bad(format!("not an array: {reply:?}")))?;
    let field = |i: usize| items.get(i).and_then(Reply::text).unwrap_or_default();
    match field(0).as_str() {
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
            master_port: field(2)
                .parse()
                .map_err(|_| bad(format!("bad master port in {reply:?}")))?,
            link: field(3),
        }),
        "sentinel" => Ok(Role::Sentinel),
        other => Err(bad(format!("unknown role {other:?}"))),
    }
}

/// The master port the Sentinel on `sentinel_port` reports for `service`
/// (`SENTINEL GET-MASTER-ADDR-BY-NAME`); `None` when it knows no such master.
pub fn sentinel_master(sentinel_port: u16, service: &str) -> Result<Option<u16>, ProbeError> {
    let reply = query(
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
pub fn sentinel_flags(sentinel_port: u16, service: &str) -> Result<String, ProbeError> {
    let reply = query(sentinel_port, &["SENTINEL", "MASTER", service])?;
    let items = reply.items().unwrap_or_default();
    items
        .chunks_exact(2)
        .find(|kv| kv[0].text().as_deref() == Some("flags"))
        .and_then(|kv| kv[1].text())
        .ok_or_else(|| ProbeError::Reply {
            port: sentinel_port,
            command: "SENTINEL".to_owned(),
            message: "no flags in SENTINEL MASTER".to_owned(),
        })
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    let line = line
        .strip_suffix("\r\n")
        .ok_or_else(|| invalid(format!("unterminated line {line:?}")))?;
    let (kind, rest) = line
        .split_at_checked(1)
        .ok_or_else(|| invalid("empty line".to_owned()))?;
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| invalid(format!("bad length {rest:?}")))
    };
    match kind {
        "+" => Ok(Reply::Status(rest.to_owned())),
        "-" => Ok(Reply::Error(rest.to_owned())),
        ":" => Ok(Reply::Integer(number()?)),
        "$" => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Reply::Bulk(None));
            };
            let mut buf = vec![0; len + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(len);
            Ok(Reply::Bulk(Some(
                String::from_utf8_lossy(&buf).into_owned(),
            )))
        }
        "*" => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Reply::Array(None));
            };
            let items = (0..len)
                .map(|_| read_reply(reader))
                .collect::<Result<_, _>>()?;
            Ok(Reply::Array(Some(items)))
        }
        other => Err(invalid(format!("unknown reply type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_a_master_role_with_replicas() {
        let raw = "*3\r\n$6\r\nmaster\r\n:10\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n7001\r\n$2\r\n10\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n7002\r\n$1\r\n9\r\n";
        let reply = read_reply(&mut raw.as_bytes()).unwrap();
        let items = reply.items().unwrap();
        assert_eq!(items[0].text().as_deref(), Some("master"));
        assert_eq!(items[2].items().unwrap().len(), 2);
    }

    #[test]
    fn rejects_garbage() {
        assert!(read_reply(&mut "?\r\n".as_bytes()).is_err());
        assert!(read_reply(&mut "".as_bytes()).is_err());
        assert!(read_reply(&mut "+OK".as_bytes()).is_err());
    }
}
