//! `redis-cli` access: the current master, the password only in the environment, TLS.

use secrecy::SecretString;
use sessiondb_engine::TlsConfig;
use sessiondb_local::{
    free_port, RedisOptions, RedisServer, SentinelOptions, SentinelTopology, TlsFiles,
};
use sessiondb_ops::redis_cli::{redis_cli_command, PASSWORD_VARIABLE};

use crate::support::{sentinel, standalone};

fn run(
    command: &sessiondb_ops::redis_cli::RedisCliCommand,
    args: &[&str],
) -> anyhow::Result<String> {
    let output = command.command(args).output()?;
    anyhow::ensure!(
        output.status.success(),
        "redis-cli failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

#[tokio::test]
async fn the_password_goes_through_the_environment_only() -> anyhow::Result<()> {
    let password = "s3cret-pa55word";
    let server = RedisServer::start(RedisOptions {
        password: Some(SecretString::from(password)),
        ..RedisOptions::default()
    })?;
    let mut conn = standalone(&server);
    conn.password = Some(SecretString::from(password));
    conn.username = Some("default".to_owned());
    conn.database = 3;
    let command = redis_cli_command(&conn).await?;
    assert_eq!(command.target, format!("127.0.0.1:{}", server.port()));
    assert!(
        command.args.iter().all(|a| !a.contains(password)),
        "{:?}",
        command.args
    );
    assert!(command.args.windows(2).any(|w| w == ["--user", "default"]));
    assert!(command.args.windows(2).any(|w| w == ["-n", "3"]));
    let names: Vec<&str> = command.env.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [PASSWORD_VARIABLE]);
    for shown in [
        command.to_string(),
        format!("{command:?}"),
        serde_json::to_string(&command)?,
    ] {
        assert!(!shown.contains(password), "{shown}");
    }
    assert_eq!(run(&command, &["PING"])?, "PONG");
    // The database option took effect.
    run(&command, &["SET", "k", "v"])?;
    assert_eq!(server.cli(&["-n", "3", "GET", "k"])?, "v");
    Ok(())
}

#[tokio::test]
async fn it_follows_the_master_through_sentinel() -> anyhow::Result<()> {
    let topology = SentinelTopology::start(SentinelOptions {
        replicas: 1,
        fast_timers: true,
        ..SentinelOptions::default()
    })?;
    let conn = sentinel(&topology);
    let before = redis_cli_command(&conn).await?;
    let master = topology.current_master()?;
    assert_eq!(before.target, format!("{}:{}", master.0, master.1));
    let promoted = topology.failover()?;
    let after = redis_cli_command(&conn).await?;
    assert_eq!(after.target, format!("{}:{}", promoted.0, promoted.1));
    assert!(run(&after, &["ROLE"])?.starts_with("master"));
    Ok(())
}

#[tokio::test]
async fn tls_options_reach_redis_cli() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = TlsFiles::generate(dir.path(), &["redis.sessiondb.test"])?;
    let tls_port = free_port()?;
    let _server = RedisServer::start(RedisOptions {
        extra_args: files.redis_args(tls_port),
        ..RedisOptions::default()
    })?;
    let mut conn = sessiondb_engine::ConnectionConfig::standalone("127.0.0.1", tls_port);
    conn.tls = Some(TlsConfig {
        ca_file: Some(files.ca_cert.clone()),
        server_name: Some("redis.sessiondb.test".to_owned()),
        ..TlsConfig::default()
    });
    let command = redis_cli_command(&conn).await?;
    assert!(command.args.contains(&"--tls".to_owned()));
    assert!(command.args.windows(2).any(|w| w[0] == "--cacert"));
    assert!(command
        .args
        .windows(2)
        .any(|w| w == ["--sni", "redis.sessiondb.test"]));
    assert_eq!(run(&command, &["PING"])?, "PONG");
    Ok(())
}
