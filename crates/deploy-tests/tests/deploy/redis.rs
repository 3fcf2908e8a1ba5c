//! The Redis and Sentinel configs, scripts and command lines from the rendered
//! manifests, run on real `redis-server` / `redis-sentinel` processes on loopback
//! the way the pods run them: each pod's volumes become directories, its stable DNS
//! names become 127.0.0.1 and a free port (the only changes), its init container's
//! script runs first, then the main container's command line.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sessiondb_deploy_tests::objects::{self, containers, ContainerKind, Object};
use sessiondb_deploy_tests::render::test_password;
use sessiondb_local::resp::{info_field, Connection, Reply};
use sessiondb_local::testkit::eventually;
use sessiondb_local::{free_port, SecretString, TlsFiles};
use tempfile::TempDir;

use crate::support;

/// The pods of one test: their processes are killed when it ends.
struct Pods<'a> {
    objects: &'a [Object],
    dir: TempDir,
    /// Stable name (`redis-0.redis-headless`) -> loopback port, for every pod.
    ports: BTreeMap<String, u16>,
    /// Extra files to place into Secret volumes: (secret name, key) -> contents.
    secret_files: BTreeMap<(String, String), Vec<u8>>,
    running: Vec<(String, Child)>,
}

impl Drop for Pods<'_> {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One pod, laid out on disk.
struct Pod {
    name: String,
    template: Value,
    /// Mount path -> directory, longest first.
    mounts: Vec<(String, PathBuf)>,
    port: u16,
}

impl<'a> Pods<'a> {
    fn new(objects: &'a [Object], sets: &[(&str, &str, u16)]) -> Self {
        let mut ports = BTreeMap::new();
        for (set, service, count) in sets {
            for i in 0..*count {
                ports.insert(
                    format!("{set}-{i}.{service}"),
                    free_port().expect("a free port"),
                );
            }
        }
        Self {
            objects,
            dir: tempfile::tempdir().expect("scratch directory"),
            ports,
            secret_files: BTreeMap::new(),
            running: Vec::new(),
        }
    }

