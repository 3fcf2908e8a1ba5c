//! Loading: the config file and override layers, merging all layers in order, and
//! resolving the values derived from others (`redis.mode`, `redis.pool_size`,
//! `cleanup.lease_seconds`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::env::{self, CONFIG_FILE_ENV};
use crate::error::{Origin, SettingsError};
use crate::model::{RedisMode, Settings};
use crate::schema::{self, Kind, DEFAULT_LEASE_CAP, KEYS};
use crate::value::{self, Assignment};
use crate::{redis_url, validate};

/// What [`Settings::load`] reads.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// The TOML config file (`--config`); `None` for none.
    pub config_file: Option<PathBuf>,
    /// The environment, as `(name, value)` pairs; only `SESSIONDB_*` and the legacy
    /// names are read.
    pub env: Vec<(String, String)>,
    /// Command-line overrides, each `section.key=value` (e.g.
    /// `session.idle_ttl_seconds=600`, `redis.sentinels=a:26379,b:26379`); later ones
    /// win.
    pub overrides: Vec<String>,
}

impl LoadOptions {
    /// Options reading this process's environment. Without `config_file`, the file
    /// named by `SESSIONDB_CONFIG` (when set and non-empty) is read.
    ///
    /// Only the variables the loader reads are copied; a value that is not valid
    /// UTF-8 is taken lossily (and will then most likely fail validation).
    pub fn from_process(config_file: Option<PathBuf>, overrides: Vec<String>) -> Self {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                env::is_relevant(&name).then(|| (name, value.to_string_lossy().into_owned()))
            })
            .collect();
        let config_file = config_file.or_else(|| {
            env.iter()
                .find(|(name, value)| name == CONFIG_FILE_ENV && !value.is_empty())
                .map(|(_, value)| PathBuf::from(value))
        });
        Self {
            config_file,
            env,
            overrides,
        }
    }
}

impl fmt::Debug for LoadOptions {
    /// Prints variable names and override keys only: their values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        let overrides: Vec<&str> = self
            .overrides
            .iter()
            .map(|o| {
                o.split_once('=')
                    .map_or("<malformed>", |(key, _)| key.trim())
            })
            .collect();
        f.debug_struct("LoadOptions")
            .field("config_file", &self.config_file)
            .field("env", &env)
            .field("overrides", &overrides)
            .finish()
    }
}

impl Settings {
    /// Loads settings from built-in defaults, then `options.config_file`, then
    /// `options.env`, then `options.overrides`, each layer overriding the ones before,
    /// and validates the result.
    pub fn load(options: &LoadOptions) -> Result<Settings, SettingsError> {
        let mut layers = Layers::defaults();
        if let Some(path) = &options.config_file {
            layers.apply(file_assignments(path)?)?;
        }
        for group in env::assignments(&options.env)? {
            layers.apply(group)?;
        }
        layers.apply(override_assignments(&options.overrides)?)?;
        let mut settings: Settings = layers
            .table
            .try_into()
            .map_err(|source| SettingsError::Assemble { source })?;
        resolve(&mut settings, &layers.origins)?;
        validate::check(&settings, &layers.origins)?;
        Ok(settings)
    }
}

/// Which layer set each key that is not at its default.
pub(crate) type Origins = BTreeMap<&'static str, Origin>;

impl Default for Settings {
    /// The built-in defaults, as declared with each key (`redis.mode` embedded,
    /// `redis.pool_size` and `cleanup.lease_seconds` the values for the default durability
    /// and interval), before any layer.
    fn default() -> Self {
        Layers::defaults()
            .table
            .try_into()
            .expect("the declared defaults are valid settings (tested)")
    }
}

/// The merged layers so far.
struct Layers {
    table: Table,
    origins: Origins,
}

impl Layers {
    /// The first layer: every key's declared default, parsed as an environment value
    /// would be, in a table with every section.
    fn defaults() -> Self {
        let mut layers = Layers {
            table: Table::new(),
            origins: Origins::new(),
        };
        let mut sections = schema::sections();
        sections.sort_by_key(|section| section.matches('.').count());
        for section in sections {
            layers.insert(section, Value::Table(Table::new()));
        }
        for spec in KEYS {
            if let Some(raw) = spec.default.value() {
                let a = value::from_str(spec, raw, &Origin::Default)
                    .expect("every declared default is valid for its key (tested)");
                layers.insert(spec.path, a.value);
            }
        }
        layers
    }

    /// Applies one layer (or one group of the environment layer). Within it, a
    /// `redis.url` is applied first, so keys set explicitly beside it win over the
    /// URL's parts.
    fn apply(&mut self, group: Vec<Assignment>) -> Result<(), SettingsError> {
        let (urls, rest): (Vec<_>, Vec<_>) =
            group.into_iter().partition(|a| a.spec.path == "redis.url");
        for url in urls {
            for a in redis_url::expand(url)? {
                self.set(a);
            }
        }
        for a in rest {
            self.set(a);
        }
        Ok(())
    }

