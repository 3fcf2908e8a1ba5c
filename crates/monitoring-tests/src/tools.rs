//! Running the Prometheus tools. A missing tool is an error naming the Debian package
//! that provides it, so a test that needs it fails instead of skipping.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Output};

use crate::Error;

/// An external program and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The executable, looked up on `PATH`.
    pub program: &'static str,
    /// The Debian package to install when it is missing.
    pub package: &'static str,
}

/// `promtool` (rules, unit tests, configuration).
pub const PROMTOOL: Tool = Tool {
    program: "promtool",
    package: "prometheus",
};

/// `amtool` (Alertmanager configuration, routes, templates).
pub const AMTOOL: Tool = Tool {
    program: "amtool",
    package: "prometheus-alertmanager",
};

/// The Debian build of redis_exporter.
pub const REDIS_EXPORTER: Tool = Tool {
    program: "prometheus-redis-exporter",
    package: "prometheus-redis-exporter",
};

/// What a finished run printed, and whether it succeeded.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Exit status 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output and standard error, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "$ {}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.stdout, self.stderr
        )
    }
}

impl Tool {
    /// A command for this tool, run in `dir`.
    pub fn command(&self, dir: &Path) -> Command {
        let mut command = Command::new(self.program);
        command.current_dir(dir);
        command
    }

    /// Runs the tool with `args` in `dir` and waits for it.
    pub fn run<I, S>(&self, dir: &Path, args: I) -> Result<Run, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let mut words = vec![self.program.to_owned()];
        words.extend(
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned()),
        );
        let output = self.command(dir).args(&args).output();
        let output: Output = output.map_err(|source| self.spawn_error(source))?;
        Ok(Run {
            command: words.join(" "),
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// The error for a failed start: [`Error::MissingTool`] when it is not installed.
    pub fn spawn_error(&self, source: std::io::Error) -> Error {
        if source.kind() == ErrorKind::NotFound {
            Error::MissingTool {
                program: self.program,
                package: self.package,
            }
        } else {
            Error::Spawn {
                program: self.program,
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_its_package() {
        let tool = Tool {
            program: "sessiondb-no-such-tool",
            package: "no-such-package",
        };
        let error = tool
            .run(Path::new("."), ["--version"])
            .expect_err("the tool does not exist");
        assert!(matches!(error, Error::MissingTool { .. }), "{error:?}");
        assert!(error.to_string().contains("no-such-package"), "{error}");
    }
}
