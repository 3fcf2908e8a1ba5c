//! The `redis` section: URLs, mode inference, node lists, TLS, connection config.

mod common;

use common::{config_file, load, load_err};
use secrecy::ExposeSecret;
use sessiondb_engine::config::{ReadFrom, Topology};
use sessiondb_settings::{LoadOptions, NodeAddr, ReadFromMode, RedisMode, Settings};

#[test]
fn url_is_parsed_into_its_parts() {
    let s = load(
        None,
        &[("REDIS_URL", "redis://user:p%40ss@cache.example:6380/2")],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.mode, RedisMode::Standalone);
    assert_eq!(s.redis.host.as_deref(), Some("cache.example"));
    assert_eq!(s.redis.port, 6380);
    assert_eq!(s.redis.db, 2);
    assert_eq!(s.redis.username.as_deref(), Some("user"));
    assert_eq!(s.redis.password.as_ref().unwrap().expose_secret(), "p@ss");
    assert!(!s.redis.tls.enabled);
    let conn = s.connection_config().unwrap();
    assert!(
        matches!(conn.topology, Topology::Standalone { ref host, port: 6380 } if host == "cache.example")
    );
    assert_eq!(conn.database, 2);
    assert!(conn.tls.is_none());
}

#[test]
fn rediss_url_enables_tls_and_defaults_port_and_db() {
    let s = load(
        Some("[redis]\nurl = \"rediss://[::1]\"\ndb = 5\n"),
        &[],
        &[],
    )
    .unwrap();
    assert!(s.redis.tls.enabled);
    assert_eq!(s.redis.host.as_deref(), Some("::1"));
    assert_eq!(s.redis.port, 6379);
    assert_eq!(s.redis.db, 5, "a key beside the URL in the same layer wins");
    assert!(s.connection_config().unwrap().tls.is_some());
}

