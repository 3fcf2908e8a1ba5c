//! Looking at and signalling processes by pid, without `unsafe`: `/proc`
//! for liveness and command lines, the `kill` utility for signals.
//!
//! A pid recorded in the state file may have been reused by an unrelated
//! process (after a reboot, say), so callers confirm identity with the
//! command line before trusting or signalling a pid.

use std::fs;
use std::process::{Command, Stdio};

use super::StackError;

/// The fields of `/proc/<pid>/stat` after the command name, starting with
/// the state (field 3); `None` when the process is gone.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: comm may contain spaces and parentheses, so the
    // fields start after the last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// True while `pid` exists and is not a zombie.
///
/// A process that has exited but was not reaped yet (state `Z`) counts as
/// gone: it holds no ports, files or memory, and on some systems nobody
/// ever reaps reparented children.
pub fn is_alive(pid: u32) -> bool {
    let state = stat_fields(pid).and_then(|f| f.first().and_then(|s| s.chars().next()));
    !matches!(state, None | Some('Z' | 'X'))
}

/// When `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`). Together with the pid it identifies a process: a
/// reused pid has a different start time.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The command line of `pid` with arguments joined by spaces; `None` when
/// the process is gone.
///
/// Redis rewrites its own (`/usr/bin/redis-server 127.0.0.1:6379`), which
/// is what [`is_redis_on_port`] relies on.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text = String::from_utf8_lossy(&raw);
    Some(
        text.split('\0')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// True when `pid` is alive and is a Redis server or sentinel listening on
/// `port` (judged by its command line).
pub fn is_redis_on_port(pid: u32, port: u16) -> bool {
    is_alive(pid)
        && cmdline(pid).is_some_and(|c| c.contains("redis") && c.contains(&format!(":{port}")))
}

/// True when `pid` is alive and runs `program` with `:<port>` on its
/// command line (a monitoring process of a stack).
pub fn is_program_on_port(pid: u32, program: &str, port: u16) -> bool {
    is_alive(pid)
        && cmdline(pid).is_some_and(|c| c.contains(program) && c.contains(&format!(":{port}")))
}

/// True when `pid` is alive and started at `started` (see [`start_time`]),
/// i.e. it is still the same process and not one that reused its pid.
pub fn is_same_process(pid: u32, started: u64) -> bool {
    is_alive(pid) && start_time(pid) == Some(started)
}

/// Sends `signal` (a name such as `TERM` or `KILL`) to `pid` with the
/// `kill` utility.
pub fn send_signal(pid: u32, signal: &str) -> Result<(), StackError> {
    let context = || format!("sending SIG{signal} to pid {pid}");
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| StackError::io(context(), e))?;
    if status.success() || !is_alive(pid) {
        Ok(())
    } else {
        Err(StackError::io(
            context(),
            std::io::Error::other(format!("kill exited with {status}")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_has_a_command_line_and_start_time() {
        let pid = std::process::id();
        assert!(is_alive(pid));
        assert!(cmdline(pid).is_some_and(|c| !c.is_empty()));
        let started = start_time(pid).unwrap();
        assert!(is_same_process(pid, started));
        assert!(!is_same_process(pid, started + 1));
    }

    #[test]
    fn a_reaped_child_is_gone_and_an_unreaped_one_counts_as_gone() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Exited but not reaped: a zombie, which must count as gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while is_alive(pid) {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.wait().unwrap();
        assert!(!is_alive(pid));
        assert!(cmdline(pid).is_none());
    }

    #[test]
    fn signals_reach_the_process() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        send_signal(child.id(), "TERM").unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}
