//! Client authentication (RFC 6749 §2.3.1): `client_secret_basic` or `client_secret_post`,
//! never both.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use std::fmt;

use super::request::form_decode;
use super::{TokenError, TokenParams};
use crate::secrets::ClientSecret;

/// Longest client id accepted before lookup; ours are 26 characters.
const MAX_CLIENT_ID_LEN: usize = 128;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic.
    Basic,
    /// Form or JSON body.
    Post,
}

/// A client id and secret as presented.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The presented client id.
    pub client_id: String,
    /// The presented secret.
    pub secret: ClientSecret,
    /// Where they came from.
    pub method: AuthMethod,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

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
    let id = form_decode(&raw[..colon]).ok_or("malformed Basic authorization header: not UTF-8")?;
    let secret =
        form_decode(&raw[colon + 1..]).ok_or("malformed Basic authorization header: not UTF-8")?;
    if id.is_empty() {
        return Err("malformed Basic authorization header: empty client id");
    }
    Ok(Some((id, secret)))
}

/// Picks the client's credentials from the `Authorization` header and the body.
pub fn resolve_credentials(
    authorization: Option<&str>,
    params: &TokenParams,
    realm: &str,
) -> Result<ClientCredentials, TokenError> {
    let invalid_client = || TokenError::InvalidClient {
        realm: realm.to_owned(),
        reason: "other_auth_scheme",
    };
    let basic = match authorization {
        Some(value) => match parse_basic(value) {
            Ok(Some(pair)) => Some(pair),
            Ok(None) => return Err(invalid_client()),
            Err(message) => return Err(TokenError::InvalidRequest(message.into())),
        },
        None => None,
    };
    let credentials = match (basic, &params.client_id, &params.client_secret) {
        (Some(_), _, Some(_)) => {
            // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
            return Err(TokenError::InvalidRequest(
                "use either HTTP Basic or client_id/client_secret in the body, not both".into(),
            ));
        }
        (Some((id, _)), Some(body_id), None) if *body_id != id => {
            return Err(TokenError::InvalidRequest(
                "client_id in the body differs from HTTP Basic".into(),
            ));
        }
        (Some((id, secret)), _, None) => ClientCredentials {
            client_id: id,
            secret: ClientSecret::new(secret),
            method: AuthMethod::Basic,
        },
        (None, Some(id), Some(secret)) => ClientCredentials {
            client_id: id.clone(),
            secret: ClientSecret::new(secret.clone()),
            method: AuthMethod::Post,
        },
        (None, _, _) => return Err(invalid_client()),
    };
    if credentials.client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(invalid_client());
    }
    Ok(credentials)
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

    #[test]
    fn both_methods_are_invalid_request() {
        let params = TokenParams {
            client_id: Some("a".into()),
            client_secret: Some("b".into()),
            ..Default::default()
        };
        let err = resolve_credentials(Some(&basic("a", "b")), &params, "r").unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }
}
