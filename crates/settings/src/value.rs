//! Checking one value against its key's kind and static range, and turning it into the
//! canonical TOML value the settings structs deserialize from.
//!
//! Strings come from the environment and from overrides; TOML values from the config
//! file. Both end in the same checks, so a value is accepted or rejected the same way
//! whichever layer supplies it.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use toml::Value;

use crate::api_keys;
use crate::error::{Origin, SettingsError};
use crate::model::NodeAddr;
use crate::schema::{KeySpec, Kind, Range, REDACTED};

/// A checked value for one key, and the layer it came from.
#[derive(Debug, Clone)]
pub(crate) struct Assignment {
    pub(crate) spec: &'static KeySpec,
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

/// Parses a string (from the environment or an override) for `spec`.
pub(crate) fn from_str(
    spec: &'static KeySpec,
    raw: &str,
    origin: &Origin,
) -> Result<Assignment, SettingsError> {
    let shown = || show_str(spec, raw);
    let invalid = |reason: String| invalid(spec, shown(), reason, origin);
    let value = match spec.kind {
        Kind::Str | Kind::Path | Kind::Secret | Kind::Url => {
            if raw.is_empty() {
                return Err(invalid("must not be empty".to_owned()));
            }
            Value::String(raw.to_owned())
        }
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Boolean(true),
            "false" | "0" | "no" | "off" => Value::Boolean(false),
            _ => return Err(invalid(format!("expected {}", spec.kind.expected()))),
        },
        Kind::UInt(range) => match raw.trim().parse::<u64>() {
            Ok(n) => return in_range(spec, n, range, origin),
            Err(_) => return Err(invalid(format!("expected {}", spec.kind.expected()))),
        },
        Kind::Enum(names) => {
            let lower = raw.trim().to_ascii_lowercase();
            match names.iter().find(|n| **n == lower) {
                Some(name) => Value::String((*name).to_owned()),
                None => return Err(invalid(format!("expected {}", spec.kind.expected()))),
            }
        }
        Kind::NodeList => {
            let entries = raw.split(',').map(str::trim).filter(|e| !e.is_empty());
            node_list(spec, entries, origin)?
        }
        Kind::SocketAddr => match raw.trim().parse::<SocketAddr>() {
            Ok(addr) => Value::String(addr.to_string()),
            Err(_) => return Err(invalid(format!("expected {}", spec.kind.expected()))),
        },
        Kind::OriginList => {
            let entries = raw.split(',').map(str::trim).filter(|e| !e.is_empty());
            origin_list(spec, entries, origin)?
        }
        Kind::NetworkList => {
            let entries = raw.split(',').map(str::trim).filter(|e| !e.is_empty());
            network_list(spec, entries, origin)?
        }
        Kind::ApiKeys => api_keys::from_str(spec, raw, origin)?,
    };
    Ok(Assignment {
        spec,
        value,
        origin: origin.clone(),
    })
}

/// Checks a value from the config file for `spec`.
pub(crate) fn from_toml(
    spec: &'static KeySpec,
    value: Value,
    origin: &Origin,
) -> Result<Assignment, SettingsError> {
    let wrong_type = |value: &Value| {
        Err(invalid(
            spec,
            show_toml(spec, value),
            format!("expected {}", spec.kind.expected()),
            origin,
        ))
    };
    match (spec.kind, value) {
        (Kind::Bool, value @ Value::Boolean(_)) => Ok(Assignment {
            spec,
            value,
            origin: origin.clone(),
        }),
        (Kind::UInt(range), Value::Integer(n)) => match u64::try_from(n) {
            Ok(n) => in_range(spec, n, range, origin),
            Err(_) => Err(out_of_range(spec, n.to_string(), range, origin)),
        },
        (kind @ (Kind::NodeList | Kind::OriginList | Kind::NetworkList), Value::Array(items)) => {
            let mut entries = Vec::with_capacity(items.len());
            for item in &items {
                match item {
                    Value::String(s) => entries.push(s.as_str()),
                    _ => return wrong_type(&Value::Array(items.clone())),
                }
            }
            let entries = entries.into_iter();
            let value = match kind {
                Kind::NodeList => node_list(spec, entries, origin)?,
                Kind::OriginList => origin_list(spec, entries, origin)?,
                _ => network_list(spec, entries, origin)?,
            };
            Ok(Assignment {
                spec,
                value,
                origin: origin.clone(),
            })
        }
        (Kind::ApiKeys, Value::Array(items)) => Ok(Assignment {
            spec,
            value: api_keys::from_toml(spec, items, origin)?,
            origin: origin.clone(),
        }),
        (
            Kind::Str | Kind::Secret | Kind::Url | Kind::Path | Kind::Enum(_) | Kind::SocketAddr,
            Value::String(s),
        ) => from_str(spec, &s, origin),
        (_, value) => wrong_type(&value),
    }
}

