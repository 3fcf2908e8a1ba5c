//! The one error type of this crate.

use std::path::PathBuf;

/// Something a monitoring check could not read, parse or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A YAML file did not have the expected shape.
    #[error("{}: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_yaml_ng::Error,
    },
    /// A JSON file did not have the expected shape.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_json::Error,
    },
    /// A program the checks need is not installed.
    #[error(
        "`{program}` is not installed or not on PATH: install the Debian package `{package}` \
         (.ci/run does)"
    )]
    MissingTool {
        /// The executable.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A program could not be started for another reason.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The executable.
        program: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A document did not follow the format the checks rely on.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
