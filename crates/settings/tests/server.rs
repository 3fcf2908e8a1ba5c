//! The `[server]` and `[embedded]` sections: limits, CORS origins, listener TLS, the
//! embedded Redis, and the conversion into the HTTP layer's configuration (API keys are
//! in `api_keys.rs`).

mod common;

use std::path::PathBuf;

use common::{config_file, load, load_err};
use ipnet::IpNet;
use sessiondb_settings::{LoadOptions, Settings};

#[test]
fn server_keys_from_every_layer_reach_the_server_section() {
    let toml = "[server]\nmax_body_bytes = 1024\nrequest_timeout_ms = 100\n\
                shutdown_grace_seconds = 0\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
                cors_origins = [\"https://app.example.com\", \"http://localhost:3000\"]\n\
                redeem_rate_per_minute = 100000\n";
    let s = load(
        Some(toml),
        &[
            ("SESSIONDB_SERVER__REDEEM_BURST", "10000"),
            ("SESSIONDB_SERVER__REFRESH_RATE_PER_MINUTE", "1"),
            ("SESSIONDB_SERVER__TRUSTED_PROXIES", "192.168.1.7"),
        ],
        &["server.refresh_burst=1", "server.max_body_bytes=16777216"],
    )
    .unwrap();
    let http = &s.server;
    assert_eq!(http.max_body_bytes, 16_777_216, "the override wins");
    assert_eq!(http.request_timeout_ms, 100);
    assert_eq!(http.shutdown_grace_seconds, 0);
    assert_eq!(
        http.trusted_proxies,
        vec!["192.168.1.7/32".parse::<IpNet>().unwrap()],
        "the environment beats the file"
    );
    assert_eq!(
        http.cors_origins,
        vec!["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(
        (http.redeem_rate_per_minute, http.redeem_burst),
        (100_000, 10_000)
    );
    assert_eq!((http.refresh_rate_per_minute, http.refresh_burst), (1, 1));

    let s = load(
        None,
        &[(
            "SESSIONDB_SERVER__CORS_ORIGINS",
            " https://a.example , https://[::1]:8443,",
        )],
        &[],
    )
    .unwrap();
    assert_eq!(
        s.server.cors_origins,
        vec!["https://a.example", "https://[::1]:8443"]
    );
}

#[test]
fn worker_threads_leave_one_cpu_to_a_redis_on_this_host() {
    let threads = |env: &[(&str, &str)]| {
        let s = load(None, env, &[]).unwrap();
        (
            [1, 2, 8].map(|cpus| s.worker_threads(cpus)),
            s.redis_on_this_host(),
        )
    };
    // The embedded default, and loopback addresses in every mode.
    assert_eq!(threads(&[]), ([1, 1, 7], true));
    for (var, value) in [
        ("SESSIONDB_REDIS__URL", "redis://127.0.0.1:6379"),
        ("SESSIONDB_REDIS__URL", "redis://localhost:6379"),
        ("SESSIONDB_REDIS__URL", "redis://[::1]:6379"),
        ("SESSIONDB_REDIS__URL", "redis://127.0.0.2:6379"),
        ("SESSIONDB_REDIS__SENTINELS", "127.0.0.1:26379,[::1]:26380"),
        (
            "SESSIONDB_REDIS__CLUSTER_NODES",
            "localhost:7000,127.0.0.1:7001",
        ),
    ] {
        assert_eq!(threads(&[(var, value)]), ([1, 1, 7], true), "{var}={value}");
    }
    // Redis elsewhere, or anywhere but only partly here: one thread per CPU.
    for (var, value) in [
        ("SESSIONDB_REDIS__URL", "redis://redis.internal:6379"),
        ("SESSIONDB_REDIS__URL", "redis://10.0.0.5:6379"),
        (
            "SESSIONDB_REDIS__SENTINELS",
            "127.0.0.1:26379,10.0.0.6:26379",
        ),
        ("SESSIONDB_REDIS__CLUSTER_NODES", "10.0.0.7:7000"),
    ] {
        assert_eq!(
            threads(&[(var, value)]),
            ([1, 2, 8], false),
            "{var}={value}"
        );
    }
    // The setting wins either way.
    let s = load(None, &[("SESSIONDB_SERVER__WORKER_THREADS", "3")], &[]).unwrap();
    assert_eq!((s.server.worker_threads, s.worker_threads(8)), (Some(3), 3));
    assert_eq!(s.worker_threads(1), 3);
}

#[test]
fn server_limits_are_range_checked() {
    let cases: &[(&str, &str)] = &[
        (
            "server.max_body_bytes=1023",
            "server.max_body_bytes = 1023 is out of range: allowed 1024..=16777216",
        ),
        ("server.max_body_bytes=16777217", "allowed 1024..=16777216"),
        ("server.request_timeout_ms=99", "allowed 100..=300000"),
        ("server.request_timeout_ms=300001", "allowed 100..=300000"),
        ("server.shutdown_grace_seconds=601", "allowed 0..=600"),
        ("server.redeem_rate_per_minute=0", "allowed 1..=100000"),
        ("server.redeem_burst=10001", "allowed 1..=10000"),
        (
            "server.refresh_rate_per_minute=100001",
            "allowed 1..=100000",
        ),
        ("server.refresh_burst=0", "allowed 1..=10000"),
        ("server.worker_threads=0", "allowed 1..=1024"),
        ("server.worker_threads=1025", "allowed 1..=1024"),
        (
            "embedded.port=65536",
            "embedded.port = 65536 is out of range: allowed 0..=65535",
        ),
    ];
    for (item, expected) in cases {
        let msg = load_err(None, &[], &[item]);
        assert!(msg.contains(expected), "{item}: {msg}");
        assert!(msg.ends_with("(set by command-line override)"), "{msg}");
    }
    let mut s = Settings::default();
    s.server.redeem_burst = 0;
    let msg = s.validate().unwrap_err().to_string();
    assert_eq!(
        msg,
        "server.redeem_burst = 0 is out of range: allowed 1..=10000 (built-in default)"
    );
}

#[test]
fn cors_origins_must_be_http_or_https_origins() {
    let bad = [
        (
            "app.example.com",
            "an origin must start with http:// or https://",
        ),
        (
            "ftp://app.example.com",
            "an origin must start with http:// or https://",
        ),
        ("*", "an origin must start with http:// or https://"),
        (
            "https://app.example.com/",
            "expected scheme://host[:port] with no path",
        ),
        (
            "https://app.example.com/login",
            "expected scheme://host[:port] with no path",
        ),
        ("https://", "expected scheme://host[:port] with no path"),
        (
            "https://*.example.com",
            "expected scheme://host[:port] with no path",
        ),
        (
            "https://a.example:99999",
            "expected scheme://host[:port] with no path",
        ),
    ];
    for (origin, reason) in bad {
        let msg = load_err(
            None,
            &[(
                "SESSIONDB_SERVER__CORS_ORIGINS",
                &format!("https://ok.example,{origin}"),
            )],
            &[],
        );
        assert!(
            msg.starts_with(&format!(
                "server.cors_origins = {origin:?} is invalid: {reason}"
            )),
            "{origin}: {msg}"
        );
        assert!(msg.contains("SESSIONDB_SERVER__CORS_ORIGINS"), "{msg}");
    }
    let msg = load_err(
        Some("[server]\ncors_origins = \"https://a.example\"\n"),
        &[],
        &[],
    );
    assert!(
        msg.contains("expected a list of http:// or https:// origins"),
        "{msg}"
    );
    let msg = load_err(
        Some("[server]\ncors_origins = [\"https://a.example\", 1]\n"),
        &[],
        &[],
    );
    assert!(
        msg.contains("server.cors_origins = [\"https://a.example\", 1] is invalid"),
        "{msg}"
    );

    let mut s = Settings::default();
    s.server.cors_origins.push("example.com".into());
    let msg = s.validate().unwrap_err().to_string();
    assert!(
        msg.starts_with("server.cors_origins = \"example.com\" is invalid"),
        "{msg}"
    );
}

#[test]
fn trusted_proxies_are_addresses_or_networks_from_every_layer() {
    let nets = |list: &[&str]| -> Vec<IpNet> { list.iter().map(|n| n.parse().unwrap()).collect() };
    let s = load(
        Some("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\", \"fd00::/8\"]\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        s.server.trusted_proxies,
        nets(&["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"])
    );
    let shown = s
        .redacted_values()
        .into_iter()
        .find(|(key, _)| *key == "server.trusted_proxies")
        .unwrap();
    assert_eq!(shown.1, "10.0.0.0/8,192.168.1.7/32,fd00::/8");

    let s = load(
        None,
        &[("SESSIONDB_SERVER__TRUSTED_PROXIES", " 10.0.0.0/8 , ::1,")],
        &[],
    )
    .unwrap();
    assert_eq!(s.server.trusted_proxies, nets(&["10.0.0.0/8", "::1/128"]));
    let s = load(
        None,
        &[],
        &["server.trusted_proxies=172.16.0.0/12,192.168.0.0/16"],
    )
    .unwrap();
    assert_eq!(
        s.server.trusted_proxies,
        nets(&["172.16.0.0/12", "192.168.0.0/16"])
    );
    assert!(load(None, &[], &[])
        .unwrap()
        .server
        .trusted_proxies
        .is_empty());
}

#[test]
fn bad_trusted_proxies_are_named_with_the_reason() {
    let cases = [
        (
            "10.0.0.0/33",
            "expected an IP address or a CIDR network, e.g. 192.168.1.7 or 10.0.0.0/8",
        ),
        ("10.0.0.300", "expected an IP address or a CIDR network"),
        ("proxy.internal", "expected an IP address or a CIDR network"),
        ("10.0.0.0/", "expected an IP address or a CIDR network"),
        ("10.0.0.1/8", "host bits are set; the network is 10.0.0.0/8"),
        (
            "2001:db8::1/64",
            "host bits are set; the network is 2001:db8::/64",
        ),
        (
            "::ffff:10.0.0.0/104",
            "an IPv4-mapped IPv6 address; write it as IPv4 (10.0.0.0/8)",
        ),
        (
            "::ffff:10.0.0.1",
            "an IPv4-mapped IPv6 address; write it as IPv4 (10.0.0.1)",
        ),
    ];
    for (entry, reason) in cases {
        let msg = load_err(
            None,
            &[(
                "SESSIONDB_SERVER__TRUSTED_PROXIES",
                &format!("10.0.0.0/8, {entry}"),
            )],
            &[],
        );
        assert!(
            msg.starts_with(&format!(
                "server.trusted_proxies = {entry:?} is invalid: {reason}"
            )),
            "{entry}: {msg}"
        );
        assert!(
            msg.ends_with("(set by environment variable SESSIONDB_SERVER__TRUSTED_PROXIES)"),
            "{msg}"
        );
    }
    let msg = load_err(
        Some("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.1.0.0/33\"]\n"),
        &[],
        &[],
    );
    assert!(
        msg.starts_with("server.trusted_proxies = \"10.1.0.0/33\" is invalid"),
        "{msg}"
    );
    let msg = load_err(
        Some("[server]\ntrusted_proxies = \"10.0.0.0/8\"\n"),
        &[],
        &[],
    );
    assert!(
        msg.contains("expected a list of IP addresses or CIDR networks"),
        "{msg}"
    );
    let msg = load_err(None, &[], &["server.trust_forwarded_for=true"]);
    assert!(
        msg.starts_with("unknown setting `server.trust_forwarded_for`"),
        "{msg}"
    );

    // Settings built in code get the same checks.
    let mut s = Settings::default();
    s.server
        .trusted_proxies
        .push("192.168.1.1/24".parse().unwrap());
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "server.trusted_proxies = \"192.168.1.1/24\" is invalid: host bits are set; \
         the network is 192.168.1.0/24 (built-in default)"
    );
}

#[test]
fn listener_tls_needs_both_files_and_they_must_exist() {
    let file = config_file("");
    let (cert, key) = (
        file.dir.path().join("api.pem"),
        file.dir.path().join("api.key"),
    );
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    std::fs::write(
        &file.path,
        "[server]\ntls_cert_file = \"api.pem\"\ntls_key_file = \"api.key\"\n",
    )
    .unwrap();
    let options = |overrides: &[&str]| LoadOptions {
        config_file: Some(file.path.clone()),
        env: Vec::new(),
        overrides: common::overrides(overrides),
    };
    // Relative paths in the config file are relative to the file.
    let server = Settings::load(&options(&[])).unwrap().server;
    assert_eq!(
        (server.tls_cert_file, server.tls_key_file),
        (Some(cert.clone()), Some(key.clone()))
    );

    let msg = load_err(
        None,
        &[],
        &[&format!("server.tls_cert_file={}", cert.display())],
    );
    assert!(
        msg.starts_with(&format!("server.tls_cert_file = {:?} is invalid: server.tls_cert_file and server.tls_key_file must be set together", cert.display().to_string())),
        "{msg}"
    );
    let msg = load_err(None, &[("SESSIONDB_SERVER__TLS_KEY_FILE", "/k.pem")], &[]);
    assert!(
        msg.starts_with("server.tls_key_file = \"/k.pem\" is invalid"),
        "{msg}"
    );
    assert!(msg.contains("must be set together"), "{msg}");

    let err = Settings::load(&options(&["server.tls_key_file=/nonexistent/api.key"])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("server.tls_key_file = /nonexistent/api.key cannot be used"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
    let dir = file.dir.path().display().to_string();
    let msg = Settings::load(&options(&[&format!("server.tls_cert_file={dir}")]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a regular file"), "{msg}");
}

#[test]
fn embedded_section_defaults_and_layers() {
    let s = load(None, &[], &[]).unwrap();
    assert_eq!(s.embedded.data_dir, PathBuf::from(".sessiondb/embedded"));
    assert!(s.embedded.redis_server.is_none());
    assert_eq!(s.embedded.port, 0);

    let file = config_file("[embedded]\ndata_dir = \"data\"\nport = 6390\n");
    let binary = file.dir.path().join("redis-server");
    std::fs::write(&binary, "").unwrap();
    let s = Settings::load(&LoadOptions {
        config_file: Some(file.path.clone()),
        env: common::env(&[(
            "SESSIONDB_EMBEDDED__REDIS_SERVER",
            &binary.display().to_string(),
        )]),
        overrides: common::overrides(&["embedded.port=0"]),
    })
    .unwrap();
    assert_eq!(s.embedded.data_dir, file.dir.path().join("data"));
    assert_eq!(s.embedded.redis_server.as_deref(), Some(binary.as_path()));
    assert_eq!(s.embedded.port, 0);

    // The binary must exist in embedded mode; the other modes ignore the section.
    let env = [(
        "SESSIONDB_EMBEDDED__REDIS_SERVER",
        "/nonexistent/redis-server",
    )];
    let msg = load_err(None, &env, &[]);
    assert!(
        msg.starts_with("embedded.redis_server = /nonexistent/redis-server cannot be used"),
        "{msg}"
    );
    assert!(msg.ends_with("(set by environment variable SESSIONDB_EMBEDDED__REDIS_SERVER)"));
    load(None, &env, &["redis.mode=standalone"]).unwrap();

    let msg = load_err(Some("[embedded]\ndata_dir = \"\"\n"), &[], &[]);
    assert!(
        msg.contains("embedded.data_dir = \"\" is invalid: must not be empty"),
        "{msg}"
    );
    let msg = load_err(Some("[embedded]\ndatadir = \"x\"\n"), &[], &[]);
    assert!(msg.contains("did you mean embedded.data_dir?"), "{msg}");
}