fn in_range(
    spec: &'static KeySpec,
    n: u64,
    range: Range,
    origin: &Origin,
) -> Result<Assignment, SettingsError> {
    if !range.contains(n) {
        return Err(out_of_range(spec, n.to_string(), range, origin));
    }
    let value = i64::try_from(n).map_err(|_| out_of_range(spec, n.to_string(), range, origin))?;
    Ok(Assignment {
        spec,
        value: Value::Integer(value),
        origin: origin.clone(),
    })
}

fn node_list<'a>(
    spec: &'static KeySpec,
    entries: impl Iterator<Item = &'a str>,
    origin: &Origin,
) -> Result<Value, SettingsError> {
    let mut nodes = Vec::new();
    for entry in entries {
        let node: NodeAddr = entry
            .parse()
            .map_err(|reason: String| invalid(spec, format!("{entry:?}"), reason, origin))?;
        nodes.push(Value::String(node.to_string()));
    }
    Ok(Value::Array(nodes))
}

fn origin_list<'a>(
    spec: &'static KeySpec,
    entries: impl Iterator<Item = &'a str>,
    origin: &Origin,
) -> Result<Value, SettingsError> {
    let mut origins = Vec::new();
    for entry in entries {
        check_cors_origin(entry)
            .map_err(|reason| invalid(spec, format!("{entry:?}"), reason, origin))?;
        origins.push(Value::String(entry.to_owned()));
    }
    Ok(Value::Array(origins))
}

fn network_list<'a>(
    spec: &'static KeySpec,
    entries: impl Iterator<Item = &'a str>,
    origin: &Origin,
) -> Result<Value, SettingsError> {
    let mut networks = Vec::new();
    for entry in entries {
        let network = parse_network(entry)
            .map_err(|reason| invalid(spec, format!("{entry:?}"), reason, origin))?;
        networks.push(Value::String(network.to_string()));
    }
    Ok(Value::Array(networks))
}

/// Parses one network: an IP address (a network of one address) or a CIDR network,
/// checked by [`check_network`].
pub(crate) fn parse_network(entry: &str) -> Result<IpNet, String> {
    let network = match entry.parse::<IpAddr>() {
        Ok(addr) => IpNet::from(addr),
        Err(_) => entry.parse::<IpNet>().map_err(|_| {
            "expected an IP address or a CIDR network, e.g. 192.168.1.7 or 10.0.0.0/8".to_owned()
        })?,
    };
    check_network(network)?;
    Ok(network)
}

/// A network must have no host bits set (`10.0.0.1/8` is most likely a typo), and IPv4
/// must be written as IPv4: client addresses are compared in that form, so an
/// IPv4-mapped IPv6 network would never match.
pub(crate) fn check_network(network: IpNet) -> Result<(), String> {
    if network.trunc() != network {
        return Err(format!(
            "host bits are set; the network is {}",
            network.trunc()
        ));
    }
    if let IpNet::V6(v6) = network {
        if let Some(v4) = v6.network().to_ipv4_mapped() {
            return Err(format!(
                "an IPv4-mapped IPv6 address; write it as IPv4 ({v4}{})",
                match v6.prefix_len().checked_sub(96) {
                    Some(len) if len < 32 => format!("/{len}"),
                    _ => String::new(),
                }
            ));
        }
    }
    Ok(())
}

