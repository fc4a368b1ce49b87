//! HTTP Basic client authentication (RFC 6749 §2.3.1, `client_secret_basic`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use crate::oauth::params::form_decode;

/// Decodes an `Authorization: Basic` value into (client id, secret). Per RFC 6749
/// §2.3.1 both halves are form-urlencoded before base64 encoding.
/// `Ok(None)` when the scheme is not Basic.
pub fn parse_basic(header: &str) -> Result<Option<(String, String)>, &'static str> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let encoded = rest.trim();
    let raw = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| "malformed Basic authorization header: not base64")?;
    let colon = raw
        .iter()
        .position(|&b| b == b':')
        .ok_or("malformed Basic authorization header: no ':' between client id and secret")?;
    let not_utf8 = "malformed Basic authorization header: not UTF-8";
    let id = form_decode(&raw[..colon]).ok_or(not_utf8)?.into_owned();
    let secret = form_decode(&raw[colon + 1..]).ok_or(not_utf8)?.into_owned();
    if id.is_empty() {
        return Err("malformed Basic authorization header: empty client id");
    }
    Ok(Some((id, secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_halves_are_form_decoded() {
        assert_eq!(
            parse_basic(&basic("a%3Ab", "s+t%25")).unwrap(),
            Some(("a:b".into(), "s t%".into()))
        );
        assert_eq!(
            parse_basic("bAsIc  Y2lkOnM=").unwrap(),
            Some(("cid".into(), "s".into()))
        );
        assert_eq!(parse_basic("Bearer abc").unwrap(), None);
    }

    #[test]
    fn malformed_basic_is_refused() {
        assert!(parse_basic("Basic !!!").is_err());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode(":secret"))).is_err());
        assert!(parse_basic("Basic").is_err());
    }
}
