//! Picking free loopback ports.
//!
//! A port is "free" when binding `127.0.0.1:port` succeeds right now. Between
//! picking and the server binding it another process may grab it; callers
//! that picked a port automatically retry with a new one when the server
//! logs `Address already in use`. Ports handed out by this process are
//! remembered for a while so that concurrent callers in the same process
//! (parallel tests) never receive the same port twice.

use std::collections::HashMap;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::LocalError;

/// Redis Cluster listens on `port + 10000` for its bus.
pub(crate) const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// How many candidates to try before giving up.
const ATTEMPTS: u32 = 500;

/// How long a handed-out port stays reserved against other callers in this
/// process; comfortably longer than a server takes to bind it.
const RESERVATION: Duration = Duration::from_secs(60);

/// Ports recently handed out by this process, with when.
static HANDED_OUT: Mutex<Option<HashMap<u16, Instant>>> = Mutex::new(None);

/// Returns a loopback port that is free right now (binds `127.0.0.1:0` and
/// reads the port the kernel chose).
pub fn free_port() -> Result<u16, LocalError> {
    pick(false)
}

/// Returns a free loopback port below 55535 whose cluster bus port
/// (`port + 10000`) is free as well.
pub fn free_cluster_port() -> Result<u16, LocalError> {
    pick(true)
}

fn pick(cluster: bool) -> Result<u16, LocalError> {
    for _ in 0..ATTEMPTS {
        let port = bind_any()?;
        let bus = (port < u16::MAX - CLUSTER_BUS_OFFSET).then(|| port + CLUSTER_BUS_OFFSET);
        if cluster && !bus.is_some_and(is_free) {
            continue;
        }
        let wanted: &[u16] = match (cluster, bus) {
            (true, Some(bus)) => &[port, bus],
            _ => &[port],
        };
        if reserve(wanted) {
            return Ok(port);
        }
    }
    Err(LocalError::NoFreePort { attempts: ATTEMPTS })
}

/// Lets the kernel choose a free port.
fn bind_any() -> Result<u16, LocalError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| LocalError::io("binding 127.0.0.1:0 to find a free port", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LocalError::io("reading the address of a bound socket", e))?;
    Ok(addr.port())
}

fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Reserves all of `ports` unless one of them was handed out recently.
fn reserve(ports: &[u16]) -> bool {
    let mut guard = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    map.retain(|_, at| now.duration_since(*at) < RESERVATION);
    if ports.iter().any(|p| map.contains_key(p)) {
        return false;
    }
    for &p in ports {
        map.insert(p, now);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ports_are_not_handed_out_twice() {
        let ports: HashSet<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        assert_eq!(ports.len(), 50);
    }

    #[test]
    fn cluster_ports_leave_room_for_the_bus() {
        let port = free_cluster_port().unwrap();
        assert!(port < u16::MAX - CLUSTER_BUS_OFFSET);
        assert!(is_free(port + CLUSTER_BUS_OFFSET));
    }
}
