//! `server.api_keys`: the API keys the HTTP layer accepts.
//!
//! In TOML an array of tables (`[[server.api_keys]]` with `name`, `sha256`, `scopes`);
//! in the environment and in overrides one string, `name:sha256:scope,scope;name2:...`.
//! Both forms are parsed into [`ApiKeySettings`], checked with [`check`] and turned into
//! the canonical TOML value the settings deserialize from.
//!
//! The hashes are treated as secret-ish: no message repeats one (an operator may have
//! pasted the key itself by mistake), and malformed entries are not quoted either.

use std::collections::BTreeSet;

use toml::{Table, Value};

use crate::error::{Origin, SettingsError};
use crate::model::{ApiKeySettings, Scope};
use crate::schema::{self, KeySpec, NOT_SET, REDACTED};

/// The fields of one API key table.
const FIELDS: [&str; 3] = ["name", "sha256", "scopes"];

/// Longest API key name.
const MAX_NAME_LEN: usize = 64;

/// A problem with one API key: the offending key path (e.g.
/// `server.api_keys[1].sha256`), the value as it may be printed, and the reason.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) reason: String,
}

impl Problem {
    /// The error for this problem, with the layer that set the list.
    pub(crate) fn into_error(self, origin: Origin) -> SettingsError {
        SettingsError::InvalidValue {
            key: self.key,
            value: self.value,
            reason: self.reason,
            origin,
        }
    }
}

/// Parses the string form, `name:sha256:scope,scope;name2:sha256:scope`. Empty
/// entries (e.g. after a trailing `;`) are skipped; an empty string is an empty list.
pub(crate) fn from_str(spec: &KeySpec, raw: &str, origin: &Origin) -> Result<Value, SettingsError> {
    let mut keys = Vec::new();
    for (i, entry) in raw
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let at = entry_path(spec, i);
        // Names and hashes hold no `:`, so everything after the second one is scopes.
        let mut parts = entry.splitn(3, ':').map(str::trim);
        let (Some(name), Some(sha256), Some(scopes)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Problem {
                key: at,
                value: REDACTED.to_owned(),
                reason: "expected name:sha256:scope[,scope...] (entries separated by ;)".to_owned(),
            }
            .into_error(origin.clone()));
        };
        let scopes = scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse_scope(&at, s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|p| p.into_error(origin.clone()))?;
        keys.push(ApiKeySettings {
            name: name.to_owned(),
            sha256: sha256.to_owned(),
            scopes,
        });
    }
    checked(keys, origin)
}