    /// Rewrites what a pod would see into what the test runs: stable names into
    /// loopback addresses, mount paths into the pod's directories.
    fn localize(&self, pod: &Pod, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, port) in &self.ports {
            let container_port = if name.contains("sentinel") {
                26379
            } else {
                6379
            };
            out = out.replace(
                &format!("{name}:{container_port}"),
                &format!("127.0.0.1:{port}"),
            );
            out = out.replace(
                &format!("{name} {container_port}"),
                &format!("127.0.0.1 {port}"),
            );
            out = out.replace(name, "127.0.0.1");
        }
        for (mount, dir) in &pod.mounts {
            out = out.replace(mount, &dir.display().to_string());
        }
        out
    }

    /// Lays out pod `ordinal` of StatefulSet `set`.
    fn pod(&self, set: &str, service: &str, ordinal: usize) -> Pod {
        let workload = objects::find(self.objects, "StatefulSet", set).expect("StatefulSet");
        let template = workload.pod_template().expect("pod").clone();
        let name = format!("{set}-{ordinal}");
        let root = self.dir.path().join(&name);
        let mut mounts: Vec<(String, PathBuf)> = Vec::new();
        let volumes = template
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (_, c) in containers(&template) {
            for mount in c["volumeMounts"].as_array().into_iter().flatten() {
                let path = mount["mountPath"].as_str().expect("mountPath").to_owned();
                let volume = mount["name"].as_str().expect("name");
                let dir = root.join(volume);
                if !mounts.iter().any(|(p, _)| *p == path) {
                    mounts.push((path, dir.clone()));
                }
                if dir.exists() {
                    continue;
                }
                fs::create_dir_all(&dir).expect("volume directory");
                let spec = volumes.iter().find(|v| v["name"] == volume);
                if let Some(map) = spec
                    .and_then(|v| v.pointer("/configMap/name"))
                    .and_then(Value::as_str)
                {
                    let map = objects::find(self.objects, "ConfigMap", map).expect("ConfigMap");
                    for (key, value) in map
                        .at("/data")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        fs::write(dir.join(key), value.as_str().expect("text")).expect("write");
                    }
                }
                if let Some(secret) = spec
                    .and_then(|v| v.pointer("/secret/secretName"))
                    .and_then(Value::as_str)
                {
                    let generated = objects::find(self.objects, "Secret", secret);
                    for ((s, key), bytes) in &self.secret_files {
                        if s == secret {
                            fs::write(dir.join(key), bytes).expect("write");
                        }
                    }
                    for (key, _) in generated
                        .and_then(|g| g.at("/data"))
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let text = objects::secret_data(generated.expect("found"), key)
                            .expect("decodable");
                        fs::write(dir.join(key), text.unwrap_or_default()).expect("write");
                    }
                }
            }
        }
        mounts.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let port = self.ports[&format!("{name}.{service}")];
        let pod = Pod {
            name,
            template,
            mounts,
            port,
        };
        // Files from ConfigMaps reference mount paths and names too (aclfile, dir).
        for (_, dir) in &pod.mounts {
            for entry in fs::read_dir(dir).expect("readable").flatten() {
                if let Ok(text) = fs::read_to_string(entry.path()) {
                    fs::write(entry.path(), self.localize(&pod, &text)).expect("write");
                }
            }
        }
        pod
    }

    /// A container's environment as the kubelet sets it, localized.
    fn env(&self, pod: &Pod, container: &Value) -> Vec<(String, String)> {
        objects::container_env(container, |from| {
            if from.pointer("/fieldRef/fieldPath").and_then(Value::as_str) == Some("metadata.name")
            {
                return Some(pod.name.clone());
            }
            let reference = from.get("secretKeyRef")?;
            let secret = objects::find(self.objects, "Secret", reference["name"].as_str()?)?;
            objects::secret_data(secret, reference["key"].as_str()?)
                .ok()
                .flatten()
        })
        .into_iter()
        .map(|(k, v)| (k, self.localize(pod, &v)))
        .collect()
    }

    fn container<'p>(pod: &'p Pod, kind: ContainerKind, name: &str) -> &'p Value {
        containers(&pod.template)
            .into_iter()
            .find(|(k, c)| *k == kind && c["name"] == name)
            .map(|(_, c)| c)
            .unwrap_or_else(|| panic!("{}: no container {name}", pod.name))
    }

    /// Runs a container's command to completion (an init container, a probe).
    fn run(&self, pod: &Pod, container: &Value, command: &[String]) -> std::process::Output {
        let env = self.env(pod, container);
        let command: Vec<String> = command
            .iter()
            .map(|a| self.localize(pod, &objects::expand(a, &env)))
            .collect();
        Command::new(&command[0])
            .args(&command[1..])
            .envs(env)
            .output()
            .unwrap_or_else(|e| panic!("{}: running {command:?}: {e}", pod.name))
    }

    /// Runs the init container named `init` to completion; it must succeed.
    fn init(&self, pod: &Pod, init: &str) -> String {
        let c = Self::container(pod, ContainerKind::Init, init);
        let output = self.run(pod, c, &objects::strings(c, "command"));
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{}: init failed: {log}", pod.name);
        log
    }

    /// Starts the main container `name` with its command line, plus loopback-only
    /// overrides (`extra`), and waits until it answers PING as `login` (password,
    /// user, TLS).
    fn start(
        &mut self,
        pod: &Pod,
        name: &str,
        extra: &[String],
        login: (&str, Option<&str>, bool),
    ) {
        let c = Self::container(pod, ContainerKind::Main, name);
        let env = self.env(pod, c);
        let mut line: Vec<String> = objects::strings(c, "command")
            .into_iter()
            .chain(objects::strings(c, "args"))
            .map(|a| self.localize(pod, &objects::expand(&a, &env)))
            .collect();
        line.extend(extra.iter().cloned());
        line.extend([
            "--bind".into(),
            "127.0.0.1".into(),
            "--logfile".into(),
            String::new(),
        ]);
        let log =
            fs::File::create(self.dir.path().join(format!("{}.log", pod.name))).expect("log file");
        let child = Command::new(&line[0])
            .args(&line[1..])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: starting {}: {e}", pod.name, line[0]));
        self.running.push((pod.name.clone(), child));
        let (password, user, tls) = login;
        eventually(
            &format!("{} to answer PING", pod.name),
            Duration::from_secs(20),
            || match redis_cli(pod.port, password, user, tls, &["PING"]) {
                out if out.trim() == "PONG" => Ok(()),
                out => Err(format!("{out}\n{}", self.log(&pod.name))),
            },
        );
    }

    fn kill(&mut self, name: &str) {
        let (_, mut child) = self.running.remove(
            self.running
                .iter()
                .position(|(n, _)| n == name)
                .expect("running"),
        );
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }
}

