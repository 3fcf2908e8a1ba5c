//! [`SettingsError`] and [`Origin`], the layer a value came from.

use std::fmt;
use std::path::PathBuf;

/// The layer that supplied a value; named in error messages so an operator knows what
/// to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default (or a value derived from other settings).
    Default,
    /// The TOML config file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// A command-line `section.key=value` override.
    Override,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::File(path) => write!(f, "set in config file {}", path.display()),
            Origin::Env(name) => write!(f, "set by environment variable {name}"),
            Origin::Override => f.write_str("set by command-line override"),
        }
    }
}

/// Why settings could not be loaded.
///
/// Messages name the key as a dotted path, the offending value (secrets are printed as
/// `<redacted>`), what is allowed, and the layer the value came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The config file is not valid TOML.
    ///
    /// Only the parser's message and position are kept: the parser's own error quotes
    /// the offending line, which may hold a secret.
    #[error("config file {}:{line}:{column}: invalid TOML: {message}", path.display())]
    FileSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },

    /// A key that is not a setting, in the config file or in an override.
    #[error("unknown setting `{key}` ({origin}){}", hint(suggestion.as_deref()))]
    UnknownKey {
        /// The dotted key as given.
        key: String,
        /// Where it was given.
        origin: Origin,
        /// A known key with a similar name.
        suggestion: Option<String>,
    },

    /// A `SESSIONDB_*` environment variable that names no setting.
    #[error("unknown environment variable {name}: it names no setting{}", hint(suggestion.as_deref()))]
    UnknownEnvVar {
        /// The variable.
        name: String,
        /// A known variable with a similar name.
        suggestion: Option<String>,
    },

    /// A command-line override that is not of the form `section.key=value`.
    #[error("command-line override #{position} is not of the form section.key=value")]
    InvalidOverride {
        /// 1-based position among the overrides (the text is not repeated: it may be a
        /// secret).
        position: usize,
    },

    /// A value of the wrong type or format, or one that contradicts another setting.
    #[error("{key} = {value} is invalid: {reason} ({origin})")]
    InvalidValue {
        /// The dotted key.
        key: String,
        /// The value as given, or `<redacted>` for secrets.
        value: String,
        /// What is wrong and what is expected.
        reason: String,
        /// Where the value came from.
        origin: Origin,
    },

    /// A number outside its allowed range.
    #[error("{key} = {value} is out of range: allowed {allowed} ({origin})")]
    OutOfRange {
        /// The dotted key.
        key: String,
        /// The value.
        value: String,
        /// The allowed range, e.g. `60..=86400`, with the settings it depends on.
        allowed: String,
        /// Where the value came from.
        origin: Origin,
    },

    /// A `redis.url` that cannot be used (the URL itself is never printed).
    #[error("{key} = <redacted> is not a usable Redis URL: {reason} ({origin})")]
    InvalidUrl {
        /// The dotted key (`redis.url`).
        key: String,
        /// What is wrong.
        reason: String,
        /// Where the value came from.
        origin: Origin,
        /// The URL parser's error, when it rejected the syntax.
        source: Option<url::ParseError>,
    },

    /// A file named by a setting (e.g. a TLS certificate) cannot be used.
    #[error("{key} = {} cannot be used: {source} ({origin})", path.display())]
    File {
        /// The dotted key.
        key: String,
        /// The file.
        path: PathBuf,
        /// Where the value came from.
        origin: Origin,
        /// Why the file cannot be used.
        source: std::io::Error,
    },

    /// `redis.mode` is not set and the Redis location keys point at more than one mode.
    #[error(
        "cannot infer redis.mode: {keys} are set at the same time; set redis.mode \
         (SESSIONDB_REDIS__MODE) to embedded, standalone, sentinel or cluster"
    )]
    AmbiguousMode {
        /// The conflicting keys, e.g. `redis.host and redis.sentinels`.
        keys: String,
    },

    /// The checked values could not be assembled into [`crate::Settings`]; a bug in
    /// this crate's key table rather than in the input.
    #[error("settings could not be assembled: {source}")]
    Assemble {
        /// The deserializer's error.
        source: toml::de::Error,
    },
}

fn hint(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean {s}?"))
}
