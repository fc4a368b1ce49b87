//! How a key's clients prove who they are: a generated secret, the client's own public
//! keys (`private_key_jwt`, RFC 7523 §2.2, OIDC Core §9), which Keymint never holds the
//! private half of, or an outside issuer's token matching a rule (workload identity
//! federation: a CI job's or a cluster's own token). The rules for what may be registered
//! live here; fetching and verifying are the token endpoint's.

use jsonwebtoken::jwk::JwkSet;

pub use super::federation_rule::FederationRule;
use serde_json::Value;

/// Largest key set a key may register (a few keys of a few hundred bytes each fit many
/// times over).
pub const MAX_CLIENT_JWKS_BYTES: usize = 64 * 1024;
/// Most keys in a registered set (one in use and one being rolled in is the usual case).
pub const MAX_CLIENT_KEYS: usize = 16;
/// Longest JWKS URL accepted.
pub const MAX_JWKS_URL_LEN: usize = 2048;

/// How a key's clients authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAuth {
    /// A secret Keymint generated and stores as a hash.
    Secret,
    /// Assertions signed with the client's own keys.
    ClientKeys(ClientKeys),
    /// Tokens of an outside issuer that match a rule.
    Federated(FederationRule),
}

/// Where the public keys of a `private_key_jwt` client are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// Published by the client at an URL Keymint fetches (and caches): the client rotates
    /// by publishing a new key beside the old one, then dropping the old.
    Url(String),
    /// Registered with the key (a JWKS document, checked by [`parse_client_jwks`]).
    Set(String),
}

/// A key set or URL that cannot be registered, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidClientKeys(pub String);