/// One redis-cli call on loopback (over TLS when `tls`; the test's own certificate
/// is trusted without a CA check, which the probe scripts do instead).
fn redis_cli(port: u16, password: &str, user: Option<&str>, tls: bool, args: &[&str]) -> String {
    let mut command = Command::new("redis-cli");
    command.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--no-auth-warning",
        "--raw",
    ]);
    if let Some(user) = user {
        command.args(["--user", user]);
    }
    if tls {
        command.args(["--tls", "--insecure"]);
    }
    command.args(args).env("REDISCLI_AUTH", password);
    let output = command.output().expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sentinel_master(port: u16) -> Option<u16> {
    let secret = SecretString::from(test_password("SENTINEL_PASSWORD"));
    let reply = Connection::open("127.0.0.1", port, Some(&secret))
        .ok()?
        .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "sessiondb"])
        .ok()?;
    let items = reply.items()?;
    items.get(1)?.text()?.parse().ok()
}

fn sentinel_field(port: u16, field: &str) -> Option<String> {
    let secret = SecretString::from(test_password("SENTINEL_PASSWORD"));
    let reply = Connection::open("127.0.0.1", port, Some(&secret))
        .ok()?
        .call(&["SENTINEL", "MASTER", "sessiondb"])
        .ok()?;
    let items: Vec<&str> = reply.items()?.iter().filter_map(Reply::text).collect();
    items
        .chunks(2)
        .find(|kv| kv[0] == field)
        .map(|kv| kv[1].to_owned())
}

fn info(port: u16, section: &str) -> Option<String> {
    let secret = SecretString::from(test_password("REDIS_PASSWORD"));
    let reply = Connection::open("127.0.0.1", port, Some(&secret))
        .ok()?
        .call(&["INFO", section])
        .ok()?;
    reply.text().map(str::to_owned)
}

/// The readiness probe of a main container, run as the kubelet would (its port
/// argument mapped to the pod's loopback port).
fn probe_passes(pods: &Pods<'_>, pod: &Pod, name: &str, container_port: &str) -> bool {
    let c = Pods::container(pod, ContainerKind::Main, name);
    let command: Vec<String> = objects::strings(&c["readinessProbe"]["exec"], "command")
        .into_iter()
        .map(|a| {
            if a == container_port {
                pod.port.to_string()
            } else {
                a
            }
        })
        .collect();
    pods.run(pod, c, &command).status.success()
}

const HA_SETS: [(&str, &str, u16); 2] = [
    ("redis", "redis-headless", 3),
    ("redis-sentinel", "redis-sentinel-headless", 3),
];

