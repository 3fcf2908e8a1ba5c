//! TLS towards Redis: the server certificate is checked against the configured CA and
//! server name; a mismatch fails the connection instead of sending anything.

#![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

use std::time::Duration;

use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, TlsConfig};
use sessiondb_local::{free_port, RedisOptions, RedisServer, TlsFiles};

struct TlsRedis {
    _server: RedisServer,
    _dir: tempfile::TempDir,
    files: TlsFiles,
    tls_port: u16,
}

fn start() -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles::generate(dir.path(), &["redis.sessiondb.test"]).unwrap();
    let tls_port = free_port().unwrap();
    let server = RedisServer::start(RedisOptions {
        extra_args: files.redis_args(tls_port),
        ..RedisOptions::default()
    })
    .unwrap();
    TlsRedis {
        _server: server,
        _dir: dir,
        files,
        tls_port,
    }
}

fn connection(redis: &TlsRedis, tls: TlsConfig) -> ConnectionConfig {
    let mut c = ConnectionConfig::standalone("127.0.0.1", redis.tls_port);
    c.tls = Some(tls);
    c.command_timeout = Duration::from_secs(1);
    c
}

async fn connects(c: &ConnectionConfig) -> bool {
    let attempt = Engine::connect(c, EngineConfig::default());
    matches!(
        tokio::time::timeout(Duration::from_secs(5), attempt).await,
        Ok(Ok(_))
    )
}

#[tokio::test]
async fn engine_connects_over_tls_with_the_right_ca_and_name() {
    let redis = start();
    let good = connection(
        &redis,
        TlsConfig {
            ca_file: Some(redis.files.ca_cert.clone()),
            server_name: Some("redis.sessiondb.test".into()),
            ..TlsConfig::default()
        },
    );
    assert!(connects(&good).await);
}

#[tokio::test]
async fn engine_refuses_a_certificate_for_another_name() {
    let redis = start();
    let wrong_name = connection(
        &redis,
        TlsConfig {
            ca_file: Some(redis.files.ca_cert.clone()),
            server_name: Some("other.sessiondb.test".into()),
            ..TlsConfig::default()
        },
    );
    assert!(!connects(&wrong_name).await);
}

#[tokio::test]
async fn engine_refuses_a_certificate_from_an_untrusted_ca() {
    let redis = start();
    let system_roots = connection(
        &redis,
        TlsConfig {
            server_name: Some("redis.sessiondb.test".into()),
            ..TlsConfig::default()
        },
    );
    assert!(!connects(&system_roots).await);
}

#[test]
fn a_missing_ca_file_is_an_error_naming_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let c = {
        let mut c = ConnectionConfig::standalone("127.0.0.1", 1);
        c.tls = Some(TlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        });
        c
    };
    let err = runtime
        .block_on(Engine::connect(&c, EngineConfig::default()))
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
