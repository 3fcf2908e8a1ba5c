//! The six role passwords and the `local.env` file that carries them, plus
//! the settings `sessiondb serve` needs to reach the stack.
//!
//! The file is a shell-compatible env file (`NAME=value`, values with
//! unusual characters in single quotes), so `set -a; . local.env; set +a`
//! loads it. It is written with mode 0600 and is the only place the
//! passwords are kept: the supervisor and the CLI read them from it.

use std::fmt::Write as _;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use sessiondb_acl::Role;

use super::state::write_atomically;
use super::topology::Topology;
use super::StackError;
use crate::TlsFiles;

/// The environment variables of the six roles, as named by the original
/// shell deployment, in the order they are written (the role table's order).
pub use sessiondb_acl::PASSWORD_VARIABLES;

/// Random bytes per generated password (256 bits, 64 hex characters).
const PASSWORD_BYTES: usize = 32;

/// Passwords of the six Redis ACL roles (see `sessiondb_acl::ROLES` for each
/// role's variable and purpose). `Debug` shows no secrets.
#[derive(Debug, Clone)]
pub struct StackPasswords {
    /// `admin`; the data nodes' `requirepass` for now.
    pub admin: SecretString,
    /// `sentinel`.
    pub sentinel: SecretString,
    /// `app`.
    pub app: SecretString,
    /// `monitor`.
    pub monitor: SecretString,
    /// `cleanup`.
    pub cleanup: SecretString,
    /// `backup`.
    pub backup: SecretString,
}

impl StackPasswords {
    /// Takes each password from `lookup(variable)` when that returns a
    /// non-empty value and generates a strong random one otherwise.
    /// Returns the passwords and the variables that came from `lookup`.
    pub fn from_env_or_generate(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, Vec<&'static str>), StackError> {
        let mut from_env = Vec::new();
        let mut values = Vec::with_capacity(PASSWORD_VARIABLES.len());
        for variable in PASSWORD_VARIABLES {
            match lookup(variable).filter(|v| !v.is_empty()) {
                Some(value) => {
                    check_password(variable, &value)?;
                    from_env.push(variable);
                    values.push(SecretString::from(value));
                }
                None => values.push(generate()?),
            }
        }
        Ok((Self::from_values(values)?, from_env))
    }