impl KeyAuth {
    /// The value of `api_keys.auth_method`.
    pub fn stored_name(&self) -> &'static str {
        match self {
            Self::Secret => "client_secret",
            Self::ClientKeys(_) => "private_key_jwt",
            Self::Federated(_) => "federated",
        }
    }

    /// The RFC 8414 / RFC 7591 name of how clients of this key authenticate (a federated
    /// key's clients send their outside token as a client assertion).
    pub fn token_endpoint_auth_method(&self) -> &'static str {
        match self {
            Self::Secret => "client_secret_basic",
            Self::ClientKeys(_) | Self::Federated(_) => "private_key_jwt",
        }
    }

    /// The rule of a federated key.
    pub fn federation(&self) -> Option<&FederationRule> {
        match self {
            Self::Federated(rule) => Some(rule),
            _ => None,
        }
    }

    /// The rule as stored (JSON).
    pub fn federation_json(&self) -> Option<String> {
        self.federation()
            .and_then(|r| serde_json::to_string(r).ok())
    }

    /// Whether the key has a secret (shown at creation, regenerated on request).
    pub fn has_secret(&self) -> bool {
        matches!(self, Self::Secret)
    }

    /// The JWKS URL, when the client publishes its keys.
    pub fn jwks_uri(&self) -> Option<&str> {
        match self {
            Self::ClientKeys(ClientKeys::Url(url)) => Some(url),
            _ => None,
        }
    }

    /// The registered key set, when stored.
    pub fn jwks(&self) -> Option<&str> {
        match self {
            Self::ClientKeys(ClientKeys::Set(set)) => Some(set),
            _ => None,
        }
    }

    /// What the audit entry of the key's creation says about it: how its clients
    /// authenticate and what it trusts (`None` for a secret, as always before).
    pub fn audit_note(&self) -> Option<String> {
        match self {
            Self::Secret => None,
            Self::Federated(rule) => Some(format!(
                "federated, issuer {} subject {} audience {} claims {}",
                rule.issuer,
                rule.subject.as_deref().unwrap_or("(any)"),
                rule.audience.as_deref().unwrap_or("(the issuer URL)"),
                rule.claims
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            Self::ClientKeys(ClientKeys::Url(url)) => {
                Some(format!("private_key_jwt, keys at {url}"))
            }
            Self::ClientKeys(ClientKeys::Set(_)) => Some(format!(
                "private_key_jwt, registered keys {}",
                self.kids().join(" ")
            )),
        }
    }

    /// The `kid`s of a registered key set (empty for other kinds).
    pub fn kids(&self) -> Vec<String> {
        let Some(set) = self.jwks() else {
            return Vec::new();
        };
        serde_json::from_str::<Value>(set)
            .ok()
            .and_then(|v| v.get("keys").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .map(|k| {
                k.get("kid")
                    .and_then(Value::as_str)
                    .unwrap_or("(no kid)")
                    .to_owned()
            })
            .collect()
    }

    /// Reads the stored columns back; `None` for a combination Keymint never writes.
    pub fn from_stored(
        method: &str,
        jwks_uri: Option<String>,
        jwks: Option<String>,
        federation: Option<String>,
    ) -> Option<Self> {
        match (method, jwks_uri, jwks, federation) {
            ("client_secret", None, None, None) => Some(Self::Secret),
            ("private_key_jwt", Some(url), None, None) => {
                Some(Self::ClientKeys(ClientKeys::Url(url)))
            }
            ("private_key_jwt", None, Some(set), None) => {
                Some(Self::ClientKeys(ClientKeys::Set(set)))
            }
            ("federated", None, None, Some(rule)) => {
                serde_json::from_str(&rule).ok().map(Self::Federated)
            }
            _ => None,
        }
    }
}

/// Checks a JWKS URL a key registers: `https` (plain `http` only on loopback, for tests
/// and local set-ups), no credentials in it, of sane length.
pub fn check_jwks_url(url: &str) -> Result<(), InvalidClientKeys> {
    check_https(url, "jwksUri")
}

/// `url` is https (plain http only on loopback), without credentials, of sane length.
pub(super) fn check_https(url: &str, what: &str) -> Result<(), InvalidClientKeys> {
    let bad = |why: &str| Err(InvalidClientKeys(format!("{what} {why}")));
    if url.len() > MAX_JWKS_URL_LEN {
        return bad(&format!("is longer than {MAX_JWKS_URL_LEN} characters"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("must be an https:// URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return bad("has no host");
    }
    if authority.contains('@') {
        return bad("must not carry credentials");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    match scheme {
        "https" => Ok(()),
        "http" if crate::web::loopback::is_loopback_url(url) => Ok(()),
        _ => bad("must be an https:// URL (plain http only on loopback)"),
    }
}

/// Checks a key set a key registers and gives it back as stored: a JWKS of 1 to
/// [`MAX_CLIENT_KEYS`] public keys Keymint can verify with (RSA of 2048 bits or more,
/// EC P-256, Ed25519), none carrying private or symmetric key material (a set holding a
/// private key is refused, never stored: the client must keep that half).
pub fn parse_client_jwks(text: &str) -> Result<String, InvalidClientKeys> {
    let bad = |why: String| Err(InvalidClientKeys(format!("jwks: {why}")));
    if text.len() > MAX_CLIENT_JWKS_BYTES {
        return bad(format!("larger than {MAX_CLIENT_JWKS_BYTES} bytes"));
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return bad(format!("not JSON ({e})")),
    };
    let Some(keys) = value.get("keys").and_then(Value::as_array) else {
        return bad("a JWKS is an object with a \"keys\" array (RFC 7517 §5)".into());
    };
    if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS {
        return bad(format!(
            "holds {} keys; 1 to {MAX_CLIENT_KEYS} are accepted",
            keys.len()
        ));
    }
    for (i, key) in keys.iter().enumerate() {
        // RFC 7517 §9.2 / RFC 7518 §6: these members are private or symmetric key material.
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if key.get(private).is_some() {
                return bad(format!(
                    "key {i} holds private key material (\"{private}\"): register only the public keys"
                ));
            }
        }
        let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
        let crv = key.get("crv").and_then(Value::as_str).unwrap_or_default();
        match (kty, crv) {
            ("RSA", _) => {
                let n = key.get("n").and_then(Value::as_str).unwrap_or_default();
                // base64url of at least 256 bytes.
                if n.trim_end_matches('=').len() < 342 {
                    return bad(format!("key {i} is an RSA key shorter than 2048 bits"));
                }
            }
            ("EC", "P-256") | ("OKP", "Ed25519") => {}
            _ => {
                return bad(format!(
                    "key {i} is {kty} {crv}; accepted are RSA (2048 bits or more), EC P-256 and OKP Ed25519"
                ));
            }
        }
    }
    let set: JwkSet = match serde_json::from_value(value) {
        Ok(set) => set,
        Err(e) => return bad(format!("not a JWKS ({e})")),
    };
    for (i, jwk) in set.keys.iter().enumerate() {
        if let Err(e) = jsonwebtoken::DecodingKey::from_jwk(jwk) {
            return bad(format!("key {i} is unusable ({e})"));
        }
    }
    match serde_json::to_string(&set) {
        Ok(stored) => Ok(stored),
        Err(e) => bad(format!("cannot be stored ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn public_keys_are_registered_and_private_ones_refused() {
        let stored = parse_client_jwks(&format!(r#"{{"keys":[{EC}]}}"#)).unwrap();
        assert!(stored.contains("\"kid\":\"k1\""), "{stored}");
        let private = EC.replace(
            r#""kid":"k1""#,
            r#""kid":"k1","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI""#,
        );
        let err = parse_client_jwks(&format!(r#"{{"keys":[{private}]}}"#)).unwrap_err();
        assert!(err.0.contains("private key material"), "{err}");
        let hmac = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
        assert!(parse_client_jwks(hmac).is_err());
        assert!(parse_client_jwks(r#"{"keys":[]}"#).is_err());
        assert!(parse_client_jwks("[]").is_err());
        assert!(parse_client_jwks("not json").is_err());
        let p384 = r#"{"keys":[{"kty":"EC","crv":"P-384","x":"a","y":"b"}]}"#;
        assert!(parse_client_jwks(p384).unwrap_err().0.contains("P-384"));
        let short_rsa = r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#;
        assert!(parse_client_jwks(short_rsa).unwrap_err().0.contains("2048"));
        let many = format!(
            r#"{{"keys":[{}]}}"#,
            vec![EC; MAX_CLIENT_KEYS + 1].join(",")
        );
        assert!(parse_client_jwks(&many).is_err());
    }

    #[test]
    fn jwks_urls_are_https_without_credentials() {
        assert!(check_jwks_url("https://ci.example/.well-known/jwks.json").is_ok());
        assert!(check_jwks_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_jwks_url("http://ci.example/jwks").is_err());
        assert!(check_jwks_url("https://user:pw@ci.example/jwks").is_err());
        assert!(check_jwks_url("file:///etc/passwd").is_err());
        assert!(check_jwks_url("https:///jwks").is_err());
        assert!(check_jwks_url(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
    }

    #[test]
    fn stored_columns_read_back() {
        let url = KeyAuth::ClientKeys(ClientKeys::Url("https://a.example/jwks".into()));
        let stored = KeyAuth::from_stored(
            "private_key_jwt",
            Some("https://a.example/jwks".into()),
            None,
            None,
        );
        assert_eq!(stored, Some(url.clone()));
        assert_eq!(url.stored_name(), "private_key_jwt");
        assert!(!url.has_secret());
        assert_eq!(
            KeyAuth::from_stored("client_secret", None, None, None),
            Some(KeyAuth::Secret)
        );
        assert_eq!(
            KeyAuth::from_stored("private_key_jwt", None, None, None),
            None
        );
        assert_eq!(KeyAuth::from_stored("other", None, None, None), None);
        let rule = FederationRule {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: Some("repo:acme/app:ref:refs/heads/main".into()),
            audience: None,
            claims: vec![("repository_owner".into(), "acme".into())],
        };
        let federated = KeyAuth::Federated(rule.clone());
        assert_eq!(
            KeyAuth::from_stored("federated", None, None, federated.federation_json()),
            Some(federated)
        );
        assert!(rule.check().is_ok());
    }
}
