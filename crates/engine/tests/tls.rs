//! TLS and logins towards Redis: the server certificate is checked against the
//! configured CA and server name, and a mismatch fails the connection instead of sending
//! anything. A refused certificate or login is a [`Refusal`] naming the server and what
//! to check (the CA file, the name, the user and where its password comes from), never
//! the password.

#![allow(clippy::unwrap_used)] // test set-up: a failure should abort the test

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, Error, Refusal, TlsConfig};
use sessiondb_local::{free_port, RedisOptions, RedisServer, TlsFiles};

/// The name in every server certificate here.
const NAME: &str = "redis.sessiondb.test";

struct TlsRedis {
    server: RedisServer,
    _dir: tempfile::TempDir,
    files: TlsFiles,
    tls_port: u16,
}

/// A redis-server serving TLS with a certificate for [`NAME`] from a fresh CA.
fn start() -> TlsRedis {
    start_with(None, |dir| TlsFiles::generate(dir, &[NAME]).unwrap())
}

/// A redis-server serving TLS with the files `make` writes into its directory, and
/// `requirepass` when `password` is given.
fn start_with(password: Option<&str>, make: impl FnOnce(&Path) -> TlsFiles) -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    let files = make(dir.path());
    let tls_port = free_port().unwrap();
    let server = RedisServer::start(RedisOptions {
        extra_args: files.redis_args(tls_port),
        password: password.map(|p| SecretString::from(p.to_owned())),
        ..RedisOptions::default()
    })
    .unwrap();
    TlsRedis {
        server,
        _dir: dir,
        files,
        tls_port,
    }
}

/// A CA and a server certificate for [`NAME`] signed by it that expired on 2021-01-01.
fn expired_files(dir: &Path) -> TlsFiles {
    TlsFiles::generate_expired(dir, &[NAME]).unwrap()
}

fn connection(redis: &TlsRedis, tls: TlsConfig) -> ConnectionConfig {
    let mut c = ConnectionConfig::standalone("127.0.0.1", redis.tls_port);
    c.tls = Some(tls);
    c.command_timeout = Duration::from_secs(1);
    c
}

/// The configuration that connects: the right CA and name.
fn trusting(redis: &TlsRedis) -> TlsConfig {
    TlsConfig {
        ca_file: Some(redis.files.ca_cert.clone()),
        server_name: Some(NAME.into()),
        ..TlsConfig::default()
    }
}

/// What connecting with `c` fails with (panics if it connects or hangs).
async fn refusal(c: &ConnectionConfig) -> Error {
    let attempt = Engine::connect(c, EngineConfig::default());
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(_)) => panic!("connected"),
        Ok(Err(error)) => error,
        Err(_) => panic!("no answer within 5 s"),
    }
}

fn server(redis: &TlsRedis) -> String {
    format!("Redis at 127.0.0.1:{}", redis.tls_port)
}

