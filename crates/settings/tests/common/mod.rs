//! Helpers shared by the integration tests: build `LoadOptions` without touching the
//! process environment.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use sessiondb_settings::{LoadOptions, Settings, SettingsError};
use tempfile::TempDir;

/// A config file in its own temporary directory (removed on drop).
pub struct ConfigFile {
    pub dir: TempDir,
    pub path: PathBuf,
}

pub fn config_file(toml: &str) -> ConfigFile {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("sessiondb.toml");
    std::fs::write(&path, toml).expect("write the config file");
    ConfigFile { dir, path }
}

pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn overrides(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Loads from an optional TOML text, an environment and overrides.
pub fn load(
    toml: Option<&str>,
    env_pairs: &[(&str, &str)],
    override_items: &[&str],
) -> Result<Settings, SettingsError> {
    let file = toml.map(config_file);
    Settings::load(&LoadOptions {
        config_file: file.as_ref().map(|f| f.path.clone()),
        env: env(env_pairs),
        overrides: overrides(override_items),
    })
}

/// The error message of a load that must fail.
pub fn load_err(toml: Option<&str>, env_pairs: &[(&str, &str)], override_items: &[&str]) -> String {
    match load(toml, env_pairs, override_items) {
        Ok(settings) => panic!("expected an error, got {settings:?}"),
        Err(e) => e.to_string(),
    }
}
