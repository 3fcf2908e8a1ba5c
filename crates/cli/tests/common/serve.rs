//! A running `sessiondb serve`, shared by the test binaries (each includes this file
//! with `#[path]` and uses the part it needs).

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `sessiondb serve` whose stdout lines arrive on a channel and whose
/// stderr is echoed (prefixed) and kept.
pub struct Serve {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    /// The stdout lines read so far.
    pub stdout: Vec<String>,
    /// Every stderr line so far (filled by a reader thread).
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Spawns `cmd serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0`.
    pub fn start(cmd: Command) -> Self {
        Self::start_with(cmd, &[])
    }

    /// Like [`Serve::start`], with more `serve` arguments.
    pub fn start_with(cmd: Command, args: &[&str]) -> Self {
        let listeners = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
        Self::spawn(cmd, &listeners, args)
    }

    /// Like [`Serve::start_with`], but the admin listener is the one the settings
    /// give (`server.admin_listen`).
    pub fn start_with_settings_admin(cmd: Command, args: &[&str]) -> Self {
        Self::spawn(cmd, &["--listen", "127.0.0.1:0"], args)
    }

    fn spawn(mut cmd: Command, listeners: &[&str], args: &[&str]) -> Self {
        let mut child = cmd
            .arg("serve")
            .args(listeners)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[sessiondb] {line}");
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    /// Waits for a stdout line containing `needle` and returns it.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line containing {needle:?}; got {:?}", self.stdout),
            }
        }
    }

    /// The `http://host:port` printed on the banner line starting with `label`.
    pub fn url(&mut self, label: &str) -> String {
        let line = self.wait_for_line(label, Duration::from_secs(30));
        let start = line.find("http://").unwrap();
        let rest = &line[start..];
        let end = rest[7..].find(['/', ' ']).map_or(rest.len(), |i| i + 7);
        rest[..end].to_owned()
    }

    /// The stderr lines read so far, one per line.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "sessiondb did not exit in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    /// Stops sessiondb gracefully (so it stops its embedded redis-server), killing it
    /// only if it does not exit in time.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