    /// Reads the passwords from an env file written by [`write_env_file`].
    pub fn load(path: &Path) -> Result<Self, StackError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StackError::io(format!("reading {}", path.display()), e))?;
        let vars = parse_env_file(&text).map_err(|(line, message)| StackError::EnvFile {
            path: path.to_owned(),
            line,
            message,
        })?;
        let values = PASSWORD_VARIABLES
            .iter()
            .map(|variable| {
                vars.iter()
                    .rev()
                    .find(|(name, value)| name == variable && !value.is_empty())
                    .map(|(_, value)| SecretString::from(value.clone()))
                    .ok_or_else(|| StackError::EnvFile {
                        path: path.to_owned(),
                        line: 0,
                        message: format!("{variable} is missing"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_values(values)
    }

    /// `(variable, password)` for the six roles.
    pub fn entries(&self) -> [(&'static str, &SecretString); 6] {
        Role::ALL.map(|role| (role.env_var(), self.get(role)))
    }

    /// The password of `role`.
    pub fn get(&self, role: Role) -> &SecretString {
        match role {
            Role::Admin => &self.admin,
            Role::Sentinel => &self.sentinel,
            Role::App => &self.app,
            Role::Monitor => &self.monitor,
            Role::Cleanup => &self.cleanup,
            Role::Backup => &self.backup,
        }
    }

    /// The six passwords as `users.acl` takes them.
    pub fn acl_passwords(&self) -> sessiondb_acl::Passwords {
        sessiondb_acl::Passwords::from_fn(|role| Some(self.get(role).clone()))
    }

    fn from_values(values: Vec<SecretString>) -> Result<Self, StackError> {
        let Ok([admin, sentinel, app, monitor, cleanup, backup]) =
            <[SecretString; 6]>::try_from(values)
        else {
            return Err(StackError::Invalid("expected six passwords".to_owned()));
        };
        Ok(Self {
            admin,
            sentinel,
            app,
            monitor,
            cleanup,
            backup,
        })
    }
}

/// A random password: 32 bytes from the operating system, hex-encoded.
fn generate() -> Result<SecretString, StackError> {
    let mut bytes = [0_u8; PASSWORD_BYTES];
    getrandom::fill(&mut bytes)?;
    let mut hex = String::with_capacity(PASSWORD_BYTES * 2);
    for byte in bytes {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(SecretString::from(hex))
}

fn check_password(variable: &'static str, value: &str) -> Result<(), StackError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(StackError::BadPassword {
            variable,
            reason: "it contains a line break or NUL character",
        });
    }
    Ok(())
}

/// Writes `local.env` (mode 0600, atomically): the six passwords and the
/// `sessiondb serve` settings for `topology`.
pub fn write_env_file(
    path: &Path,
    topology: &Topology,
    passwords: &StackPasswords,
    tls: Option<&TlsFiles>,
) -> Result<(), StackError> {
    let mut text = String::new();
    let dir = path.display();
    let _ = writeln!(
        text,
        "# sessiondb local stack ({} mode): the Redis role passwords and the settings\n\
         # `sessiondb serve` needs to use this stack. SECRET: keep this file private.\n\
         # Written by `sessiondb local up`/`start`. Load it into a shell with:\n\
         #   set -a; . {dir}; set +a\n",
        topology.mode
    );
    text.push_str(
        "# Passwords of the six ACL roles (variable names of the original deployment).\n",
    );
    for (variable, password) in passwords.entries() {
        push_assignment(&mut text, variable, password.expose_secret());
    }
    text.push_str(
        "\n# Where `sessiondb serve` finds Redis, and how it logs in: as the `app` role\n\
         # (the Sentinels with SENTINEL_PASSWORD).\n",
    );
    for (variable, value) in topology.connection_env() {
        push_assignment(&mut text, variable, &value);
    }
    push_assignment(&mut text, "SESSIONDB_REDIS__USERNAME", Role::App.user());
    push_assignment(
        &mut text,
        "SESSIONDB_REDIS__PASSWORD",
        passwords.app.expose_secret(),
    );
    if topology.mode == super::StackMode::Ha {
        push_assignment(
            &mut text,
            "SESSIONDB_REDIS__SENTINEL_PASSWORD",
            passwords.sentinel.expose_secret(),
        );
    }
    if let Some(tls) = tls {
        text.push_str(
            "\n# TLS only (`--tls`): verify the servers with the stack's CA and present the\n\
             # client certificate (the servers require one).\n",
        );
        push_assignment(&mut text, "SESSIONDB_REDIS__TLS__ENABLED", "true");
        for (variable, file) in [
            ("SESSIONDB_REDIS__TLS__CA_FILE", &tls.ca_cert),
            ("SESSIONDB_REDIS__TLS__CLIENT_CERT_FILE", &tls.client_cert),
            ("SESSIONDB_REDIS__TLS__CLIENT_KEY_FILE", &tls.client_key),
        ] {
            push_assignment(&mut text, variable, &file.display().to_string());
        }
    }
    write_atomically(path, text.as_bytes(), 0o600)
}

/// The key prefix the stack's `users.acl` grants the roles (sessiondb's default).
pub const STACK_KEY_PREFIX: &str = "sdb";

/// Writes `users.acl` (mode 0600, atomically): the six roles for keys under
/// [`STACK_KEY_PREFIX`], passwords as SHA-256 hashes, and the `default` user kept as a
/// second admin with `REDIS_PASSWORD` (the stack's own probes log in with a password
/// only; without it, the default user can do nothing).
pub fn write_acl_file(path: &Path, passwords: &StackPasswords) -> Result<(), StackError> {
    let text = sessiondb_acl::render_with(
        &passwords.acl_passwords(),
        STACK_KEY_PREFIX,
        sessiondb_acl::DefaultUser::Admin,
    )
    .map_err(|e| StackError::Invalid(e.to_string()))?;
    write_atomically(path, text.as_bytes(), 0o600)
}

fn push_assignment(text: &mut String, name: &str, value: &str) {
    text.push_str(name);
    text.push('=');
    text.push_str(&shell_quote(value));
    text.push('\n');
}

/// `value` as a POSIX shell word: bare when it only has safe characters,
/// otherwise in single quotes (a `'` becomes `'\''`).
fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_.,:/@%+=-".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Parses an env file: `NAME=value` lines (optionally prefixed with
/// `export `), `#` comments and blank lines. Values may be bare words,
/// single-quoted, or backslash-escaped, concatenated as in the shell; double
/// quotes are not supported. Errors are `(line number, message)` and never
/// contain a value.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (name, raw) = line
            .split_once('=')
            .ok_or_else(|| (number, "expected NAME=value".to_owned()))?;
        let name_ok = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err((number, "invalid variable name".to_owned()));
        }
        let value = unquote(raw).map_err(|message| (number, format!("{name}: {message}")))?;
        vars.push((name.to_owned(), value));
    }
    Ok(vars)
}

