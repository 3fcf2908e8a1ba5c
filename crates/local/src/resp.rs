//! A minimal, blocking RESP2 client used to probe and drive the instances
//! this crate starts (PING, ROLE, INFO, SENTINEL, CLUSTER, SHUTDOWN), and by
//! the failover drills to sample roles while a process may be dead or stopped.
//!
//! It is deliberately tiny: one request at a time over a short-lived
//! connection with timeouts, no pipelining, no RESP3.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use rustls::pki_types::ServerName;
use secrecy::{ExposeSecret, SecretString};

use crate::error::describe_command;
use crate::{LocalError, TlsClient};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Read/write timeout for ordinary commands.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Read/write timeout for readiness probes: a local PING answers in
/// microseconds, and a probe that times out is simply retried. Keeps a
/// foreign listener that never answers from stalling a poll loop.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$...`; `None` for the null bulk string.
    Bulk(Option<String>),
    /// `*...`; `None` for the null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status or bulk reply.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Status(s) | Self::Bulk(Some(s)) => Some(s),
            _ => None,
        }
    }

    /// The elements of a (non-null) array reply.
    pub fn items(&self) -> Option<&[Reply]> {
        match self {
            Self::Array(Some(items)) => Some(items),
            _ => None,
        }
    }
}

/// An open, authenticated connection.
#[derive(Debug)]
pub struct Connection {
    reader: BufReader<Stream>,
    target: String,
}

/// Plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Plain",
            Self::Tls(_) => "Tls",
        })
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

impl Connection {
    /// Connects to `host:port` and authenticates when a password is given.
    pub fn open(
        host: &str,
        port: u16,
        password: Option<&SecretString>,
    ) -> Result<Self, LocalError> {
        Self::open_with_timeout(host, port, password, IO_TIMEOUT)
    }

    /// Connects to `host:port` and logs in as the ACL user `user`.
    pub fn open_as(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
    ) -> Result<Self, LocalError> {
        let mut conn = Self::connect(host, port, None, IO_TIMEOUT)?;
        conn.auth_as(user, password)?;
        Ok(conn)
    }

    /// Like [`open`](Self::open) with a custom read/write timeout.
    pub fn open_with_timeout(
        host: &str,
        port: u16,
        password: Option<&SecretString>,
        io_timeout: Duration,
    ) -> Result<Self, LocalError> {
        Self::open_tls(host, port, password, None, io_timeout)
    }

    /// [`connect`](Self::connect), then authenticates as the default user when a
    /// password is given.
    pub fn open_tls(
        host: &str,
        port: u16,
        password: Option<&SecretString>,
        tls: Option<&TlsClient>,
        io_timeout: Duration,
    ) -> Result<Self, LocalError> {
        let mut conn = Self::connect(host, port, tls, io_timeout)?;
        if let Some(password) = password {
            conn.auth(password)?;
        }
        Ok(conn)
    }