#[tokio::test]
async fn engine_connects_over_tls_with_the_right_ca_and_name() {
    let redis = start();
    let good = connection(&redis, trusting(&redis));
    let attempt = Engine::connect(&good, EngineConfig::default());
    let engine = tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .unwrap()
        .unwrap();
    engine.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_naming_the_expected_name() {
    let redis = start();
    let wrong_name = connection(
        &redis,
        TlsConfig {
            server_name: Some("other.sessiondb.test".into()),
            ..trusting(&redis)
        },
    );
    let error = refusal(&wrong_name).await;
    let Error::Refused(Refusal::WrongServerName {
        server: s,
        expected,
        configured,
        valid_for,
    }) = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(s, &server(&redis));
    assert_eq!(expected.as_deref(), Some("other.sessiondb.test"));
    assert!(configured);
    assert_eq!(valid_for, &[NAME.to_owned()]);
    assert_eq!(
        error.to_string(),
        format!(
            "the TLS certificate of {} is not valid for other.sessiondb.test \
             (redis.tls.server_name); it is valid for {NAME}",
            server(&redis)
        )
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn without_a_server_name_the_host_is_checked_and_named() {
    let redis = start();
    let by_address = connection(
        &redis,
        TlsConfig {
            server_name: None,
            ..trusting(&redis)
        },
    );
    let error = refusal(&by_address).await;
    assert!(
        matches!(
            &error,
            Error::Refused(Refusal::WrongServerName { expected: Some(name), configured: false, .. })
                if name == "127.0.0.1"
        ),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("redis.tls.server_name is not set"));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_naming_the_ca_file() {
    let redis = start();
    let other = tempfile::tempdir().unwrap();
    let other_ca = TlsFiles::generate(other.path(), &[NAME]).unwrap().ca_cert;
    let untrusted = connection(
        &redis,
        TlsConfig {
            ca_file: Some(other_ca.clone()),
            ..trusting(&redis)
        },
    );
    let error = refusal(&untrusted).await;
    assert!(
        matches!(
            &error,
            Error::Refused(Refusal::UntrustedCertificate { server: s, ca_file: Some(path) })
                if *s == server(&redis) && *path == other_ca
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the TLS certificate of {} is not signed by a CA in redis.tls.ca_file ({})",
            server(&redis),
            other_ca.display()
        )
    );
}

#[tokio::test]
async fn without_a_ca_file_the_system_roots_refuse_a_private_ca() {
    let redis = start();
    let system_roots = connection(
        &redis,
        TlsConfig {
            ca_file: None,
            ..trusting(&redis)
        },
    );
    let error = refusal(&system_roots).await;
    // A machine without system CA certificates refuses before connecting.
    let refused = matches!(
        &error,
        Error::Refused(Refusal::UntrustedCertificate { ca_file: None, .. })
    ) || matches!(&error, Error::InvalidInput(i) if i.field == "redis.tls.ca_file");
    assert!(refused, "{error:?}");
    assert!(error.to_string().contains("redis.tls.ca_file"), "{error}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused_saying_when_it_expired() {
    let redis = start_with(None, expired_files);
    let error = refusal(&connection(&redis, trusting(&redis))).await;
    let expired_at = UNIX_EPOCH + Duration::from_secs(1_609_459_200); // 2021-01-01
    assert!(
        matches!(
            &error,
            Error::Refused(Refusal::ExpiredCertificate { server: s, not_after: Some(t) })
                if *s == server(&redis) && *t == expired_at
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the TLS certificate of {} has expired (valid until 2021-01-01T00:00:00Z)",
            server(&redis)
        )
    );
    assert!(SystemTime::now() > expired_at);
}

#[tokio::test]
async fn tls_towards_a_plaintext_port_asks_whether_it_is_a_tls_port() {
    let redis = start();
    let plain_port = redis.server.port();
    let mut plaintext = connection(&redis, trusting(&redis));
    plaintext.topology = ConnectionConfig::standalone("127.0.0.1", plain_port).topology;
    let error = refusal(&plaintext).await;
    let expected = format!("Redis at 127.0.0.1:{plain_port}");
    assert!(
        matches!(
            &error,
            Error::Refused(Refusal::NoTlsAnswer { server: s, waited })
                if *s == expected && *waited == Duration::from_secs(1)
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{expected} did not answer within 1000 ms over TLS (redis.tls.enabled is on, or \
             the URL is rediss://): is that port a TLS port? A plaintext Redis never answers \
             a TLS handshake"
        )
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_naming_the_user_and_where_it_came_from() {
    let redis = start_with(Some("right-pw-31a"), |dir| {
        TlsFiles::generate(dir, &[NAME]).unwrap()
    });
    let mut wrong = connection(&redis, trusting(&redis));
    wrong.password = Some(SecretString::from("wrong-pw-31a".to_owned()));
    wrong.password_from = Some("TEST_PASSWORD".to_owned());
    let error = refusal(&wrong).await;
    assert!(
        matches!(
            &error,
            Error::Refused(Refusal::WrongPassword { user, password_from: Some(from), .. })
                if user == "default" && from == "TEST_PASSWORD"
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "{} refused the login of user `default` with the password from TEST_PASSWORD: \
             wrong password, or the user does not exist or is disabled",
            server(&redis)
        )
    );
    assert!(!format!("{error:?}").contains("wrong-pw-31a"));

    let mut none = connection(&redis, trusting(&redis));
    none.password_from = Some("TEST_PASSWORD".to_owned());
    let error = refusal(&none).await;
    assert!(
        matches!(&error, Error::Refused(Refusal::NoPassword { user, .. }) if user == "default"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{} requires a password, and none is set for user `default` \
             (expected from TEST_PASSWORD)",
            server(&redis)
        )
    );

    let mut right = connection(&redis, trusting(&redis));
    right.password = Some(SecretString::from("right-pw-31a".to_owned()));
    let engine = Engine::connect(&right, EngineConfig::default())
        .await
        .unwrap();
    engine.shutdown().await.unwrap();
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

#[test]
fn a_ca_file_without_certificates_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut c = ConnectionConfig::standalone("127.0.0.1", 1);
    c.tls = Some(TlsConfig {
        ca_file: Some(empty.clone()),
        ..TlsConfig::default()
    });
    let err = runtime
        .block_on(Engine::connect(&c, EngineConfig::default()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "redis.tls cannot use CA file {}: it holds no PEM certificate",
            empty.display()
        )
    );
}
