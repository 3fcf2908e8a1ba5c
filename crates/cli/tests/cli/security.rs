//! Bad connection-security input — a wrong or missing password, a server certificate
//! from another CA, an expired one, one for another name — against a redis-server
//! serving TLS with the six ACL users: one error line naming the user, variable, file or
//! name (never a password), exit 2, `serve` stops before listening, and a writing
//! command writes nothing (checked through a separate admin connection).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use secrecy::SecretString;
use sessiondb_acl::{DefaultUser, Passwords, Role};
use sessiondb_engine::{ConnectionConfig, Engine, EngineConfig, NewSession, UserId};
use sessiondb_local::{free_port, RedisOptions, RedisServer, TlsFiles};

use crate::support::{output_within, sessiondb};

/// The name in the server certificates.
const NAME: &str = "redis.sessiondb.test";

/// The password a bad-password case sends; it must never be printed.
const WRONG: &str = "wrong-pw-4f8";

fn password(role: Role) -> String {
    format!("{}-pw-4f8", role.user())
}

/// A redis-server serving TLS on `tls_port` (its plain port is for the admin
/// connection), with the `default` user off and the six role users.
struct Secured {
    server: RedisServer,
    /// Where the commands run and the certificates live.
    dir: tempfile::TempDir,
    files: TlsFiles,
    tls_port: u16,
}

impl Secured {
    /// With a certificate for [`NAME`] from a fresh CA.
    fn start() -> Self {
        Self::start_with(|dir| TlsFiles::generate(dir, &[NAME]).unwrap())
    }

    /// With the certificate files `make` writes.
    fn start_with(make: impl FnOnce(&Path) -> TlsFiles) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = make(dir.path());
        let acl = dir.path().join("users.acl");
        // An open default user until the server is up (the fixture's readiness probe),
        // then the users of `acl generate`.
        std::fs::write(&acl, "user default on nopass ~* &* +@all\n").unwrap();
        let tls_port = free_port().unwrap();
        let server = RedisServer::start(RedisOptions {
            extra_args: files.redis_args(tls_port),
            acl_file: Some(acl.clone()),
            ..RedisOptions::default()
        })
        .unwrap();
        let passwords = Passwords::from_fn(|role| Some(SecretString::from(password(role))));
        let users = sessiondb_acl::render_with(&passwords, "sdb", DefaultUser::Off).unwrap();
        std::fs::write(&acl, users).unwrap();
        server.cli(&["ACL", "LOAD"]).unwrap();
        Self {
            server,
            dir,
            files,
            tls_port,
        }
    }

    /// The binary, pointed at the TLS port with the right CA and server name and no
    /// credentials.
    fn sessiondb(&self) -> Command {
        let mut cmd = sessiondb(self.dir.path());
        cmd.env("REDIS_HOST", "127.0.0.1")
            .env("REDIS_PORT", self.tls_port.to_string())
            .env("SESSIONDB_REDIS__TLS__ENABLED", "true")
            .env("SESSIONDB_REDIS__TLS__CA_FILE", &self.files.ca_cert)
            .env("SESSIONDB_REDIS__TLS__SERVER_NAME", NAME);
        cmd
    }

    /// [`Secured::sessiondb`] logged in as `admin`, with `role`'s password set too.
    fn as_admin_with(&self, role: Role) -> Command {
        let mut cmd = self.sessiondb();
        cmd.env("SESSIONDB_REDIS__USERNAME", "admin")
            .env(Role::Admin.env_var(), password(Role::Admin))
            .env(role.env_var(), password(role));
        cmd
    }

    /// `Redis at 127.0.0.1:<tls port>`, as errors name the server.
    fn named(&self) -> String {
        format!("Redis at 127.0.0.1:{}", self.tls_port)
    }

    /// Runs a command as `admin` on the plain port: the separate connection that checks
    /// what the commands under test did.
    fn admin(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.server.port().to_string(), "--no-auth-warning"])
            .args(["--user", "admin"])
            .args(args)
            .env("REDISCLI_AUTH", password(Role::Admin))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Every key, sorted.
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.admin(&["--scan"]).lines().map(str::to_owned).collect();
        keys.sort();
        keys
    }

    /// Creates `n` sessions as `admin` through the plain port.
    fn populate(&self, n: usize) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut conn = ConnectionConfig::standalone("127.0.0.1", self.server.port());
            conn.username = Some("admin".to_owned());
            conn.password = Some(SecretString::from(password(Role::Admin)));
            let engine = Engine::connect(&conn, EngineConfig::default())
                .await
                .unwrap();
            for _ in 0..n {
                engine
                    .create(NewSession {
                        user_id: UserId::parse("alice").unwrap(),
                        data: serde_json::Map::new(),
                        metadata: sessiondb_engine::SessionMetadata::default(),
                        idle_ttl: None,
                    })
                    .await
                    .unwrap();
            }
            engine.shutdown().await.unwrap();
        });
    }
}

