//! What a failed connect means: a login or server certificate Redis refused becomes a
//! [`Refusal`] naming the server and what to check; anything else stays the client's
//! error.

use fred::types::config::{Server, ServerConfig};

use crate::config::ConnectionConfig;
use crate::error::{Error, Refusal};
use crate::tls::RefusedCertificate;

/// Who a connection logs in as, for errors.
pub(crate) struct Login<'a> {
    /// The ACL user; `None`: the default user.
    pub(crate) user: Option<&'a str>,
    /// Where its password comes from (a setting or variable name).
    pub(crate) password_from: Option<&'a str>,
}

/// What a failed connect to `server` (as [`describe`] names it) means: a refused login
/// or server certificate when it was one, so the error says what to fix; otherwise the
/// client's error as it is.
pub(crate) fn connect_error(
    conn: &ConnectionConfig,
    server: String,
    login: &Login<'_>,
    refused: Option<&RefusedCertificate>,
    error: fred::error::Error,
) -> Error {
    if let (Some(tls), Some(certificate)) = (&conn.tls, refused.and_then(RefusedCertificate::last))
    {
        return crate::tls::refusal(server, tls, certificate).into();
    }
    if conn.tls.is_some() && *error.kind() == fred::error::ErrorKind::Timeout {
        return Refusal::NoTlsAnswer {
            server,
            waited: conn.command_timeout,
        }
        .into();
    }
    if *error.kind() != fred::error::ErrorKind::Auth {
        return Error::Backend(error);
    }
    let user = login.user.unwrap_or("default").to_owned();
    let password_from = login.password_from.map(str::to_owned);
    if error.details().starts_with("NOAUTH") {
        Refusal::NoPassword {
            server,
            user,
            password_from,
        }
        .into()
    } else {
        Refusal::WrongPassword {
            server,
            user,
            password_from,
        }
        .into()
    }
}

/// The deployment `server` points at, for errors: `Redis at host:port`, the Sentinels
/// and service of a master, or the Cluster's seed nodes.
pub(crate) fn describe(server: &ServerConfig) -> String {
    let list = |hosts: &[Server]| {
        hosts
            .iter()
            .map(|s| address(&s.host, s.port))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match server {
        ServerConfig::Centralized { server } => {
            format!("Redis at {}", address(&server.host, server.port))
        }
        ServerConfig::Sentinel {
            hosts,
            service_name,
            ..
        } => format!(
            "Redis (the master `{service_name}` of the Sentinels at {})",
            list(hosts)
        ),
        ServerConfig::Clustered { hosts, .. } => {
            format!("Redis Cluster (seed nodes {})", list(hosts))
        }
    }
}

/// `host:port`, IPv6 addresses in brackets.
pub(crate) fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
