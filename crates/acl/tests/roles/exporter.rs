//! redis_exporter, as the deployment runs it (`REDIS_USER=monitor`), scraped on a server
//! loaded with the generated file: the `monitor` role lets it report the server
//! (`redis_up 1`), nothing it sends is refused, and all it sends is in the role's list.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use secrecy::ExposeSecret as _;
use sessiondb_acl::Role;
use sessiondb_local::free_port;

use crate::support::AclServer;

/// The exporter's Debian package (installed by `.ci/run`).
const EXPORTER: &str = "prometheus-redis-exporter";

/// A running exporter, killed and reaped when dropped.
struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(server: &AclServer) -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new(EXPORTER)
            .args(["-web.listen-address", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("REDIS_ADDR", format!("redis://127.0.0.1:{}", server.port()))
            .env("REDIS_USER", Role::Monitor.user())
            .env(
                "REDIS_PASSWORD",
                server.password(Role::Monitor).expose_secret(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("starting {EXPORTER} (Debian package prometheus-redis-exporter)")
            })?;
        Ok(Self { child, port })
    }

    /// One scrape of `/metrics`, `None` while it does not answer yet.
    fn scrape(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).ok()?;
        Some(body)
    }
}

#[test]
fn monitor_role_is_enough_for_redis_exporter() -> anyhow::Result<()> {
    let server = AclServer::start()?;
    server.reset()?;
    let exporter = Exporter::start(&server)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        match exporter.scrape() {
            Some(body) if body.contains("\nredis_up 1") => break body,
            Some(body) if Instant::now() > deadline => {
                bail!("the exporter never reported redis_up 1:\n{body}")
            }
            _ if Instant::now() > deadline => bail!("the exporter never answered"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    ensure!(metrics.contains("redis_connected_clients"), "{metrics}");
    // A second scrape: what it sends every time, not only at its first connection.
    exporter.scrape().context("second scrape")?;
    let log = server.acl_log()?;
    ensure!(
        log.is_empty(),
        "redis_exporter was refused (add it to the monitor role's exporter list in \
         crates/acl/src/rules.rs):\n  {}",
        log.join("\n  ")
    );
    let granted = Role::Monitor.commands();
    let unlisted: Vec<String> = server
        .commands_seen()?
        .into_iter()
        .filter(|c| !granted.contains(&c.as_str()))
        .collect();
    ensure!(unlisted.is_empty(), "sent but not listed: {unlisted:?}");
    Ok(())
}