/// A CA file that did not sign the server's certificate.
fn other_ca(dir: &Path) -> PathBuf {
    let other = dir.join("other");
    std::fs::create_dir(&other).unwrap();
    TlsFiles::generate(&other, &[NAME]).unwrap().ca_cert
}

/// A CA and a server certificate for [`NAME`] signed by it that expired on 2021-01-01.
fn expired_files(dir: &Path) -> TlsFiles {
    TlsFiles::generate_expired(dir, &[NAME]).unwrap()
}

fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args);
    let out = output_within(cmd, Duration::from_secs(30));
    eprintln!(
        "sessiondb {args:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts exit 2 and a stderr of exactly `sessiondb: error: <message>`, with no
/// password in any output.
fn assert_one_error(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, format!("sessiondb: error: {message}\n"));
    assert_no_password(out);
}

fn assert_no_password(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(WRONG), "a password in the output: {all}");
    for role in Role::ALL {
        assert!(
            !all.contains(&password(role)),
            "a password in the output: {all}"
        );
    }
}

/// `serve` with `cmd`'s settings: exit 2, one error line, and no listening line.
fn assert_serve_refused(cmd: Command, message: &str) {
    let out = run(
        cmd,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ],
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "{out:?}"
    );
    assert_one_error(&out, message);
}

const LOGIN_REFUSED: &str = "wrong password, or the user does not exist or is disabled";

#[test]
fn serve_exits_2_before_listening_on_a_wrong_password_ca_or_name() {
    let redis = Secured::start();
    let connecting = "connecting to Redis: cannot connect to the session store";

    let mut wrong_password = redis.sessiondb();
    wrong_password
        .env("SESSIONDB_REDIS__USERNAME", "app")
        .env("SESSIONDB_REDIS__PASSWORD", WRONG);
    assert_serve_refused(
        wrong_password,
        &format!(
            "{connecting}: {} refused the login of user `app` with the password from \
             redis.password: {LOGIN_REFUSED}",
            redis.named()
        ),
    );

    let other_ca = other_ca(redis.dir.path());
    let mut untrusted = redis.sessiondb();
    untrusted
        .env("SESSIONDB_REDIS__USERNAME", "app")
        .env("SESSIONDB_REDIS__PASSWORD", password(Role::App))
        .env("SESSIONDB_REDIS__TLS__CA_FILE", &other_ca);
    assert_serve_refused(
        untrusted,
        &format!(
            "{connecting}: the TLS certificate of {} is not signed by a CA in \
             redis.tls.ca_file ({})",
            redis.named(),
            other_ca.display()
        ),
    );

    let mut wrong_name = redis.sessiondb();
    wrong_name
        .env("SESSIONDB_REDIS__USERNAME", "app")
        .env("SESSIONDB_REDIS__PASSWORD", password(Role::App))
        .env("SESSIONDB_REDIS__TLS__SERVER_NAME", "other.sessiondb.test");
    assert_serve_refused(
        wrong_name,
        &format!(
            "{connecting}: the TLS certificate of {} is not valid for other.sessiondb.test \
             (redis.tls.server_name); it is valid for {NAME}",
            redis.named()
        ),
    );
}

