//! What every command may need, built only when it asks: settings (from the global
//! arguments, and a local stack with `--local`), logging, the async runtime, the engine,
//! and one way to print results as text or `--json`.

use std::cell::OnceCell;
use std::fmt::Display;
use std::future::Future;

use anyhow::Context as _;
use serde::Serialize;
use sessiondb_acl::Role;
use sessiondb_engine::{ConnectionConfig, Engine};
use sessiondb_local::stack::StackDir;
use sessiondb_settings::{LoadOptions, Settings};

use crate::cli::{ConnectArgs, GlobalArgs};
use crate::commands::serve::stack_env;
use crate::role;
use crate::telemetry;

/// The per-invocation context handed to every command.
#[derive(Debug)]
pub(crate) struct Ctx {
    global: GlobalArgs,
    /// Created on first use; commands that need no I/O never start one.
    runtime: OnceCell<tokio::runtime::Runtime>,
    out: Output,
}

/// Settings as loaded for one command, and the local stack they came from (`--local`).
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) settings: Settings,
    pub(crate) stack: Option<StackDir>,
}

impl Ctx {
    pub(crate) fn new(global: GlobalArgs) -> Self {
        let out = Output { json: global.json };
        Self {
            global,
            runtime: OnceCell::new(),
            out,
        }
    }

    /// The options every command accepts.
    pub(crate) fn global(&self) -> &GlobalArgs {
        &self.global
    }

    /// Where results go.
    pub(crate) fn out(&self) -> &Output {
        &self.out
    }

    /// Loads and validates the settings (from the local stack with `--local`), then
    /// starts logging at the configured level.
    pub(crate) fn load(&self, connect: &ConnectArgs) -> anyhow::Result<Loaded> {
        let (config, overrides) = (self.global.config.clone(), self.global.overrides.clone());
        let stack = connect
            .local
            .then(|| StackDir::new(&connect.local_dir))
            .transpose()?;
        let options = match &stack {
            Some(dir) => stack_env::load_options(dir, config, overrides)?,
            None => LoadOptions::from_process(config, overrides),
        };
        let settings = Settings::load(&options).context("invalid configuration")?;
        telemetry::init(&settings);
        Ok(Loaded { settings, stack })
    }

    /// Runs `future` to completion on the (lazily started) multi-threaded runtime, with
    /// one worker thread per CPU.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> anyhow::Result<F::Output> {
        self.block_on_threads(None, future)
    }

    /// [`Ctx::block_on`] with `threads` worker threads, when the runtime starts here
    /// (`None`: one per CPU).
    pub(crate) fn block_on_threads<F: Future>(
        &self,
        threads: Option<usize>,
        future: F,
    ) -> anyhow::Result<F::Output> {
        if self.runtime.get().is_none() {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(threads) = threads {
                builder.worker_threads(threads);
            }
            let runtime = builder
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let _ = self.runtime.set(runtime);
        }
        let runtime = self.runtime.get().expect("set just above");
        Ok(runtime.block_on(future))
    }
}

impl Loaded {
    /// Connects the engine as `role` (see [`Loaded::connection`]). Operations commands
    /// need an explicit Redis; only `serve` starts an embedded one.
    pub(crate) async fn engine_as(&self, role: Role) -> anyhow::Result<Engine> {
        Engine::connect(&self.connection(role)?, self.settings.engine_config())
            .await
            .with_context(|| self.connecting())
    }

    /// The configured Redis connection, logged in as `role` when its password is
    /// configured (the local stack's `local.env` sets all six; see
    /// [`role`](crate::role)).
    pub(crate) fn connection(&self, role: Role) -> anyhow::Result<ConnectionConfig> {
        let mut connection = self.configured()?;
        role::apply(&mut connection, &self.settings, role);
        Ok(connection)
    }

    /// The connection the settings describe.
    pub(crate) fn configured(&self) -> anyhow::Result<ConnectionConfig> {
        self.settings.connection_config().context(
            "no Redis configured: set REDIS_HOST / SESSIONDB_REDIS__URL (or redis.* in the \
             config file), or use --local for the stack of `sessiondb local up`",
        )
    }

    /// `key_prefix`: where sessiondb's keys live.
    pub(crate) fn key_prefix(&self) -> &str {
        &self.settings.key_prefix
    }

    /// What "connecting" means here, for error context.
    pub(crate) fn connecting(&self) -> String {
        match &self.stack {
            Some(dir) => format!(
                "connecting to the local stack in {} (is it running? \
                 `sessiondb local status{}` shows it)",
                dir.root().display(),
                crate::commands::local::dir_flag(dir)
            ),
            None => "connecting to Redis".to_owned(),
        }
    }
}

/// Prints results as human text or, with `--json`, as one JSON document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    /// Whether `--json` was given.
    pub(crate) fn json(self) -> bool {
        self.json
    }

    /// Prints `report`: its `Display` text, or its JSON with `--json`.
    pub(crate) fn report<T: Serialize + Display>(self, report: &T) -> anyhow::Result<()> {
        let mut text = if self.json {
            serde_json::to_string(report).context("encoding the report as JSON")?
        } else {
            report.to_string()
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        emit(&text);
        Ok(())
    }
}

/// Writes `text` to stdout, ignoring errors (a reader that went away, a full disk):
/// there is nobody left to tell, and a closed pipe must not abort a command.
pub(crate) fn emit(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