#[test]
fn ha_configs_elect_a_master_fail_over_and_rejoin_the_old_master_as_replica() {
    let objects_ = support::objects("ha");
    let mut pods = Pods::new(objects_, &HA_SETS);
    let admin = test_password("REDIS_PASSWORD");
    let sentinel_pass = test_password("SENTINEL_PASSWORD");
    let data: Vec<Pod> = (0..3)
        .map(|i| pods.pod("redis", "redis-headless", i))
        .collect();
    for pod in &data {
        let log = pods.init(pod, "init-config");
        assert!(
            log.contains(if pod.name == "redis-0" {
                "as master"
            } else {
                "as replica of"
            }),
            "{log}"
        );
        let extra = vec!["--port".to_owned(), pod.port.to_string()];
        pods.start(pod, "redis", &extra, (&admin, None, false));
        assert!(
            probe_passes(&pods, pod, "redis", "6379"),
            "{}: readiness probe",
            pod.name
        );
    }
    let sentinels: Vec<Pod> = (0..3)
        .map(|i| pods.pod("redis-sentinel", "redis-sentinel-headless", i))
        .collect();
    for pod in &sentinels {
        pods.init(pod, "init-config");
        let extra = vec!["--port".to_owned(), pod.port.to_string()];
        pods.start(pod, "sentinel", &extra, (&sentinel_pass, None, false));
        assert!(
            probe_passes(&pods, pod, "sentinel", "26379"),
            "{}: readiness probe",
            pod.name
        );
    }
    let first = data[0].port;
    eventually(
        "the Sentinels to agree on redis-0 with 2 replicas and 2 peers",
        Duration::from_secs(30),
        || {
            let views: Vec<_> = sentinels
                .iter()
                .map(|s| {
                    (
                        sentinel_master(s.port),
                        sentinel_field(s.port, "num-slaves"),
                        sentinel_field(s.port, "num-other-sentinels"),
                    )
                })
                .collect();
            let agreed = views.iter().all(|(master, replicas, peers)| {
                *master == Some(first)
                    && replicas.as_deref() == Some("2")
                    && peers.as_deref() == Some("2")
            });
            agreed
                .then_some(())
                .ok_or_else(|| format!("(master, replicas, peers) per Sentinel: {views:?}"))
        },
    );
    for pod in &data[1..] {
        let replication = info(pod.port, "replication").expect("INFO");
        assert_eq!(
            info_field(&replication, "master_port"),
            Some(first.to_string().as_str())
        );
    }

    // kill -9 the master: the Sentinels elect one of the replicas.
    pods.kill("redis-0");
    let second = eventually(
        "the Sentinels to fail over",
        Duration::from_secs(60),
        || {
            let masters: Vec<Option<u16>> =
                sentinels.iter().map(|s| sentinel_master(s.port)).collect();
            match masters[0] {
                Some(m) if m != first && masters.iter().all(|x| *x == Some(m)) => Ok(m),
                _ => Err(format!("masters per Sentinel: {masters:?}")),
            }
        },
    );
    assert!(
        data[1..].iter().any(|p| p.port == second),
        "new master {second} is a replica"
    );
    let role = info(second, "replication").expect("INFO");
    assert_eq!(
        info_field(&role, "role"),
        Some("master"),
        "{}",
        pods.log("redis-1")
    );

    // The old master's pod restarts: its init container asks the Sentinels and it
    // comes back as a replica of the new master, not as a second master.
    let log = pods.init(&data[0], "init-config");
    assert!(
        log.contains(&format!("replica of 127.0.0.1:{second}")),
        "{log}"
    );
    let extra = vec!["--port".to_owned(), data[0].port.to_string()];
    pods.start(&data[0], "redis", &extra, (&admin, None, false));
    eventually(
        "redis-0 to replicate from the new master",
        Duration::from_secs(30),
        || {
            let replication = info(data[0].port, "replication").ok_or("INFO replication failed")?;
            (info_field(&replication, "role") == Some("slave")
                && info_field(&replication, "master_port") == Some(second.to_string().as_str())
                && info_field(&replication, "master_link_status") == Some("up"))
            .then_some(())
            .ok_or(replication)
        },
    );
    let secret = SecretString::from(admin);
    // min-replicas-to-write 1: the new master takes writes once a replica has
    // reconnected to it and acknowledged (Sentinel reconfigures them one by one).
    eventually(
        "the new master to accept writes (it has replicas)",
        Duration::from_secs(30),
        || {
            Connection::open("127.0.0.1", second, Some(&secret))
                .and_then(|mut c| c.call(&["SET", "sdb:deploy-test", "written after the failover"]))
                .map_err(|e| e.to_string())
        },
    );
    eventually(
        "the write to reach the old master",
        Duration::from_secs(10),
        || {
            let reply = Connection::open("127.0.0.1", data[0].port, Some(&secret))
                .and_then(|mut c| c.call(&["GET", "sdb:deploy-test"]))
                .map_err(|e| e.to_string())?;
            (reply.text() == Some("written after the failover"))
                .then_some(())
                .ok_or(format!("GET answered {reply:?}"))
        },
    );
}