#[test]
fn url_parts_follow_layer_precedence() {
    // The env URL overrides the file's host; the file's password stays (no credentials
    // in the URL); a SESSIONDB_ variable beats the legacy URL.
    let s = load(
        Some("[redis]\nhost = \"file-host\"\npassword = \"file-pw\"\n"),
        &[
            ("REDIS_URL", "redis://env-host:7000"),
            ("SESSIONDB_REDIS__PORT", "7001"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.host.as_deref(), Some("env-host"));
    assert_eq!(s.redis.port, 7001);
    assert_eq!(
        s.redis.password.as_ref().unwrap().expose_secret(),
        "file-pw"
    );
    // Legacy REDIS_HOST beside legacy REDIS_URL wins; SESSIONDB_REDIS__URL beats both.
    let s = load(
        None,
        &[("REDIS_URL", "redis://a"), ("REDIS_HOST", "b")],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.host.as_deref(), Some("b"));
    let s = load(
        None,
        &[("REDIS_HOST", "b"), ("SESSIONDB_REDIS__URL", "redis://c")],
        &[],
    )
    .unwrap();
    assert_eq!(s.redis.host.as_deref(), Some("c"));
}

#[test]
fn bad_urls_are_rejected_without_printing_them() {
    let cases = [
        (
            "http://u:topsecret@h",
            "the scheme must be redis:// or rediss://",
        ),
        ("redis://u:topsecret@h:99999", "malformed URL"),
        (
            "redis://u:topsecret@h/abc",
            "the path must be a database number",
        ),
        ("redis://u:topsecret@h/?timeout=1", "query parameters"),
        ("redis://:topsecret@", "malformed URL"),
        ("redis://u:topsecret@/0", "malformed URL"),
    ];
    for (url, reason) in cases {
        let msg = load_err(None, &[("REDIS_URL", url)], &[]);
        assert!(msg.contains(reason), "{url}: {msg}");
        assert!(msg.contains("redis.url = <redacted>"), "{msg}");
        assert!(!msg.contains("topsecret"), "{msg}");
    }
    // The parser's reason is kept as the source (it never quotes the URL).
    let err = common::load(None, &[("REDIS_URL", "redis://:topsecret@")], &[]).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "empty host");
    let msg = load_err(None, &[("REDIS_URL", "redis://u:topsecret@h/16")], &[]);
    assert!(
        msg.starts_with(
            "redis.db = 16 is out of range: allowed 0..=15 (set by environment variable REDIS_URL)"
        ),
        "{msg}"
    );
}

#[test]
fn mode_is_inferred_from_the_location_keys() {
    let mode = |env: &[(&str, &str)]| load(None, env, &[]).unwrap().redis.mode;
    assert_eq!(mode(&[]), RedisMode::Embedded);
    assert_eq!(mode(&[("REDIS_HOST", "10.0.0.1")]), RedisMode::Standalone);
    assert_eq!(
        mode(&[("SESSIONDB_REDIS__SENTINELS", "a:26379,b:26379")]),
        RedisMode::Sentinel
    );
    assert_eq!(
        mode(&[("SESSIONDB_REDIS__CLUSTER_NODES", "n1:7000")]),
        RedisMode::Cluster
    );
    // An explicit mode wins; the other modes' keys are then ignored.
    assert_eq!(
        mode(&[
            ("REDIS_HOST", "h"),
            ("SESSIONDB_REDIS__SENTINELS", "s:1"),
            ("SESSIONDB_REDIS__MODE", "Sentinel")
        ]),
        RedisMode::Sentinel
    );
    // Standalone without a host means localhost.
    let s = load(None, &[], &["redis.mode=standalone"]).unwrap();
    assert!(
        matches!(s.connection_config().unwrap().topology, Topology::Standalone { ref host, port: 6379 } if host == "127.0.0.1")
    );

    let msg = load_err(
        None,
        &[("REDIS_HOST", "h"), ("SESSIONDB_REDIS__SENTINELS", "s:1")],
        &[],
    );
    assert!(
        msg.contains(
            "cannot infer redis.mode: redis.host (or redis.url) and redis.sentinels are set"
        ),
        "{msg}"
    );
}

#[test]
fn modes_require_their_keys() {
    let msg = load_err(None, &[], &["redis.mode=sentinel"]);
    assert!(
        msg.contains("redis.sentinels = [] is invalid: list at least one host:port"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["redis.mode=cluster"]);
    assert!(msg.contains("redis.cluster_nodes = [] is invalid"), "{msg}");
    let msg = load_err(None, &[("REDIS_DB", "2")], &["redis.cluster_nodes=a:7000"]);
    assert!(
        msg.contains(
            "redis.db = 2 is out of range: allowed 0..=0 (Redis Cluster has only database 0)"
        ),
        "{msg}"
    );
    let msg = load_err(None, &[], &["redis.tls.enabled=true"]);
    assert!(
        msg.contains("not supported with redis.mode = embedded"),
        "{msg}"
    );
}

#[test]
fn sentinel_lists_are_parsed_and_converted() {
    let s = load(
        Some("[redis]\nsentinels = [\"s1:26379\", \"[fd00::2]:26380\"]\nsentinel_service = \"mymaster\"\nsentinel_password = \"spw\"\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        s.redis.sentinels,
        vec![
            NodeAddr {
                host: "s1".into(),
                port: 26379
            },
            NodeAddr {
                host: "fd00::2".into(),
                port: 26380
            }
        ]
    );
    match s.connection_config().unwrap().topology {
        Topology::Sentinel {
            sentinels,
            service_name,
            sentinel_password,
            ..
        } => {
            assert_eq!(
                sentinels,
                vec![("s1".to_owned(), 26379), ("fd00::2".to_owned(), 26380)]
            );
            assert_eq!(service_name, "mymaster");
            assert_eq!(sentinel_password.unwrap().expose_secret(), "spw");
        }
        other => panic!("unexpected topology {other:?}"),
    }
}

#[test]
fn sentinel_list_parsing_errors_name_the_entry() {
    let cases = [
        (
            "a:26379,b",
            "redis.sentinels = \"b\" is invalid: expected host:port",
        ),
        ("a:0", "the port must be a number in 1..=65535"),
        ("a:http", "the port must be a number"),
        ("::1:26379", "write IPv6 addresses in brackets"),
        (":26379", "non-empty host"),
    ];
    for (list, expected) in cases {
        let msg = load_err(None, &[("SESSIONDB_REDIS__SENTINELS", list)], &[]);
        assert!(msg.contains(expected), "{list}: {msg}");
        assert!(msg.contains("SESSIONDB_REDIS__SENTINELS"), "{msg}");
    }
    let msg = load_err(Some("[redis]\nsentinels = \"a:1\"\n"), &[], &[]);
    assert!(
        msg.contains("expected a list of host:port entries"),
        "{msg}"
    );
    let msg = load_err(Some("[redis]\ncluster_nodes = [\"a:1\", 2]\n"), &[], &[]);
    assert!(
        msg.contains("redis.cluster_nodes = [\"a:1\", 2] is invalid"),
        "{msg}"
    );
}

#[test]
fn tls_files_must_exist_when_enabled() {
    let file = config_file("");
    let ca = file.dir.path().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let toml = "[redis]\nhost = \"h\"\n[redis.tls]\nenabled = true\nca_file = \"ca.pem\"\nserver_name = \"redis.internal\"\n";
    std::fs::write(&file.path, toml).unwrap();
    let options = |overrides: &[&str]| LoadOptions {
        config_file: Some(file.path.clone()),
        env: Vec::new(),
        overrides: common::overrides(overrides),
    };
    // A relative path in the config file is relative to the file.
    let s = Settings::load(&options(&[])).unwrap();
    assert_eq!(s.redis.tls.ca_file.as_deref(), Some(ca.as_path()));
    let tls = s.connection_config().unwrap().tls.unwrap();
    assert_eq!(tls.server_name.as_deref(), Some("redis.internal"));

    let err = Settings::load(&options(&["redis.tls.ca_file=/nonexistent/ca.pem"])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("redis.tls.ca_file = /nonexistent/ca.pem cannot be used"),
        "{msg}"
    );
    assert!(std::error::Error::source(&err).is_some());

    let msg = Settings::load(&options(&["redis.tls.client_cert_file=/x.pem"]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("must be set together"), "{msg}");

    // Disabled TLS does not look at the files.
    Settings::load(&options(&[
        "redis.tls.enabled=false",
        "redis.tls.ca_file=/nonexistent",
    ]))
    .unwrap();
}

#[test]
fn read_from_defaults_to_master_and_reaches_the_connection() {
    let s = load(None, &[("REDIS_HOST", "10.0.0.5")], &[]).unwrap();
    assert_eq!(s.redis.read_from, ReadFromMode::Master);
    assert_eq!(s.connection_config().unwrap().read_from, ReadFrom::Master);

    let s = load(
        Some("[redis]\nsentinels = [\"10.0.0.1:26379\"]\nread_from = \"replica_preferred\"\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        s.connection_config().unwrap().read_from,
        ReadFrom::ReplicaPreferred
    );
    let s = load(
        None,
        &[("SESSIONDB_REDIS__READ_FROM", "replica_preferred")],
        &["redis.host=10.0.0.5"],
    )
    .unwrap();
    assert_eq!(s.redis.read_from, ReadFromMode::ReplicaPreferred);
    let values = s.redacted_values();
    assert!(values
        .iter()
        .any(|(k, v)| *k == "redis.read_from" && v == "replica_preferred"));
}

#[test]
fn read_from_rejects_unknown_values_naming_the_key() {
    let error = load_err(
        None,
        &[],
        &["redis.host=10.0.0.5", "redis.read_from=replica"],
    );
    assert!(error.contains("redis.read_from"), "{error}");
    assert!(error.contains("replica_preferred"), "{error}");
}
