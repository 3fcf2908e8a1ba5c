//! Running `sessiondb local …` in a temporary directory and looking at what
//! it left behind.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sessiondb_local::stack::{parse_env_file, procfs, StackDir};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_sessiondb");

pub use sessiondb_local::testkit::eventually;

/// The result of one command.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{self}");
        self
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} in stdout: {self}"
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "expected {text:?} in stderr: {self}"
        );
        self
    }
}

/// Runs `cmd` to completion.
pub fn output(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A stack directory inside a temporary working directory. Dropping it
/// kills whatever the stack still runs (a failed test leaves nothing).
pub struct Stack {
    pub temp: TempDir,
    pub dir: PathBuf,
    /// Whether commands get `--dir` (false: they use the default).
    explicit_dir: bool,
}

impl Stack {
    /// `./.sessiondb` in a fresh working directory; commands get no `--dir`.
    pub fn in_default_dir() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join(".sessiondb");
        Self {
            temp,
            dir,
            explicit_dir: false,
        }
    }

    /// `<temp>/stack`, passed with `--dir`.
    pub fn in_subdir() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("stack");
        Self {
            temp,
            dir,
            explicit_dir: true,
        }
    }

    /// `up --ha` with fast failure detection (down-after 1 s, fast Sentinel timers),
    /// which must succeed.
    pub fn up_fast_ha(&self) {
        self.run(&[
            "up",
            "--ha",
            "--down-after-ms",
            "1000",
            "--fast-sentinel-timers",
        ])
        .assert_code(0);
    }

    /// Runs `sessiondb local <args>` with a clean environment.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.arg("local").args(args);
        if self.explicit_dir {
            cmd.arg("--dir").arg(&self.dir);
        }
        output(cmd)
    }

    /// `sessiondb` in the working directory, with a clean environment (no
    /// inherited sessiondb or Redis variables).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.temp.path()).env_clear();
        for var in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(value) = std::env::var(var) {
                cmd.env(var, value);
            }
        }
        cmd
    }

    /// `local --json status`, parsed.
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["--json", "status"]);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.join("state.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The port of node `name` (`redis-0`, `sentinel-1`, …).
    pub fn node_port(&self, name: &str) -> String {
        let state = self.state();
        let node = state["topology"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no node {name} in {state}"));
        node["port"].to_string()
    }

    pub fn supervisor_pid(&self) -> u32 {
        pid(&self.state()["supervisor"]["pid"])
    }

    pub fn node_pid(&self, name: &str) -> u32 {
        pid(&self.state()["pids"][name])
    }

    /// The supervisor's and every node's pid, as recorded now.
    pub fn all_pids(&self) -> Vec<u32> {
        let state = self.state();
        let mut pids = vec![pid(&state["supervisor"]["pid"])];
        pids.extend(state["pids"].as_object().unwrap().values().map(pid));
        pids
    }

    /// Waits (with a deadline) until none of `pids` is alive.
    #[track_caller]
    pub fn assert_all_gone(&self, pids: &[u32]) {
        eventually("the processes to be gone", Duration::from_secs(20), || {
            let alive: Vec<u32> = pids
                .iter()
                .copied()
                .filter(|&p| procfs::is_alive(p))
                .collect();
            if alive.is_empty() {
                Ok(())
            } else {
                Err(format!("still alive: {alive:?}"))
            }
        });
    }

    /// The variables in `local.env`.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.dir.join("local.env")).unwrap();
        parse_env_file(&text).unwrap()
    }

    /// One variable of `local.env`.
    pub fn env(&self, name: &str) -> String {
        self.env_vars()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{name} not in local.env"))
    }

    /// Whether the stack was created with `--tls`.
    pub fn tls(&self) -> bool {
        self.state()["topology"]["tls"] == true
    }

    /// `redis-cli` arguments for the stack's TLS (CA and client certificate), or
    /// none for a plaintext stack.
    pub fn tls_args(&self) -> Vec<String> {
        if !self.tls() {
            return Vec::new();
        }
        let file = |name: &str| self.dir.join("tls").join(name).display().to_string();
        vec![
            "--tls".into(),
            "--cacert".into(),
            file("ca.crt"),
            "--cert".into(),
            file("client.crt"),
            "--key".into(),
            file("client.key"),
        ]
    }

    /// `redis-cli -p <port> <args>` authenticated with `REDIS_PASSWORD`
    /// from `local.env`.
    pub fn redis_cli(&self, port: &str, args: &[&str]) -> String {
        self.redis_cli_with(port, args, Some(self.env("REDIS_PASSWORD")))
    }

    pub fn redis_cli_without_password(&self, port: &str, args: &[&str]) -> String {
        self.redis_cli_with(port, args, None)
    }

    fn redis_cli_with(&self, port: &str, args: &[&str], password: Option<String>) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", port])
            .args(self.tls_args())
            .args(args)
            .env_remove("REDISCLI_AUTH");
        if let Some(password) = password {
            cmd.env("REDISCLI_AUTH", password);
        }
        let out = cmd.output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .trim()
        .to_owned()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Kill the supervisor (the kernel then kills its nodes) and any
        // leftover node, whatever state the test left the stack in.
        let Ok(dir) = StackDir::new(&self.dir) else {
            return;
        };
        let Ok(state) = dir.load_state() else { return };
        if let Some(pid) = state.live_supervisor() {
            let _ = procfs::send_signal(pid, "KILL");
            let _ = sessiondb_local::stack::wait_gone(&[pid], Duration::from_secs(10));
        }
        let _ = sessiondb_local::stack::kill_leftovers(&state);
    }
}

fn pid(value: &serde_json::Value) -> u32 {
    u32::try_from(
        value
            .as_u64()
            .unwrap_or_else(|| panic!("not a pid: {value}")),
    )
    .unwrap()
}
