//! One module per subcommand.

pub(crate) mod apikey;
pub(crate) mod cleanup;
pub(crate) mod local;
pub(crate) mod serve;

use anyhow::Context as _;
use sessiondb_engine::Engine;
use sessiondb_settings::Settings;

/// Connects the engine to the configured Redis (operations commands need an explicit
/// Redis; only `serve` starts an embedded one).
pub(crate) async fn connect(settings: &Settings) -> anyhow::Result<Engine> {
    let connection = settings.connection_config().context(
        "no Redis configured: set REDIS_HOST / SESSIONDB_REDIS__URL (or redis.* in the config file)",
    )?;
    Engine::connect(&connection, settings.engine_config())
        .await
        .context("connecting to Redis")
}