    fn set(&mut self, a: Assignment) {
        self.insert(a.spec.path, a.value);
        self.origins.insert(a.spec.path, a.origin);
    }

    /// Puts `value` at the dotted `path`, creating the tables on the way.
    fn insert(&mut self, path: &str, value: Value) {
        let mut table = &mut self.table;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_owned(), value);
                break;
            }
            let entry = table
                .entry(part.to_owned())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            match entry {
                Value::Table(inner) => table = inner,
                _ => break,
            }
        }
    }
}

/// The config file's values, checked.
fn file_assignments(path: &Path) -> Result<Vec<Assignment>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        let offset = e.span().map_or(0, |s| s.start);
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SettingsError::FileSyntax {
            path: path.to_owned(),
            line,
            column,
            message: e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        }
    })?;
    let origin = Origin::File(path.to_owned());
    let mut out = Vec::new();
    flatten(table, "", &origin, &mut out)?;
    // Relative file paths in the config file are relative to the file's directory.
    let dir = path.parent().unwrap_or(Path::new(""));
    for a in &mut out {
        if let (Kind::Path, Value::String(p)) = (a.spec.kind, &mut a.value) {
            if Path::new(p.as_str()).is_relative() {
                *p = dir.join(p.as_str()).to_string_lossy().into_owned();
            }
        }
    }
    Ok(out)
}

fn flatten(
    table: Table,
    prefix: &str,
    origin: &Origin,
    out: &mut Vec<Assignment>,
) -> Result<(), SettingsError> {
    for (name, value) in table {
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        if schema::is_section(&path) {
            match value {
                Value::Table(inner) => flatten(inner, &path, origin, out)?,
                other => {
                    return Err(SettingsError::InvalidValue {
                        key: path,
                        value: other.type_str().to_owned(),
                        reason: "expected a table (a [section])".to_owned(),
                        origin: origin.clone(),
                    })
                }
            }
        } else {
            let spec = schema::spec(&path).ok_or_else(|| unknown_key(&path, origin))?;
            out.push(value::from_toml(spec, value, origin)?);
        }
    }
    Ok(())
}

/// The overrides' values, checked.
fn override_assignments(overrides: &[String]) -> Result<Vec<Assignment>, SettingsError> {
    let origin = Origin::Override;
    overrides
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let (key, raw) = o
                .split_once('=')
                .ok_or(SettingsError::InvalidOverride { position: i + 1 })?;
            let key = key.trim();
            let spec = schema::spec(key).ok_or_else(|| unknown_key(key, &origin))?;
            value::from_str(spec, raw, &origin)
        })
        .collect()
}

fn unknown_key(key: &str, origin: &Origin) -> SettingsError {
    SettingsError::UnknownKey {
        key: key.to_owned(),
        origin: origin.clone(),
        suggestion: schema::suggest(key, KEYS.iter().map(|k| k.path).chain(schema::sections()))
            .map(str::to_owned),
    }
}

/// Fills in the values that default to something derived from other settings.
fn resolve(settings: &mut Settings, origins: &Origins) -> Result<(), SettingsError> {
    settings.redis.mode_explicit = origins.contains_key("redis.mode");
    if !settings.redis.mode_explicit {
        settings.redis.mode = infer_mode(settings)?;
    }
    if !origins.contains_key("redis.pool_size") {
        settings.redis.pool_size = settings.engine_durability().default_pool_size();
    }
    if !origins.contains_key("cleanup.lease_seconds") {
        settings.cleanup.lease_seconds = settings
            .cleanup
            .interval_seconds
            .saturating_mul(2)
            .min(DEFAULT_LEASE_CAP);
    }
    Ok(())
}

fn infer_mode(settings: &Settings) -> Result<RedisMode, SettingsError> {
    let redis = &settings.redis;
    let candidates = [
        (
            redis.host.is_some(),
            RedisMode::Standalone,
            "redis.host (or redis.url)",
        ),
        (
            !redis.sentinels.is_empty(),
            RedisMode::Sentinel,
            "redis.sentinels",
        ),
        (
            !redis.cluster_nodes.is_empty(),
            RedisMode::Cluster,
            "redis.cluster_nodes",
        ),
    ];
    let set: Vec<_> = candidates.iter().filter(|(is_set, ..)| *is_set).collect();
    match set.as_slice() {
        [] => Ok(RedisMode::Embedded),
        [(_, mode, _)] => Ok(*mode),
        many => Err(SettingsError::AmbiguousMode {
            keys: many
                .iter()
                .map(|(.., key)| *key)
                .collect::<Vec<_>>()
                .join(" and "),
        }),
    }
}