fn unquote(raw: &str) -> Result<String, String> {
    let mut value = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err("unterminated single quote".to_owned()),
                }
            },
            '\\' => match chars.next() {
                Some(c) => value.push(c),
                None => return Err("trailing backslash".to_owned()),
            },
            '"' => return Err("double quotes are not supported; use single quotes".to_owned()),
            c if c.is_whitespace() => {
                return Err("unquoted whitespace in value; use single quotes".to_owned())
            }
            c => value.push(c),
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{StackMode, TopologyOptions};

    #[test]
    fn generated_passwords_are_distinct_and_long() {
        let (passwords, from_env) = StackPasswords::from_env_or_generate(|_| None).unwrap();
        assert!(from_env.is_empty());
        let values: Vec<&str> = passwords
            .entries()
            .iter()
            .map(|(_, p)| p.expose_secret())
            .collect();
        assert!(values.iter().all(|v| v.len() == 64));
        let mut unique = values.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 6);
        assert!(!format!("{passwords:?}").contains(values[0]));
    }

    #[test]
    fn env_file_round_trips_awkward_passwords_from_the_environment() {
        let awkward = "it's a \"pass\" $HOME `x` \\ ok";
        let lookup = |name: &str| match name {
            "APP_PASSWORD" => Some(awkward.to_owned()),
            "BACKUP_PASSWORD" => Some(String::new()),
            _ => None,
        };
        let (passwords, from_env) = StackPasswords::from_env_or_generate(lookup).unwrap();
        assert_eq!(from_env, ["APP_PASSWORD"]);
        let topology = Topology::plan(&TopologyOptions {
            mode: StackMode::Ha,
            ..TopologyOptions::default()
        })
        .unwrap();
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("local.env");
        write_env_file(&path, &topology, &passwords, None).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        let loaded = StackPasswords::load(&path).unwrap();
        assert_eq!(loaded.app.expose_secret(), awkward);
        assert_eq!(
            loaded.admin.expose_secret(),
            passwords.admin.expose_secret()
        );
        let vars = parse_env_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let get = |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("SESSIONDB_REDIS__MODE"), Some("sentinel"));
        assert_eq!(get("SESSIONDB_REDIS__SENTINEL_SERVICE"), Some("sessiondb"));
        assert_eq!(get("SESSIONDB_REDIS__USERNAME"), Some("app"));
        assert_eq!(
            get("SESSIONDB_REDIS__PASSWORD"),
            Some(passwords.app.expose_secret())
        );
        assert_eq!(
            get("SESSIONDB_REDIS__SENTINEL_PASSWORD"),
            Some(passwords.sentinel.expose_secret())
        );
    }

    #[test]
    fn the_shell_reads_the_file_the_same_way() {
        let awkward = "a'b c$d\"e";
        let (passwords, _) = StackPasswords::from_env_or_generate(|name| {
            (name == "CLEANUP_PASSWORD").then(|| awkward.to_owned())
        })
        .unwrap();
        let topology = Topology::plan(&TopologyOptions::default()).unwrap();
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("local.env");
        write_env_file(&path, &topology, &passwords, None).unwrap();
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"set -a; . "$1"; set +a; printf %s "$CLEANUP_PASSWORD""#)
            .arg("sh")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), awkward);
    }

    #[test]
    fn parse_errors_name_the_line_but_not_the_value() {
        let err = parse_env_file("# ok\nA=1\nB='secret\n").unwrap_err();
        assert_eq!(err.0, 3);
        assert!(!err.1.contains("secret"), "{}", err.1);
        assert!(parse_env_file("1X=2").is_err());
        assert_eq!(
            parse_env_file("export A=x\\ y'z'").unwrap(),
            [("A".to_owned(), "x yz".to_owned())]
        );
    }

    #[test]
    fn line_breaks_in_passwords_are_refused() {
        let err = StackPasswords::from_env_or_generate(|name| {
            (name == "REDIS_PASSWORD").then(|| "a\nb".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("REDIS_PASSWORD"), "{err}");
    }
}
