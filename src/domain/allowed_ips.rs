//! A key's IP allow-list: the networks its token requests may come from (CIDRs, IPv4
//! and IPv6). Empty means any address. Parsed once when the key is read, so the check
//! on the token path is a scan of a few prefixes, no parsing.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Most networks one key may list.
pub const MAX_ALLOWED_NETWORKS: usize = 100;

/// See the module documentation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AllowedIps(Arc<[IpNet]>);

impl AllowedIps {
    /// Any address (no list).
    pub fn any() -> Self {
        Self::default()
    }

    /// Parses CIDRs or single addresses (`10.0.0.0/8`, `2001:db8::/64`, `192.0.2.7`).
    /// A network is stored as written but with its host bits cleared
    /// (`10.1.2.3/8` is `10.0.0.0/8`); duplicates count once. `Err` says which entry is
    /// not a network, or that there are too many.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        if entries.len() > MAX_ALLOWED_NETWORKS {
            return Err(format!(
                "at most {MAX_ALLOWED_NETWORKS} networks may be allowed"
            ));
        }
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "{:?} is not a network like 203.0.113.0/24, 2001:db8::/64 or an address",
                        entry.chars().take(64).collect::<String>()
                    )
                })?
                .trunc();
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(Self(nets.into()))
    }

    /// Reads the stored form (networks separated by spaces; empty or `None` is any).
    pub fn from_stored(stored: Option<&str>) -> Result<Self, String> {
        let entries: Vec<&str> = stored.unwrap_or_default().split_whitespace().collect();
        Self::parse(&entries)
    }

    /// The stored form; `None` for any address.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.to_strings().join(" "))
    }

    /// The networks as text, in the order given.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// True when every address is allowed.
    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request from `address` may use the key. An IPv4 client reaching an IPv6
    /// socket (`::ffff:192.0.2.7`) is its IPv4 address. With a list, an unknown address
    /// (not served over TCP) is refused.
    pub fn allows(&self, address: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(address) = address.map(|a| a.to_canonical()) else {
            return false;
        };
        self.0.iter().any(|net| net.contains(&address))
    }
}

impl fmt::Debug for AllowedIps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_strings()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn networks_of_both_families_allow_their_addresses_only() {
        let list =
            AllowedIps::parse(&["203.0.113.0/24", "2001:db8:1:2::/64", "192.0.2.7"]).unwrap();
        assert!(list.allows(ip("203.0.113.200")));
        assert!(list.allows(ip("::ffff:203.0.113.9")), "v4-mapped is v4");
        assert!(list.allows(ip("2001:db8:1:2:ffff::1")));
        assert!(list.allows(ip("192.0.2.7")));
        assert!(!list.allows(ip("192.0.2.8")));
        assert!(!list.allows(ip("2001:db8:1:3::1")), "the next /64");
        assert!(!list.allows(ip("203.0.114.1")));
        assert!(!list.allows(None));
        assert!(AllowedIps::any().allows(None));
        assert!(AllowedIps::any().allows(ip("198.51.100.1")));
    }

    #[test]
    fn the_stored_form_round_trips_with_host_bits_cleared() {
        let list = AllowedIps::parse(&["10.1.2.3/8", " 2001:db8::1/64", "10.0.0.0/8"]).unwrap();
        assert_eq!(list.to_strings(), ["10.0.0.0/8", "2001:db8::/64"]);
        let stored = list.to_stored().unwrap();
        assert_eq!(AllowedIps::from_stored(Some(&stored)).unwrap(), list);
        assert_eq!(AllowedIps::any().to_stored(), None);
        assert!(AllowedIps::from_stored(None).unwrap().is_any());
    }

    #[test]
    fn bad_entries_and_long_lists_are_refused_with_the_entry() {
        let err = AllowedIps::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(AllowedIps::parse(&["example.com"]).is_err());
        let many: Vec<String> = (0..=MAX_ALLOWED_NETWORKS)
            .map(|i| format!("10.0.{}.0/24", i % 256))
            .collect();
        assert!(AllowedIps::parse(&many).is_err());
    }
}