/// Checks one CORS origin: `http://` or `https://`, a host, an optional port, and
/// nothing else (no path, not even a trailing `/`, which browsers never send).
pub(crate) fn check_cors_origin(entry: &str) -> Result<(), String> {
    let rest = entry
        .strip_prefix("https://")
        .or_else(|| entry.strip_prefix("http://"))
        .ok_or_else(|| "an origin must start with http:// or https://".to_owned())?;
    let shape = "expected scheme://host[:port] with no path, e.g. https://app.example.com";
    if rest.is_empty()
        || rest
            .chars()
            .any(|c| c.is_whitespace() || "/?#@*".contains(c))
    {
        return Err(shape.to_owned());
    }
    match url::Url::parse(entry) {
        Ok(url) if url.host().is_some() => Ok(()),
        _ => Err(shape.to_owned()),
    }
}

fn out_of_range(spec: &KeySpec, value: String, range: Range, origin: &Origin) -> SettingsError {
    SettingsError::OutOfRange {
        key: spec.path.to_owned(),
        value,
        allowed: range.to_string(),
        origin: origin.clone(),
    }
}

fn invalid(spec: &KeySpec, value: String, reason: String, origin: &Origin) -> SettingsError {
    SettingsError::InvalidValue {
        key: spec.path.to_owned(),
        value,
        reason,
        origin: origin.clone(),
    }
}

/// A string value as printed in errors: quoted, or `<redacted>` for secrets (and API
/// key lists).
fn show_str(spec: &KeySpec, raw: &str) -> String {
    if spec.kind.hides_value() {
        REDACTED.to_owned()
    } else {
        format!("{raw:?}")
    }
}

/// A TOML value as printed in errors: TOML syntax, or `<redacted>` for secrets (and
/// API key lists).
fn show_toml(spec: &KeySpec, value: &Value) -> String {
    if spec.kind.hides_value() {
        REDACTED.to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::spec;

    fn key(path: &str) -> &'static KeySpec {
        spec(path).unwrap()
    }

    #[test]
    fn strings_are_parsed_by_kind() {
        let o = Origin::Override;
        let v = |p: &str, raw: &str| from_str(key(p), raw, &o).map(|a| a.value);
        assert_eq!(
            v("session.idle_ttl_seconds", " 120 ").unwrap(),
            Value::Integer(120)
        );
        assert_eq!(v("cleanup.enabled", "Off").unwrap(), Value::Boolean(false));
        assert_eq!(
            v("log.level", "WARN").unwrap(),
            Value::String("warn".into())
        );
        assert_eq!(
            v("redis.sentinels", "a:1, [::1]:2,").unwrap(),
            Value::Array(vec![
                Value::String("a:1".into()),
                Value::String("[::1]:2".into())
            ])
        );
        assert!(v("server.listen", "localhost:80").is_err());
        assert!(v("redis.host", "").is_err());
    }

    #[test]
    fn toml_values_must_have_the_right_type() {
        let o = Origin::Override;
        let err = from_toml(key("redis.port"), Value::String("x".into()), &o).unwrap_err();
        assert!(
            err.to_string().contains("expected an integer in 1..=65535"),
            "{err}"
        );
        let err = from_toml(key("redis.db"), Value::Integer(-1), &o).unwrap_err();
        assert!(
            err.to_string().contains("redis.db = -1 is out of range"),
            "{err}"
        );
        let err = from_toml(key("redis.password"), Value::Integer(4242), &o).unwrap_err();
        assert!(!err.to_string().contains("4242"), "{err}");
    }
}
