//! Connections and key names for operations tooling (health, status, stats, backup,
//! restore): the tools reach Redis exactly as the engine does — same credentials, TLS,
//! timeouts, Sentinel discovery and Cluster routing — and name keys with the engine's
//! own key schema.

use fred::clients::SentinelClient;
use fred::prelude::*;
use fred::types::config::{ConnectionConfig as FredConnectionConfig, SentinelConfig, ServerConfig};
use secrecy::ExposeSecret;

use crate::config::{ConnectionConfig, Topology};
use crate::error::{Error, InvalidInput};
use crate::ids::Tag;
use crate::ids::UserHash;
use crate::keys::Keyspace;
use crate::refused::{address, connect_error, Login};

/// A connected pool of `size` clients to the deployment: the standalone server, the
/// master found through Sentinel, or the Cluster (commands routed by key slot).
pub async fn connect(conn: &ConnectionConfig, size: usize) -> Result<Pool, Error> {
    let server = crate::store::server_config(conn);
    crate::store::connect_pool(conn, server, size.max(1)).await
}

/// A connected pool of `size` clients to one data node at `host:port` (a replica, one
/// Cluster node), with the data nodes' credentials and TLS. On a Cluster node, commands
/// are not redirected: only keys of the node's own slots answer.
pub async fn connect_node(
    conn: &ConnectionConfig,
    host: &str,
    port: u16,
    size: usize,
) -> Result<Pool, Error> {
    let server = ServerConfig::Centralized {
        server: crate::store::server(conn, host, port),
    };
    crate::store::connect_pool(conn, server, size.max(1)).await
}

/// A connected client of the Sentinel at `host:port`, with the Sentinel credentials and
/// the TLS settings of `conn`, which must use the Sentinel topology. It does not
/// reconnect: one client per question.
pub async fn connect_sentinel(
    conn: &ConnectionConfig,
    host: &str,
    port: u16,
) -> Result<SentinelClient, Error> {
    let Topology::Sentinel {
        sentinel_username,
        sentinel_password,
        ..
    } = &conn.topology
    else {
        return Err(InvalidInput::new("redis.sentinels", "no Sentinel is configured").into());
    };
    let tls = conn.tls.as_ref().map(crate::tls::client_tls).transpose()?;
    let config = SentinelConfig {
        host: host.to_owned(),
        port,
        username: sentinel_username.clone(),
        password: sentinel_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned()),
        tls: tls.as_ref().map(|t| t.config.clone()),
        ..SentinelConfig::default()
    };
    let connection = FredConnectionConfig {
        connection_timeout: conn.command_timeout,
        internal_command_timeout: conn.command_timeout,
        ..FredConnectionConfig::default()
    };
    let client = SentinelClient::new(config, None, Some(connection), None);
    let _task = client.init().await.map_err(|error| {
        let login = Login {
            user: sentinel_username.as_deref(),
            password_from: Some("redis.sentinel_password"),
        };
        let server = format!("the Sentinel at {}", address(host, port));
        connect_error(
            conn,
            server,
            &login,
            tls.as_ref().map(|t| &t.refused),
            error,
        )
    })?;
    Ok(client)
}

/// The clock and record modules engine scripts start with (`scripts/lib/clock.lua`,
/// `scripts/lib/record.lua`): the store's clock, the record's field order, its codec and
/// the liveness rule, for tooling scripts that read or write records, so the record
/// layout stays defined in one place.
pub const RECORD_LUA: &str = concat!(
    include_str!("scripts/lib/clock.lua"),
    "\n",
    include_str!("scripts/lib/record.lua")
);

/// The key names of one key prefix (see the key schema in `docs/architecture.md`).
#[derive(Debug, Clone)]
pub struct KeyNames(Keyspace);

impl KeyNames {
    /// Key names under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self(Keyspace::new(prefix))
    }

    /// `<prefix>:{<tag>}:`, the start of every key of one bucket.
    pub fn base(&self, tag: Tag) -> String {
        self.0.base(tag)
    }

    /// A device login's record.
    pub fn session(&self, tag: Tag, session_id: &str) -> String {
        self.0.session(tag, session_id)
    }

    /// A user's index of device logins, by the user's key hash.
    pub fn index(&self, tag: Tag, user_hash: &str) -> String {
        self.0.index(tag, &UserHash::from_key_part(user_hash))
    }

    /// A deletion token.
    pub fn deletion(&self, tag: Tag, deletion_id: &str) -> String {
        self.0.deletion(tag, deletion_id)
    }

    /// A bucket's cleanup schedule.
    pub fn due(&self, tag: Tag) -> String {
        self.0.due(tag)
    }

    /// A bucket's count of indexed device logins.
    pub fn live_count(&self, tag: Tag) -> String {
        self.0.live_count(tag)
    }

    /// The lifecycle event stream.
    pub fn events(&self) -> String {
        self.0.events()
    }

    /// The key schema version.
    pub fn schema(&self) -> String {
        self.0.schema()
    }

    /// The cleanup lease.
    pub fn cleanup_lease(&self) -> String {
        self.0.cleanup_lease()
    }
}
