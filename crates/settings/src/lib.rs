//! sessiondb settings: one typed [`Settings`] struct, loaded in layers and validated.
//!
//! Layers, each overriding the ones before:
//!
//! 1. built-in defaults ([`Settings::default`]);
//! 2. a TOML config file (`--config`, or `SESSIONDB_CONFIG` via
//!    [`LoadOptions::from_process`]);
//! 3. environment variables: the legacy names of the original shell deployment
//!    ([`LEGACY_ENV_VARS`], e.g. `REDIS_HOST`, `SESSION_TTL_SECONDS`), then
//!    `SESSIONDB_<SECTION>__<KEY>` (e.g. `SESSIONDB_SESSION__IDLE_TTL_SECONDS`), which
//!    wins over a legacy name for the same key;
//! 4. command-line overrides, `section.key=value`.
//!
//! Unknown keys in the file, unknown `SESSIONDB_*` variables and unknown override keys
//! are errors. Every value is checked against its allowed range as it is read, and the
//! merged result against the rules that tie keys together; errors name the key, the
//! value (never a secret: those print as `<redacted>`) and what is allowed, e.g.
//! `session.idle_ttl_seconds = 30 is out of range: allowed 60..=86400 (set by
//! environment variable SESSION_TTL_SECONDS)`.
//!
//! ```
//! use sessiondb_settings::{LoadOptions, RedisMode, Settings};
//!
//! let options = LoadOptions {
//!     env: vec![("REDIS_HOST".into(), "10.0.0.5".into())],
//!     overrides: vec!["session.idle_ttl_seconds=900".into()],
//!     ..LoadOptions::default()
//! };
//! let settings = Settings::load(&options)?;
//! assert_eq!(settings.redis.mode, RedisMode::Standalone);
//! assert_eq!(settings.session.idle_ttl_seconds, 900);
//! let engine = settings.engine_config();
//! assert_eq!(engine.session.idle_ttl.as_secs(), 900);
//! # Ok::<(), sessiondb_settings::SettingsError>(())
//! ```
//!
//! The reference of every key, variable, default and range is `docs/configuration.md`;
//! `.env.example` lists the environment variables.
//!
//! # Layout
//!
//! - `schema`: one declaration per key: its kind and static range (and so whether it is
//!   secret), its default, whether it is about the Redis connection, and how to read it
//!   from [`Settings`]. Defaults, environment variable names, range and non-empty checks,
//!   the redacted listing, [`sets_connection`] and [`keys`] are derived from it.
//! - `model`: the [`Settings`] struct and its sections (`model/serve`: the `[server]`
//!   and `[embedded]` sections that only `serve` uses, and the API [`Scope`]s).
//! - `value`: checking one value (a string or a TOML value) against its key.
//! - `env`: the environment layer, legacy names included.
//! - `redis_url`: expanding `redis.url` into the keys it stands for.
//! - `api_keys`: the two forms of `server.api_keys` (TOML tables, `name:sha256:scopes`
//!   strings) and the checks on names, hashes and scopes.
//! - `load`: [`LoadOptions`], the file and override layers, merging, derived defaults.
//! - `validate`: range and consistency checks on the typed settings.
//! - `convert`: [`Settings::engine_config`], [`Settings::connection_config`] and the
//!   redacted listing. The HTTP crate builds its configuration from [`ServerSettings`].
//! - `error`: [`SettingsError`] and [`Origin`].

mod api_keys;
mod convert;
mod env;
mod error;
mod load;
mod model;
mod redis_url;
mod schema;
mod validate;
mod value;

pub use convert::DEFAULT_STANDALONE_HOST;
pub use env::{sets_connection, CONFIG_FILE_ENV, LEGACY_ENV_VARS, RESERVED_ENV_VARS};
pub use error::{Origin, SettingsError};
pub use load::LoadOptions;
pub use model::{
    AclSettings, ApiKeySettings, CleanupSettings, DeletionSettings, DurabilityMode,
    EmbeddedSettings, EventsSettings, LogFormat, LogLevel, LogSettings, NodeAddr, ReadFromMode,
    RedisMode, RedisSettings, RefreshSettings, Scope, ServerSettings, SessionSettings, Settings,
    TlsSettings,
};
pub use secrecy::{ExposeSecret, SecretString};

/// One documented setting, as listed in `docs/configuration.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Dotted key, e.g. `session.idle_ttl_seconds` (also the override syntax).
    pub key: &'static str,
    /// Environment variable, e.g. `SESSIONDB_SESSION__IDLE_TTL_SECONDS`.
    pub env_var: String,
    /// The default as [`Settings::redacted_values`] prints it (`(inferred)` for
    /// `redis.mode`; `redis.pool_size` and `cleanup.lease_seconds` show the value for the
    /// default durability and interval).
    pub default: &'static str,
    /// What is allowed, e.g. `60..=86400` or `text, json` (static part only: the
    /// rules that tie keys together are in the docs).
    pub allowed: String,
    /// Whether the value is a secret, never printed.
    pub secret: bool,
    /// Whether it says where Redis is or how to log in to it (see [`sets_connection`]).
    pub connection: bool,
}

/// Every setting, in the order of the reference docs.
pub fn keys() -> Vec<KeyInfo> {
    schema::KEYS
        .iter()
        .map(|k| KeyInfo {
            key: k.path,
            env_var: k.env_var(),
            default: k.default.shown(),
            allowed: k.kind.allowed(),
            secret: k.kind.is_secret(),
            connection: k.connection,
        })
        .collect()
}
