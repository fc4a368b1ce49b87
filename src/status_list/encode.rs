//! A status list as the draft encodes it (draft-ietf-oauth-status-list §4.1, §5.1): the
//! bytes ZLIB-compressed (RFC 1950) and base64url-encoded without padding as `lst`, with
//! `bits: 1`, inside a `statuslist+jwt` whose `sub` is the list's own URI.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde::Serialize;
use std::borrow::Cow;
use std::io::Write;

use crate::config::EnvironmentConfig;

use crate::signing::{SigningKey, sign_typed_jwt};

/// The `typ` of a status list token (§5.1) and its media type's suffix.
pub const TYP: &str = "statuslist+jwt";
/// The media type it is served as (§14.8).
pub const MEDIA_TYPE: &str = "application/statuslist+jwt";

/// `lst`: the bytes compressed and base64url-encoded (§4.1: "MUST be compressed using
/// DEFLATE with the ZLIB data format").
pub fn lst(bytes: &[u8]) -> String {
    // Level 6: a list of a million keys compresses in milliseconds; level 9 saves little
    // on bits that are mostly runs (bench/statuslist.sh).
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 64), Compression::new(6));
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    let compressed = encoder.finish().unwrap_or_default();
    URL_SAFE_NO_PAD.encode(compressed)
}

#[derive(Serialize)]
struct StatusListClaim<'a> {
    bits: u8,
    lst: &'a str,
}

#[derive(Serialize)]
struct ListClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    ttl: u64,
    status_list: StatusListClaim<'a>,
}

/// What a status list token says besides its bits.
pub struct ListToken<'a> {
    /// The environment's issuer.
    pub issuer: &'a str,
    /// The list's own URI (`sub`, §5.1: MUST equal the `uri` tokens name).
    pub uri: &'a str,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
    /// How long a reader may cache it (seconds).
    pub ttl: u64,
}

/// Signs list `bytes` as a status list token.
pub fn sign(
    key: &SigningKey,
    token: &ListToken<'_>,
    bytes: &[u8],
) -> Result<String, serde_json::Error> {
    let lst = lst(bytes);
    let claims = ListClaims {
        iss: token.issuer,
        sub: token.uri,
        iat: token.iat,
        exp: token.exp,
        ttl: token.ttl,
        status_list: StatusListClaim { bits: 1, lst: &lst },
    };
    sign_typed_jwt(key, TYP, &claims)
}

/// The `status` claim of an access token naming global `index` of an environment (§6.1):
/// list `index / LIST_SIZE + 1`, position `index % LIST_SIZE`.
#[derive(Debug, Serialize)]
pub struct StatusClaim<'a> {
    status_list: StatusReference<'a>,
}

#[derive(Debug, Serialize)]
struct StatusReference<'a> {
    idx: u32,
    uri: Cow<'a, str>,
}

impl<'a> StatusClaim<'a> {
    /// The claim for `index` in `environment`: its first list's URI is borrowed (no
    /// allocation per token until an environment passes 1,048,576 credentials).
    pub fn new(environment: &'a EnvironmentConfig, index: u32) -> Self {
        let (size, list) = (super::LIST_SIZE, index / super::LIST_SIZE + 1);
        let uri = match list {
            1 => Cow::Borrowed(environment.first_status_list.as_str()),
            n => Cow::Owned(list_uri(&environment.issuer, n)),
        };
        Self {
            status_list: StatusReference {
                idx: index % size,
                uri,
            },
        }
    }
}

pub use crate::config::status_list_uri as list_uri;

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn the_drafts_example_round_trips() {
        // §4.1's example: statuses 0,3,4,5,7,8,9,13,15 invalid of 16 are bytes b9 a3.
        let mut bytes = vec![0u8; 2];
        for i in [0, 3, 4, 5, 7, 8, 9, 13, 15] {
            bytes[i / 8] |= 1 << (i % 8);
        }
        assert_eq!(bytes, [0xb9, 0xa3]);
        let encoded = lst(&bytes);
        let compressed = URL_SAFE_NO_PAD.decode(encoded).unwrap();
        let mut out = Vec::new();
        ZlibDecoder::new(&compressed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, bytes);
        // And the draft's own encoding decodes to the same bytes.
        let theirs = URL_SAFE_NO_PAD.decode("eNrbuRgAAhcBXQ").unwrap();
        let mut out = Vec::new();
        ZlibDecoder::new(&theirs[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn a_token_names_the_list_and_position_of_its_index() {
        let config = crate::config::Config::from_lookup(|name| {
            (name == "KEYMINT_PUBLIC_URL").then(|| "https://i".to_owned())
        })
        .unwrap();
        let production = &config.environments[0];
        let claim = serde_json::to_value(StatusClaim::new(production, 5)).unwrap();
        assert_eq!(
            claim,
            serde_json::json!({"status_list": {"idx": 5, "uri": "https://i/production/statuslists/1"}})
        );
        let later = StatusClaim::new(production, super::super::LIST_SIZE + 7);
        assert_eq!(later.status_list.idx, 7);
        assert!(later.status_list.uri.ends_with("/statuslists/2"));
    }
}