/// Checks the TOML form: an array of tables with `name`, `sha256` and `scopes`.
pub(crate) fn from_toml(
    spec: &KeySpec,
    items: Vec<Value>,
    origin: &Origin,
) -> Result<Value, SettingsError> {
    let mut keys = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = entry_path(spec, i);
        let fail = |p: Problem| p.into_error(origin.clone());
        let Value::Table(mut table) = item else {
            return Err(fail(Problem {
                key: at,
                value: REDACTED.to_owned(),
                reason: "expected a table with name, sha256 and scopes \
                         (write each key as a [[server.api_keys]] table)"
                    .to_owned(),
            }));
        };
        if let Some(unknown) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            let key = format!("{at}.{unknown}");
            return Err(SettingsError::UnknownKey {
                suggestion: schema::suggest(unknown, FIELDS).map(|f| format!("{at}.{f}")),
                key,
                origin: origin.clone(),
            });
        }
        let mut string = |field: &str| match table.remove(field) {
            Some(Value::String(s)) => Ok(s),
            other => Err(fail(Problem {
                key: format!("{at}.{field}"),
                value: match other {
                    None => NOT_SET.to_owned(),
                    Some(v) if field == "name" => v.to_string(),
                    Some(_) => REDACTED.to_owned(),
                },
                reason: "expected a string; every API key needs name, sha256 and scopes".to_owned(),
            })),
        };
        let name = string("name")?;
        let sha256 = string("sha256")?;
        let scopes = match table.remove("scopes") {
            Some(Value::Array(scopes)) => scopes
                .iter()
                .map(|s| match s {
                    Value::String(s) => parse_scope(&at, s),
                    other => Err(Problem {
                        key: format!("{at}.scopes"),
                        value: other.to_string(),
                        reason: format!("expected a list of {}", scope_names()),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(fail)?,
            other => {
                return Err(fail(Problem {
                    key: format!("{at}.scopes"),
                    value: other.map_or_else(|| NOT_SET.to_owned(), |v| v.to_string()),
                    reason: format!("expected a list of {}", scope_names()),
                }))
            }
        };
        keys.push(ApiKeySettings {
            name,
            sha256,
            scopes,
        });
    }
    checked(keys, origin)
}

/// Checks names, hashes and scopes of a whole list: names are 1-64 characters of
/// `A-Z a-z 0-9 _ . -` and unique, hashes 64 lowercase hex characters, every key has
/// at least one scope.
pub(crate) fn check(keys: &[ApiKeySettings]) -> Result<(), Problem> {
    let mut names = BTreeSet::new();
    for (i, key) in keys.iter().enumerate() {
        let at = format!("server.api_keys[{i}]");
        let name = &key.name;
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !name_ok {
            return Err(Problem {
                key: format!("{at}.name"),
                value: format!("{name:?}"),
                reason: format!("expected 1-{MAX_NAME_LEN} characters of A-Z a-z 0-9 _ . -"),
            });
        }
        if !names.insert(name.as_str()) {
            return Err(Problem {
                key: format!("{at}.name"),
                value: format!("{name:?}"),
                reason: "another API key has the same name; names must be unique".to_owned(),
            });
        }
        let hash_ok = key.sha256.len() == 64
            && key
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hash_ok {
            return Err(Problem {
                key: format!("{at}.sha256"),
                value: REDACTED.to_owned(),
                reason: format!(
                    "is not 64 lowercase hex characters (the SHA-256 of API key {name:?}, \
                     as printed by `sessiondb apikey new`; never the key itself)"
                ),
            });
        }
        if key.scopes.is_empty() {
            return Err(Problem {
                key: format!("{at}.scopes"),
                value: "[]".to_owned(),
                reason: format!("API key {name:?} needs at least one of {}", scope_names()),
            });
        }
    }
    Ok(())
}

/// The list as printed by [`crate::Settings::redacted_values`]: names and scopes, never
/// the hashes, e.g. `checkout (sessions:read sessions:write); ops (sessions:admin)`.
pub(crate) fn describe(keys: &[ApiKeySettings]) -> String {
    if keys.is_empty() {
        return schema::EMPTY.to_owned();
    }
    keys.iter()
        .map(|k| {
            let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
            format!("{} ({})", k.name, scopes.join(" "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks the list and turns it into the canonical TOML value.
fn checked(mut keys: Vec<ApiKeySettings>, origin: &Origin) -> Result<Value, SettingsError> {
    // A scope listed twice is kept once.
    for key in &mut keys {
        let mut seen = Vec::with_capacity(key.scopes.len());
        key.scopes.retain(|s| {
            let new = !seen.contains(s);
            seen.push(*s);
            new
        });
    }
    check(&keys).map_err(|p| p.into_error(origin.clone()))?;
    let tables = keys
        .into_iter()
        .map(|k| {
            let mut table = Table::new();
            table.insert("name".to_owned(), Value::String(k.name));
            table.insert("sha256".to_owned(), Value::String(k.sha256));
            let scopes = k
                .scopes
                .iter()
                .map(|s| Value::String(s.as_str().to_owned()))
                .collect();
            table.insert("scopes".to_owned(), Value::Array(scopes));
            Value::Table(table)
        })
        .collect();
    Ok(Value::Array(tables))
}

/// A scope name, case-insensitive.
fn parse_scope(at: &str, raw: &str) -> Result<Scope, Problem> {
    raw.parse::<Scope>().map_err(|_| Problem {
        key: format!("{at}.scopes"),
        value: format!("{raw:?}"),
        reason: format!("expected one of {}", scope_names()),
    })
}

fn scope_names() -> String {
    Scope::NAMES.join(", ")
}

fn entry_path(spec: &KeySpec, i: usize) -> String {
    format!("{}[{i}]", spec.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn spec() -> &'static KeySpec {
        schema::spec("server.api_keys").unwrap()
    }

    #[test]
    fn string_form_is_parsed_into_tables() {
        let raw =
            format!(" a:{HASH}:sessions:read, SESSIONS:WRITE ; b.c-d_e:{HASH}:sessions:admin;");
        let value = from_str(spec(), &raw, &Origin::Override).unwrap();
        let Value::Array(items) = value else {
            panic!("{value:?}")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["name"].as_str(), Some("a"));
        assert_eq!(
            items[0]["scopes"],
            Value::Array(vec![
                Value::String("sessions:read".into()),
                Value::String("sessions:write".into())
            ])
        );
        assert_eq!(items[1]["name"].as_str(), Some("b.c-d_e"));
        assert_eq!(
            from_str(spec(), "", &Origin::Override).unwrap(),
            Value::Array(Vec::new())
        );
    }

    #[test]
    fn malformed_entries_are_not_quoted() {
        let err = from_str(
            spec(),
            &format!("ok:{HASH}:sessions:read;{HASH}"),
            &Origin::Override,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("server.api_keys[1] = <redacted> is invalid"),
            "{err}"
        );
        assert!(!err.contains(HASH), "{err}");
    }

    #[test]
    fn describe_omits_hashes() {
        let keys = vec![ApiKeySettings {
            name: "a".into(),
            sha256: HASH.into(),
            scopes: vec![Scope::SessionsRead, Scope::SessionsAdmin],
        }];
        assert_eq!(describe(&keys), "a (sessions:read sessions:admin)");
        assert_eq!(describe(&[]), "(empty)");
    }
}