    /// Connects to `host:port`, over TLS when `tls` is given (the server certificate
    /// is checked against the CA and `host`), without authenticating;
    /// `io_timeout` bounds every read and write.
    pub fn connect(
        host: &str,
        port: u16,
        tls: Option<&TlsClient>,
        io_timeout: Duration,
    ) -> Result<Self, LocalError> {
        let target = format!("{host}:{port}");
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| LocalError::io(format!("resolving {target}"), e))?
            .next()
            .ok_or_else(|| LocalError::io(format!("resolving {target}"), no_address()))?;
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| LocalError::io(format!("connecting to {target}"), e))?;
        let configure = |s: &TcpStream| -> std::io::Result<()> {
            s.set_read_timeout(Some(io_timeout))?;
            s.set_write_timeout(Some(io_timeout))?;
            s.set_nodelay(true)
        };
        configure(&stream).map_err(|e| LocalError::io(format!("configuring {target}"), e))?;
        let stream = match tls {
            None => Stream::Plain(stream),
            Some(tls) => {
                let name = ServerName::try_from(host.to_owned()).map_err(|e| {
                    LocalError::io(format!("TLS towards {target}"), invalid(e.to_string()))
                })?;
                let client = rustls::ClientConnection::new(tls.config(), name).map_err(|e| {
                    LocalError::io(format!("TLS towards {target}"), invalid(e.to_string()))
                })?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(client, stream)))
            }
        };
        Ok(Self {
            reader: BufReader::new(stream),
            target,
        })
    }

    /// Authenticates as the default user.
    pub fn auth(&mut self, password: &SecretString) -> Result<(), LocalError> {
        self.call(&["AUTH", password.expose_secret()]).map(drop)
    }

    /// Logs in as the ACL user `user`.
    pub fn auth_as(&mut self, user: &str, password: &SecretString) -> Result<(), LocalError> {
        self.call(&["AUTH", user, password.expose_secret()])
            .map(drop)
    }

    /// Sends a command and reads its reply; error replies become
    /// [`LocalError::Command`].
    pub fn call(&mut self, args: &[&str]) -> Result<Reply, LocalError> {
        match self.call_raw(args)? {
            Reply::Error(message) => Err(LocalError::Command {
                target: self.target.clone(),
                command: describe_command(args),
                message,
            }),
            reply => Ok(reply),
        }
    }

    /// Sends a command and reads its reply, error replies included.
    pub fn call_raw(&mut self, args: &[&str]) -> Result<Reply, LocalError> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            frame.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            frame.extend_from_slice(arg.as_bytes());
            frame.extend_from_slice(b"\r\n");
        }
        let command = describe_command(args);
        let stream = self.reader.get_mut();
        stream
            .write_all(&frame)
            .and_then(|()| stream.flush())
            .map_err(|e| LocalError::io(format!("sending {command} to {}", self.target), e))?;
        read_reply(&mut self.reader).map_err(|e| {
            LocalError::io(
                format!("reading the reply to {command} from {}", self.target),
                e,
            )
        })
    }

    /// `host:port`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// Opens a connection, runs one command and closes it.
pub fn query(
    host: &str,
    port: u16,
    password: Option<&SecretString>,
    tls: Option<&TlsClient>,
    args: &[&str],
) -> Result<Reply, LocalError> {
    Connection::open_tls(host, port, password, tls, IO_TIMEOUT)?.call(args)
}

/// The value of `field:` in an `INFO` reply.
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.trim_end().strip_prefix(field)?.strip_prefix(':'))
}

fn no_address() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
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
    use super::*;

    fn parse(raw: &str) -> Reply {
        read_reply(&mut raw.as_bytes()).unwrap()
    }

    #[test]
    fn parses_all_reply_kinds() {
        assert_eq!(parse("+PONG\r\n"), Reply::Status("PONG".into()));
        assert_eq!(parse("-ERR nope\r\n"), Reply::Error("ERR nope".into()));
        assert_eq!(parse(":12\r\n"), Reply::Integer(12));
        assert_eq!(parse("$-1\r\n"), Reply::Bulk(None));
        assert_eq!(parse("$3\r\na\r\n\r\n"), Reply::Bulk(Some("a\r\n".into())));
        assert_eq!(parse("*-1\r\n"), Reply::Array(None));
        assert_eq!(
            parse("*2\r\n$6\r\nmaster\r\n:0\r\n"),
            Reply::Array(Some(vec![
                Reply::Bulk(Some("master".into())),
                Reply::Integer(0)
            ]))
        );
    }

    #[test]
    fn info_fields_are_found() {
        let info = "# Server\r\nredis_version:7.0.15\r\nprocess_id:42\r\n";
        assert_eq!(info_field(info, "process_id"), Some("42"));
        assert_eq!(info_field(info, "process"), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(read_reply(&mut "?\r\n".as_bytes()).is_err());
        assert!(read_reply(&mut "".as_bytes()).is_err());
        assert!(read_reply(&mut "+OK".as_bytes()).is_err());
    }
}