#[test]
fn production_configs_replicate_and_monitor_over_tls_with_acl_users() {
    let objects_ = support::objects("production");
    let mut pods = Pods::new(
        objects_,
        &[
            ("redis", "redis-headless", 2),
            ("redis-sentinel", "redis-sentinel-headless", 1),
        ],
    );
    let certs = tempfile::tempdir().expect("scratch");
    let tls = TlsFiles::generate(certs.path(), &["localhost", "127.0.0.1"]).expect("certificates");
    for (key, path) in [
        ("tls.crt", &tls.cert),
        ("tls.key", &tls.key),
        ("ca.crt", &tls.ca_cert),
    ] {
        pods.secret_files.insert(
            ("redis-tls".into(), key.into()),
            fs::read(path).expect("PEM"),
        );
    }
    let monitor = test_password("MONITOR_PASSWORD");
    let sentinel_pass = test_password("SENTINEL_PASSWORD");
    let data: Vec<Pod> = (0..2)
        .map(|i| pods.pod("redis", "redis-headless", i))
        .collect();
    for pod in &data {
        pods.init(pod, "init-config");
        // TLS only: the plaintext port stays off, as in the shipped config.
        let extra = vec!["--tls-port".to_owned(), pod.port.to_string()];
        pods.start(pod, "redis", &extra, (&monitor, Some("monitor"), true));
        assert!(
            probe_passes(&pods, pod, "redis", "6379"),
            "{}: readiness probe over TLS",
            pod.name
        );
    }
    eventually(
        "redis-1 to replicate over TLS as the sentinel user",
        Duration::from_secs(20),
        || {
            let out = redis_cli(
                data[1].port,
                &monitor,
                Some("monitor"),
                true,
                &["INFO", "replication"],
            );
            (out.contains("role:slave") && out.contains("master_link_status:up"))
                .then_some(())
                .ok_or(out)
        },
    );
    let app = test_password("APP_PASSWORD");
    // The master takes writes once it counts the replica as good (min-replicas-to-write:
    // the replica's first acknowledgement can follow the link coming up by a second).
    eventually(
        "the master to accept a write from app",
        Duration::from_secs(20),
        || {
            let out = redis_cli(
                data[0].port,
                &app,
                Some("app"),
                true,
                &["SET", "sdb:x", "1"],
            );
            (out.trim() == "OK").then_some(()).ok_or(out)
        },
    );
    let refused = redis_cli(
        data[0].port,
        &monitor,
        Some("monitor"),
        true,
        &["GET", "sdb:x"],
    );
    assert!(refused.contains("NOPERM"), "monitor read a key: {refused}");
    let sentinel = pods.pod("redis-sentinel", "redis-sentinel-headless", 0);
    pods.init(&sentinel, "init-config");
    let extra = vec!["--tls-port".to_owned(), sentinel.port.to_string()];
    pods.start(&sentinel, "sentinel", &extra, (&sentinel_pass, None, true));
    eventually(
        "the Sentinel to see the master and its replica over TLS",
        Duration::from_secs(20),
        || {
            let out = redis_cli(
                sentinel.port,
                &sentinel_pass,
                None,
                true,
                &["SENTINEL", "MASTER", "sessiondb"],
            );
            let lines: Vec<&str> = out.lines().collect();
            let field = |f: &str| lines.windows(2).find(|w| w[0] == f).map(|w| w[1]);
            let seen = field("port") == Some(data[0].port.to_string().as_str())
                && field("num-slaves") == Some("1")
                && field("flags") == Some("master");
            seen.then_some(()).ok_or(out.clone())
        },
    );
}
