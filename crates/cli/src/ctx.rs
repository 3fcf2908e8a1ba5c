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

    /// Runs `future` to completion on the (lazily started) multi-threaded runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> anyhow::Result<F::Output> {
        if self.runtime.get().is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
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
    /// Connects the engine to the configured Redis (operations commands need an
    /// explicit Redis; only `serve` starts an embedded one). On a local stack (whose
    /// `local.env` has every role's password) it logs in as `role`; elsewhere the
    /// settings say who logs in.
    pub(crate) async fn engine_as(&self, role: Role) -> anyhow::Result<Engine> {
        let mut connection = self.connection()?;
        if let (Some(_), Some(password)) = (&self.stack, self.settings.acl.password(role)) {
            connection.username = Some(role.user().to_owned());
            connection.password = Some(password.clone());
        }
        self.connect_engine(connection).await
    }

    fn connection(&self) -> anyhow::Result<ConnectionConfig> {
        self.settings.connection_config().context(
            "no Redis configured: set REDIS_HOST / SESSIONDB_REDIS__URL (or redis.* in the \
             config file), or use --local for the stack of `sessiondb local up`",
        )
    }

    async fn connect_engine(&self, connection: ConnectionConfig) -> anyhow::Result<Engine> {
        Engine::connect(&connection, self.settings.engine_config())
            .await
            .with_context(|| self.connecting())
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
        let text = if self.json {
            serde_json::to_string(report).context("encoding the report as JSON")?
        } else {
            report.to_string()
        };
        emit(&format!("{text}\n"));
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
