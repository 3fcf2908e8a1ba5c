//! `redis.url`: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS.
//!
//! A URL is expanded, at the layer that sets it, into the keys it stands for: `host`,
//! `port` (6379 when absent), `db` (0 when absent), `tls.enabled` (from the scheme),
//! and `username`/`password` only when the URL has them, so a password may come from a
//! separate variable. The URL is never printed: it may hold a password.

use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

use crate::error::{Origin, SettingsError};
use crate::schema;
use crate::value::{self, Assignment};

/// The assignments a `redis.url` assignment stands for, the URL itself included.
pub(crate) fn expand(url: Assignment) -> Result<Vec<Assignment>, SettingsError> {
    let raw = match &url.value {
        toml::Value::String(s) => SecretString::from(s.as_str()),
        _ => return Err(error(&url.origin, "expected a string", None)),
    };
    let parts = parse(raw.expose_secret(), &url.origin)?;
    let mut out = Vec::with_capacity(7);
    let mut set = |path: &str, raw: &str| -> Result<(), SettingsError> {
        let spec = schema::spec(path).ok_or_else(|| SettingsError::UnknownKey {
            key: path.to_owned(),
            origin: url.origin.clone(),
            suggestion: None,
        })?;
        out.push(value::from_str(spec, raw, &url.origin)?);
        Ok(())
    };
    set("redis.host", &parts.host)?;
    set("redis.port", &parts.port.to_string())?;
    set("redis.db", &parts.db)?;
    set(
        "redis.tls.enabled",
        if parts.tls { "true" } else { "false" },
    )?;
    if let Some(user) = &parts.username {
        set("redis.username", user)?;
    }
    if let Some(password) = &parts.password {
        set("redis.password", password.expose_secret())?;
    }
    out.push(url);
    Ok(out)
}

/// The parts of a Redis URL.
struct Parts {
    tls: bool,
    host: String,
    port: u16,
    db: String,
    username: Option<String>,
    password: Option<SecretString>,
}

fn parse(raw: &str, origin: &Origin) -> Result<Parts, SettingsError> {
    let url = Url::parse(raw).map_err(|e| error(origin, "malformed URL", Some(e)))?;
    let tls = match url.scheme() {
        "redis" => false,
        "rediss" => true,
        _ => {
            return Err(error(
                origin,
                "the scheme must be redis:// or rediss://",
                None,
            ))
        }
    };
    let host = match url.host() {
        Some(Host::Domain(d)) if !d.is_empty() => decode(d, origin, "host")?,
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(error(origin, "the host is missing", None)),
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(error(
            origin,
            "query parameters and fragments are not supported",
            None,
        ));
    }
    let username = Some(url.username())
        .filter(|u| !u.is_empty())
        .map(|u| decode(u, origin, "user name"))
        .transpose()?;
    let password = url
        .password()
        .filter(|p| !p.is_empty())
        .map(|p| decode(p, origin, "password").map(SecretString::from))
        .transpose()?;
    let path = url.path();
    let db = match path.strip_prefix('/').unwrap_or(path) {
        "" => "0".to_owned(),
        db if db.bytes().all(|b| b.is_ascii_digit()) => db.to_owned(),
        _ => {
            return Err(error(
                origin,
                "the path must be a database number, e.g. /2",
                None,
            ))
        }
    };
    Ok(Parts {
        tls,
        host,
        port: url.port().unwrap_or(6379),
        db,
        username,
        password,
    })
}

fn decode(s: &str, origin: &Origin, what: &str) -> Result<String, SettingsError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            error(
                origin,
                &format!("the {what} is not valid UTF-8 once decoded"),
                None,
            )
        })
}

fn error(origin: &Origin, reason: &str, source: Option<url::ParseError>) -> SettingsError {
    SettingsError::InvalidUrl {
        key: "redis.url".to_owned(),
        reason: reason.to_owned(),
        origin: origin.clone(),
        source,
    }
}
