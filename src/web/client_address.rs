//! The client's address, for per-address limits. `X-Forwarded-For` is believed only from
//! the proxies named in `KEYMINT_TRUSTED_PROXIES` (CIDRs; default loopback): starting at
//! the TCP peer, while the current hop is a trusted proxy, the entry it appended (the
//! rightmost one left) names the hop before it. The first untrusted hop is the client.
//! A missing or malformed entry stops the walk at the last hop known, so a request that
//! reaches the port directly is always counted by its TCP peer: nobody chooses their
//! own address, and nobody gets "no address" and with it no limit.

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use std::sync::Arc;

/// The source address of a request, when known (always, when served over TCP).
#[derive(Debug, Clone, Copy)]
pub struct SourceAddress(pub Option<IpAddr>);

/// Proxies whose `X-Forwarded-For` is believed (cheap to clone: requests take it from
/// the application state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl Default for TrustedProxies {
    /// Loopback: a proxy on the same host.
    fn default() -> Self {
        Self(Arc::new([
            "127.0.0.0/8".parse().expect("valid CIDR"),
            "::1/128".parse().expect("valid CIDR"),
        ]))
    }
}

impl std::fmt::Display for TrustedProxies {
    /// The CIDRs as configured (`none` when empty), for `config check`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let nets: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&nets.join(", "))
    }
}

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs or single addresses (`none` trusts none).
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.trim().eq_ignore_ascii_case("none") {
            return Ok(Self(Arc::new([])));
        }
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not a CIDR like 10.0.0.0/8 or an address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| Self(nets.into()))
    }

    fn contains(&self, address: &IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address given the TCP peer and the request headers.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        if !self.contains(&client) {
            return client;
        }
        // Entries in order across every X-Forwarded-For header, walked from the right.
        // Headers are at most 16 KiB in all, so this is bounded.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in entries.iter().rev() {
            match entry.trim().parse::<IpAddr>() {
                Ok(hop) => client = hop,
                Err(_) => break,
            }
            if !self.contains(&client) {
                break;
            }
        }
        client
    }
}

impl<S> FromRequestParts<S> for SourceAddress
where
    S: Send + Sync,
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let proxies = TrustedProxies::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(Self(
            peer.map(|peer| proxies.client_address(peer, &parts.headers)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap();
        let xff = headers(&["203.0.113.9, 10.1.1.1"]);
        // From a trusted proxy: the walk skips trusted hops and stops at the client.
        assert_eq!(
            trusted.client_address(ip("192.0.2.7"), &xff),
            ip("203.0.113.9")
        );
        // Straight to the port: the peer, whatever the header claims.
        assert_eq!(
            trusted.client_address(ip("198.51.100.1"), &xff),
            ip("198.51.100.1")
        );
        // The client's own earlier entries are never believed.
        let spoofed = headers(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &spoofed),
            ip("203.0.113.9")
        );
        // Several headers count as one list, in order.
        let split = headers(&["1.2.3.4", "203.0.113.9"]);
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &split),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn missing_or_malformed_entries_fall_back_to_the_last_known_hop() {
        let trusted = TrustedProxies::default();
        assert_eq!(
            trusted.client_address(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        let garbage = headers(&["not-an-address"]);
        assert_eq!(
            trusted.client_address(ip("127.0.0.1"), &garbage),
            ip("127.0.0.1")
        );
        let partly = headers(&["junk, 10.9.9.9"]);
        assert_eq!(trusted.client_address(ip("::1"), &partly), ip("10.9.9.9"));
        assert_eq!(
            trusted.client_address(ip("::ffff:127.0.0.1"), &headers(&["192.0.2.1"])),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn lists_parse_or_say_what_is_wrong() {
        assert_eq!(
            TrustedProxies::parse("none").unwrap(),
            TrustedProxies(Arc::new([]))
        );
        assert!(
            TrustedProxies::parse("10.0.0.0/33")
                .unwrap_err()
                .contains("10.0.0.0/33")
        );
        assert_eq!(TrustedProxies::parse("::1, 10.0.0.0/8").unwrap().0.len(), 2);
    }
}
