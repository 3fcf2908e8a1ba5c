//! Following Sentinel's `+switch-master` announcements.
//!
//! fred finds the master through Sentinel when it connects, and reconnects (asking
//! Sentinel again) when a connection drops or the server answers `READONLY`, `LOADING`
//! or `MASTERDOWN`. That misses one case: a master the Sentinels can no longer reach
//! but the API still can (a partition). The Sentinels promote a replica and cannot
//! demote the old master, which keeps accepting our reads and writes — writes that the
//! new master never sees. So the engine also subscribes to `+switch-master` on every
//! Sentinel and, when one announces a new master for our service, moves the pool there
//! at once. Duplicate announcements (every Sentinel sends one) find the pool already
//! moved and do nothing.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::SentinelClient;
use fred::prelude::*;
use fred::types::config::{ConnectionConfig as FredConnectionConfig, SentinelConfig};
use secrecy::ExposeSecret;
use tokio::sync::{watch, Mutex};

use crate::config::{ConnectionConfig, Topology};
use crate::error::Error;
use crate::events::Observer;

/// The channel Sentinel announces promotions on.
const CHANNEL: &str = "+switch-master";

/// Pause before connecting again to a Sentinel that was unreachable or dropped us.
const RETRY: Duration = Duration::from_secs(1);

/// After an announcement, how often and how many times the pool is told to reconnect
/// until it is on the announced master. One attempt is not always enough: fred asks the
/// first Sentinel that answers, which may not have heard of the switch yet, and then
/// waits out its reconnect backoff (up to 500 ms) before asking again.
const MOVE_ATTEMPT_EVERY: Duration = Duration::from_millis(200);
const MOVE_ATTEMPTS: u32 = 25;

/// Watches every Sentinel of the topology. Dropping it stops the watchers, which close
/// their connections.
#[derive(Debug)]
pub(crate) struct SwitchWatcher {
    _stop: watch::Sender<()>,
}

impl SwitchWatcher {
    /// Starts one watcher per Sentinel; `None` for other topologies.
    pub(crate) fn start(
        conn: &ConnectionConfig,
        pool: &Pool,
        observer: Option<&Arc<dyn Observer>>,
    ) -> Result<Option<Self>, Error> {
        let Topology::Sentinel {
            sentinels,
            service_name,
            sentinel_username,
            sentinel_password,
        } = &conn.topology
        else {
            return Ok(None);
        };
        let tls = conn
            .tls
            .as_ref()
            .map(crate::tls::client_tls)
            .transpose()?
            .map(|t| t.config);
        let (stop, stopped) = watch::channel(());
        let moving = Arc::new(Mutex::new(None));
        for (host, port) in sentinels {
            let config = SentinelConfig {
                host: host.clone(),
                port: *port,
                username: sentinel_username.clone(),
                password: sentinel_password
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned()),
                tls: tls.clone(),
                ..SentinelConfig::default()
            };
            tokio::spawn(watch_one(
                config,
                conn.command_timeout,
                service_name.clone(),
                Switch {
                    pool: pool.clone(),
                    moving: moving.clone(),
                    observer: observer.cloned(),
                },
                stopped.clone(),
            ));
        }
        Ok(Some(Self { _stop: stop }))
    }
}

