//! The Lua scripts of the operations (`scripts/*.lua`), each headed by its KEYS, ARGV,
//! return value and invariant.

use std::sync::LazyLock;

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::Value;

use crate::error::OpsError;

/// A script and its name (for errors).
pub(crate) struct OpsScript {
    pub(crate) name: &'static str,
    script: Script,
}

impl OpsScript {
    fn new(name: &'static str, lua: &'static str) -> Self {
        Self {
            name,
            script: Script::from_lua(lua),
        }
    }

    /// A script that reads or writes records: the engine's record module first.
    fn with_record(name: &'static str, lua: &'static str) -> Self {
        Self {
            name,
            script: Script::from_lua(format!("{}\n{lua}", sessiondb_engine::admin::RECORD_LUA)),
        }
    }

    /// Runs the script by SHA on `client` (loading it after `NOSCRIPT`) with one key.
    pub(crate) async fn run(
        &self,
        client: &Client,
        key: String,
        args: Vec<Value>,
    ) -> Result<Value, OpsError> {
        self.script
            .evalsha_with_reload(client, key, args)
            .await
            .map_err(|e| OpsError::redis(format!("the {} script", self.name), e))
    }
}

macro_rules! script {
    ($static:ident, $name:literal) => {
        script!($static, $name, new);
    };
    ($static:ident, $name:literal, $build:ident) => {
        pub(crate) static $static: LazyLock<OpsScript> = LazyLock::new(|| {
            OpsScript::$build($name, include_str!(concat!("scripts/", $name, ".lua")))
        });
    };
}

script!(STATS_BUCKET, "stats_bucket");
script!(EVENTS_WINDOW, "events_window");
script!(BACKUP_USERS, "backup_users");
script!(BACKUP_KEYS, "backup_keys");
script!(RESTORE_USERS, "restore_users", with_record);
script!(RESTORE_KEYS, "restore_keys", with_record);
script!(RECOUNT, "recount", with_record);

/// The elements of an array reply (empty for anything else).
pub(crate) fn items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// An integer element, or a protocol error naming the script.
pub(crate) fn int(script: &OpsScript, value: Option<&Value>) -> Result<i64, OpsError> {
    value.and_then(Value::as_i64).ok_or_else(|| {
        OpsError::protocol(format!("the {} script", script.name), "expected an integer")
    })
}

/// A string element, or a protocol error naming the script.
pub(crate) fn text(script: &OpsScript, value: Option<&Value>) -> Result<String, OpsError> {
    value.and_then(Value::as_string).ok_or_else(|| {
        OpsError::protocol(format!("the {} script", script.name), "expected a string")
    })
}
