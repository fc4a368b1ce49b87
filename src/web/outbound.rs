//! The hosts Keymint may fetch from on a key's behalf (`KEYMINT_OUTBOUND_HOSTS`): whoever
//! may create a key chooses a JWKS URL Keymint then GETs, so an operator can pin those
//! fetches to the hosts their clients really publish on. Unset, any host is allowed
//! (still https only, plain http on loopback).

use std::fmt;
use std::sync::Arc;

/// The allow-list: exact host names, or `*.example.com` for any subdomain of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundHosts(Option<Arc<[String]>>);

impl OutboundHosts {
    /// Parses a comma-separated list; an empty one is refused (unset the variable to
    /// allow any host).
    pub fn parse(list: &str) -> Result<Self, String> {
        let hosts: Vec<String> = list
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            return Err("name at least one host, or leave it unset to allow any".into());
        }
        if let Some(bad) = hosts.iter().find(|h| {
            let name = h.strip_prefix("*.").unwrap_or(h);
            name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        }) {
            return Err(format!(
                "{bad:?} is not a host name (e.g. token.actions.githubusercontent.com or *.example.com)"
            ));
        }
        Ok(Self(Some(hosts.into())))
    }

    /// Whether `url`'s host may be fetched.
    pub fn allows(&self, url: &str) -> bool {
        let Some(hosts) = &self.0 else {
            return true;
        };
        let Some(host) = host_of(url) else {
            return false;
        };
        hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                None => host == *allowed,
            })
    }
}

impl fmt::Display for OutboundHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("any host (https; http only on loopback)"),
            Some(hosts) => f.write_str(&hosts.join(",")),
        }
    }
}

/// The host of an `http(s)://` URL, lower-case, without port or credentials.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        assert!(OutboundHosts::default().allows("https://anything.example/jwks"));
        let list = OutboundHosts::parse("ci.example.com, *.corp.example").unwrap();
        assert!(list.allows("https://ci.example.com/jwks"));
        assert!(list.allows("https://CI.example.com:8443/jwks"));
        assert!(!list.allows("https://evil-ci.example.com/jwks"));
        assert!(!list.allows("https://ci.example.com.evil.test/jwks"));
        assert!(list.allows("https://keys.corp.example/jwks"));
        assert!(!list.allows("https://corp.example/jwks"));
        assert!(!list.allows("https://xcorp.example/jwks"));
        assert!(!list.allows("https://ci.example.com@evil.test/jwks"));
        assert!(OutboundHosts::parse(" , ").is_err());
        assert!(OutboundHosts::parse("https://x.example").is_err());
    }
}
