//! Which address a request comes from, behind trusted proxies.
//!
//! Each proxy appends the address it received the request from to `X-Forwarded-For`,
//! after whatever the client sent. Only the entries added by trusted proxies can be
//! believed, so the header is read from the right: the rightmost entry that is not a
//! trusted proxy is the client. The leftmost entries are the client's own and never
//! choose the address.

use std::net::{IpAddr, SocketAddr};

use axum::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// The client address header that proxies append to.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client address of a request received from `peer`.
///
/// - `peer` is not in `trusted`: `peer` (any `X-Forwarded-For` is the client's own).
/// - Otherwise the `X-Forwarded-For` entries (several header lines are concatenated in
///   order) are walked from the right, skipping trusted proxies; the first untrusted
///   entry is the client.
/// - An entry that is not an IP address (optionally with a port) stops the walk: the
///   last trusted hop is the client, so garbage never chooses the address.
/// - All entries trusted: the leftmost.
///
/// IPv4-mapped IPv6 addresses count as their IPv4 address, for matching and as result.
pub(crate) fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |addr: &IpAddr| trusted.iter().any(|net| net.contains(addr));
    let mut hop = peer.to_canonical();
    if !is_trusted(&hop) {
        return hop;
    }
    for value in headers.get_all(X_FORWARDED_FOR).iter().rev() {
        let Ok(value) = value.to_str() else {
            return hop;
        };
        for entry in value.rsplit(',') {
            let Some(addr) = parse_hop(entry) else {
                return hop;
            };
            hop = addr;
            if !is_trusted(&hop) {
                return hop;
            }
        }
    }
    hop
}

/// One `X-Forwarded-For` entry: an IP address, or an address and port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) as some proxies write it.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|addr| addr.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("network")).collect()
    }

    fn headers(lines: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                X_FORWARDED_FOR,
                HeaderValue::from_bytes(line).expect("header value"),
            );
        }
        headers
    }

    /// The client address seen from `peer` with these header lines, behind a proxy
    /// tier at 10.0.0.0/8 and one at 192.168.1.7.
    fn client(peer: &str, lines: &[&str]) -> IpAddr {
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        client_addr(
            ip(peer),
            &headers(&lines),
            &nets(&["10.0.0.0/8", "192.168.1.7/32"]),
        )
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("203.0.113.9", &["198.51.100.1"]), ip("203.0.113.9"));
        assert_eq!(client("203.0.113.9", &[]), ip("203.0.113.9"));
        let nobody_trusted = client_addr(ip("10.0.0.1"), &headers(&[b"198.51.100.1"]), &[]);
        assert_eq!(nobody_trusted, ip("10.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        assert_eq!(client("10.0.0.1", &["198.51.100.1"]), ip("198.51.100.1"));
        // A spoofed leftmost entry does not change the answer.
        assert_eq!(
            client("10.0.0.1", &["6.6.6.6, 198.51.100.1"]),
            ip("198.51.100.1")
        );
        // Trusted proxies in the chain are skipped.
        assert_eq!(
            client(
                "10.0.0.1",
                &["6.6.6.6, 198.51.100.1, 192.168.1.7, 10.2.3.4"]
            ),
            ip("198.51.100.1")
        );
        // Header lines are concatenated in order.
        assert_eq!(
            client("10.0.0.1", &["6.6.6.6", "198.51.100.1, 10.9.9.9"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            client("10.0.0.1", &["198.51.100.1, 10.9.9.9", "10.8.8.8"]),
            ip("198.51.100.1")
        );
        // 192.168.1.8 is next to a trusted address, not one.
        assert_eq!(
            client("192.168.1.7", &["198.51.100.1, 192.168.1.8"]),
            ip("192.168.1.8")
        );
    }

    #[test]
    fn ports_ipv6_and_mapped_addresses_are_understood() {
        assert_eq!(
            client("10.0.0.1", &[" 198.51.100.1:4711 ,10.0.0.2"]),
            ip("198.51.100.1")
        );
        assert_eq!(
            client("10.0.0.1", &["[2001:db8::5]:443"]),
            ip("2001:db8::5")
        );
        assert_eq!(client("10.0.0.1", &["2001:db8::5"]), ip("2001:db8::5"));
        // The peer and the entries are compared as IPv4 when IPv4-mapped.
        assert_eq!(
            client("::ffff:10.0.0.1", &["::ffff:10.0.0.2, ::ffff:198.51.100.1"]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        assert_eq!(client("10.0.0.1", &["unknown"]), ip("10.0.0.1"));
        assert_eq!(
            client("10.0.0.1", &["198.51.100.1, garbage, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(client("10.0.0.1", &["198.51.100.1,"]), ip("10.0.0.1"));
        assert_eq!(client("10.0.0.1", &[""]), ip("10.0.0.1"));
        assert_eq!(client("10.0.0.1", &["198.51.100.1/24"]), ip("10.0.0.1"));
        let not_text = client_addr(
            ip("10.0.0.1"),
            &headers(&[b"198.51.100.1", b"\xff 10.0.0.3"]),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(not_text, ip("10.0.0.1"));
    }

    #[test]
    fn all_trusted_gives_the_leftmost() {
        assert_eq!(
            client("10.0.0.1", &["10.0.0.3, 192.168.1.7, 10.0.0.2"]),
            ip("10.0.0.3")
        );
        assert_eq!(client("10.0.0.1", &[]), ip("10.0.0.1"));
    }
}