/// Subscribes to one Sentinel, reconnecting after [`RETRY`], until told to stop.
async fn watch_one(
    config: SentinelConfig,
    timeout: Duration,
    service: String,
    switch: Switch,
    mut stopped: watch::Receiver<()>,
) {
    let sentinel = format!("{}:{}", config.host, config.port);
    loop {
        let connection = FredConnectionConfig {
            connection_timeout: timeout,
            internal_command_timeout: timeout,
            ..FredConnectionConfig::default()
        };
        // No reconnect policy: when the connection ends, so does its task, and this
        // loop subscribes again on a fresh connection.
        let client = SentinelClient::new(config.clone(), None, Some(connection), None);
        let mut messages = client.message_rx();
        let subscribed = async {
            let task = client.init().await?;
            client.subscribe(CHANNEL).await?;
            Ok::<_, fred::error::Error>(task)
        };
        let mut task = tokio::select! {
            result = subscribed => match result {
                Ok(task) => task,
                Err(error) => {
                    tracing::debug!(%sentinel, %error, "cannot subscribe to Sentinel announcements");
                    let _ = client.quit().await;
                    if pause(&mut stopped).await { return; }
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        loop {
            tokio::select! {
                message = messages.recv() => match message {
                    Ok(message) => switch.on_message(&service, &message.value).await,
                    Err(_) => break,
                },
                _ = &mut task => break,
                _ = stopped.changed() => {
                    let _ = client.quit().await;
                    return;
                }
            }
        }
        let _ = client.quit().await;
        if pause(&mut stopped).await {
            return;
        }
    }
}

/// Waits [`RETRY`]; `true` when the watcher was dropped meanwhile.
async fn pause(stopped: &mut watch::Receiver<()>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(RETRY) => false,
        _ = stopped.changed() => true,
    }
}

/// What the watchers share: the pool to move, and the last master they moved it to.
#[derive(Clone)]
struct Switch {
    pool: Pool,
    /// Held while one watcher moves the pool; the last announced master.
    moving: Arc<Mutex<Option<(String, u16)>>>,
    observer: Option<Arc<dyn Observer>>,
}

impl Switch {
    /// Handles one `+switch-master` message: `<service> <old ip> <old port> <new ip>
    /// <new port>`. While one watcher moves the pool, the others' (duplicate)
    /// announcements are skipped.
    async fn on_message(&self, service: &str, value: &fred::types::Value) {
        let Some(text) = value.as_str() else {
            return;
        };
        let Some((name, new)) = parse_switch(&text) else {
            tracing::debug!(message = %text, "unexpected +switch-master message");
            return;
        };
        if name != service {
            return;
        }
        let Ok(mut last) = self.moving.try_lock() else {
            return;
        };
        let announced = Some((new.0.to_owned(), new.1));
        if *last != announced {
            *last = announced;
            if let Some(observer) = &self.observer {
                observer.master_changed(new.0, new.1);
            }
        }
        if is_on(&self.pool, new) {
            return;
        }
        tracing::info!(host = %new.0, port = new.1, "Sentinel announced a new master; reconnecting");
        let started = std::time::Instant::now();
        for _ in 0..MOVE_ATTEMPTS {
            if let Err(error) = self.pool.force_reconnection().await {
                tracing::debug!(%error, "reconnecting to the new master failed");
            }
            tokio::time::sleep(MOVE_ATTEMPT_EVERY).await;
            if is_on(&self.pool, new) {
                tracing::info!(
                    after_ms = started.elapsed().as_millis(),
                    "the pool is on the announced master"
                );
                return;
            }
        }
        tracing::warn!(
            host = %new.0,
            port = new.1,
            "the pool has not reached the announced master; it keeps reconnecting in the background"
        );
    }
}

/// Whether every client of the pool is connected to `server`.
fn is_on(pool: &Pool, server: (&str, u16)) -> bool {
    let connected = pool.active_connections();
    !connected.is_empty()
        && connected
            .iter()
            .all(|s| &*s.host == server.0 && s.port == server.1)
}

/// Splits a `+switch-master` message into the service name and the new master.
fn parse_switch(text: &str) -> Option<(&str, (&str, u16))> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [name, _old_host, _old_port, new_host, new_port] = parts.as_slice() else {
        return None;
    };
    Some((name, (new_host, new_port.parse().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::parse_switch;

    #[test]
    fn switch_messages_name_the_service_and_the_new_master() {
        assert_eq!(
            parse_switch("sessiondb 10.0.0.1 6379 10.0.0.2 6380"),
            Some(("sessiondb", ("10.0.0.2", 6380)))
        );
        assert_eq!(parse_switch("sessiondb 10.0.0.1 6379"), None);
        assert_eq!(parse_switch("sessiondb 10.0.0.1 6379 10.0.0.2 port"), None);
    }
}