#[test]
fn restore_with_a_wrong_admin_password_ca_or_name_writes_nothing() {
    let redis = Secured::start();
    redis.populate(3);
    let backup = redis.dir.path().join("sessions.sdbbak");
    let out = run(
        redis.as_admin_with(Role::Backup),
        &["backup", "--out", backup.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(redis.admin(&["FLUSHALL"]), "OK");
    let file = backup.to_str().unwrap();
    let connecting = "connecting to the deployment";

    let mut wrong_password = redis.sessiondb();
    wrong_password
        .env("SESSIONDB_REDIS__USERNAME", "admin")
        .env("REDIS_PASSWORD", WRONG);
    let out = run(wrong_password, &["restore", file]);
    assert_one_error(
        &out,
        &format!(
            "{connecting}: {} refused the login of user `admin` with the password from \
             REDIS_PASSWORD (acl.admin_password): {LOGIN_REFUSED}",
            redis.named()
        ),
    );
    assert_eq!(redis.admin(&["DBSIZE"]), "0", "nothing is written");

    let other_ca = other_ca(redis.dir.path());
    let mut untrusted = redis.as_admin_with(Role::Admin);
    untrusted.env("SESSIONDB_REDIS__TLS__CA_FILE", &other_ca);
    let out = run(untrusted, &["restore", file]);
    assert_one_error(
        &out,
        &format!(
            "{connecting}: the TLS certificate of {} is not signed by a CA in \
             redis.tls.ca_file ({})",
            redis.named(),
            other_ca.display()
        ),
    );
    assert_eq!(redis.admin(&["DBSIZE"]), "0", "nothing is written");

    let mut wrong_name = redis.as_admin_with(Role::Admin);
    wrong_name.env("SESSIONDB_REDIS__TLS__SERVER_NAME", "other.sessiondb.test");
    let out = run(wrong_name, &["restore", file]);
    assert_one_error(
        &out,
        &format!(
            "{connecting}: the TLS certificate of {} is not valid for other.sessiondb.test \
             (redis.tls.server_name); it is valid for {NAME}",
            redis.named()
        ),
    );
    assert_eq!(redis.admin(&["DBSIZE"]), "0", "nothing is written");

    // The same restore with the right settings writes: the checks above could fail.
    let out = run(redis.as_admin_with(Role::Admin), &["restore", file]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ne!(redis.admin(&["DBSIZE"]), "0");
}

#[test]
fn cleanup_with_a_wrong_role_password_writes_nothing() {
    let redis = Secured::start();
    redis.populate(2);
    let before = redis.keys();
    assert!(
        !before.contains(&"sdb:cleanup:last".to_owned()),
        "{before:?}"
    );

    let mut wrong = redis.as_admin_with(Role::Cleanup);
    wrong.env(Role::Cleanup.env_var(), WRONG);
    let out = run(wrong, &["cleanup"]);
    assert_one_error(
        &out,
        &format!(
            "connecting to Redis: {} refused the login of user `cleanup` with the password \
             from CLEANUP_PASSWORD (acl.cleanup_password): {LOGIN_REFUSED}",
            redis.named()
        ),
    );
    assert_eq!(redis.keys(), before, "nothing is written");

    let out = run(redis.as_admin_with(Role::Cleanup), &["cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(redis.keys().contains(&"sdb:cleanup:last".to_owned()));
}

#[test]
fn an_expired_server_certificate_is_named_and_nothing_is_written() {
    let redis = Secured::start_with(expired_files);
    redis.populate(1);
    let before = redis.keys();
    let expired = format!(
        "the TLS certificate of {} has expired (valid until 2021-01-01T00:00:00Z)",
        redis.named()
    );

    let mut serve = redis.sessiondb();
    serve
        .env("SESSIONDB_REDIS__USERNAME", "app")
        .env("SESSIONDB_REDIS__PASSWORD", password(Role::App));
    assert_serve_refused(
        serve,
        &format!("connecting to Redis: cannot connect to the session store: {expired}"),
    );

    let out = run(redis.as_admin_with(Role::Cleanup), &["cleanup"]);
    assert_one_error(&out, &format!("connecting to Redis: {expired}"));
    assert_eq!(redis.keys(), before, "nothing is written");
}

#[test]
fn a_missing_or_wrong_role_password_names_its_variable() {
    let redis = Secured::start();
    let missing_monitor = "the password of the `monitor` ACL user is not set: set \
                           MONITOR_PASSWORD (or acl.monitor_password in the configuration file)";

    // acl generate needs all six.
    let mut generate = redis.sessiondb();
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Monitor) {
        generate.env(role.env_var(), password(role));
    }
    let out = run(generate, &["acl", "generate", "--out", "new.acl"]);
    assert_one_error(&out, missing_monitor);
    assert!(
        !redis.dir.path().join("new.acl").exists(),
        "nothing is written"
    );

    // --role monitor needs the monitor password.
    let out = run(
        redis.as_admin_with(Role::Admin),
        &["--json", "redis-cli", "--role", "monitor"],
    );
    assert_one_error(&out, &format!("--role monitor: {missing_monitor}"));

    // health logs in as monitor; without its password, as the configured user, here
    // the disabled default user.
    let mut health = redis.sessiondb();
    health.env("REDIS_PASSWORD", password(Role::Admin));
    let out = run(health, &["health"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{} refused the login of user `default` with the password from redis.password, \
             as acl.monitor_password (MONITOR_PASSWORD) is not set: {LOGIN_REFUSED}",
            redis.named()
        )),
        "{stdout}"
    );
    assert_no_password(&out);

    // A wrong APP_PASSWORD, as acl verify uses it.
    let mut verify = redis.as_admin_with(Role::Admin);
    verify.env(Role::App.env_var(), WRONG);
    let out = run(verify, &["acl", "verify", "--role", "app"]);
    assert_one_error(
        &out,
        &format!(
            "connecting to Redis: checking `app`: {} refused the login of user `app` with \
             the password from APP_PASSWORD (acl.app_password): {LOGIN_REFUSED}",
            redis.named()
        ),
    );
}
