//! The `sessiondb` binary: parses arguments and hands off to one module per subcommand
//! (`commands/`), each with its own arguments and a `run(&Ctx, Args)`. The [`Ctx`]
//! loads settings, sets up logging, starts the runtime and connects the engine only
//! when a command asks for them.
//!
//! Exit codes: 0 success, 1 a check failed or work was refused, 2 usage or runtime error.
//!
//! [`Ctx`]: ctx::Ctx

mod cli;
mod commands;
mod ctx;
mod progress;
mod role;
mod telemetry;

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// buffers across the runtime's threads; with mimalloc the server runs 10–14% fewer
/// instructions per read and per create and spends about a third less CPU per create
/// (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli::Cli { global, command } = cli::Cli::parse();
    let ctx = ctx::Ctx::new(global);
    match commands::run(&ctx, command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sessiondb: error: {}", one_line(&error));
            ExitCode::from(2)
        }
    }
}

/// `error` and its causes on one line, `: ` between them, as `{:#}` prints them, but
/// without repeating a cause whose message the one before it already ends with (errors
/// that print their source in their own message, as well as returning it).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if line.ends_with(&message) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&message);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source in its own message and also returns it.
    #[derive(Debug)]
    struct Outer(Inner);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "connecting to X: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[derive(Debug)]
    struct Inner;

    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused")
        }
    }

    impl std::error::Error for Inner {}

    #[test]
    fn a_cause_already_in_its_parents_message_is_printed_once() {
        let error = anyhow::Error::new(Outer(Inner)).context("restoring");
        assert_eq!(one_line(&error), "restoring: connecting to X: refused");
        let plain = anyhow::Error::new(Inner).context("restoring");
        assert_eq!(one_line(&plain), "restoring: refused");
    }
}
