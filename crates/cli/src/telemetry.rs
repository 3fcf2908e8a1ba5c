//! Logging: `tracing` to stderr, text or JSON, at the configured level
//! (`RUST_LOG` refines it when set).

use std::io::IsTerminal as _;

use sessiondb_settings::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once per process.
pub(crate) fn init(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.log.level.as_str()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}
