//! Parsing token request bodies: `application/x-www-form-urlencoded` (RFC 6749 §4.4.2)
//! and, as the contract allows, `application/json` with the same names.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use std::fmt;

use super::TokenError;

/// The parameters Keymint reads.
const KNOWN: [&str; 8] = [
    "grant_type",
    "scope",
    "audience",
    "resource",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
];

/// Longest value accepted for any parameter; real values are far shorter.
const MAX_VALUE_LEN: usize = 8192;

/// The parameters the token endpoint reads. Unknown parameters are ignored
/// (RFC 6749 §3.2) and empty ones count as absent (RFC 6749 §3.1).
#[derive(Default, Clone, PartialEq, Eq)]
pub struct TokenParams {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// `resource` (RFC 8707).
    pub resource: Option<String>,
    /// `client_id` (client_secret_post).
    pub client_id: Option<String>,
    /// `client_secret` (client_secret_post).
    pub client_secret: Option<String>,
    /// `token` (introspection, revocation).
    pub token: Option<String>,
    /// `token_type_hint` (introspection, revocation).
    pub token_type_hint: Option<String>,
}

impl fmt::Debug for TokenParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenParams")
            .field("grant_type", &self.grant_type)
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

impl TokenParams {
    fn set(&mut self, name: &str, value: String) -> Result<(), TokenError> {
        let slot = match name {
            "grant_type" => &mut self.grant_type,
            "scope" => &mut self.scope,
            "audience" => &mut self.audience,
            "resource" => &mut self.resource,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "token" => &mut self.token,
            "token_type_hint" => &mut self.token_type_hint,
            _ => return Ok(()),
        };
        if value.len() > MAX_VALUE_LEN {
            return Err(invalid(format!("parameter {name} is too long")));
        }
        if !value.is_empty() {
            *slot = Some(value);
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> TokenError {
    TokenError::InvalidRequest(message.into())
}

/// Parses a token request body according to its `Content-Type`.
pub fn parse_token_body(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<TokenParams, TokenError> {
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    match mime.as_deref() {
        Some("application/x-www-form-urlencoded") => parse_form(body),
        Some("application/json") => parse_json(body),
        _ => Err(invalid(
            "Content-Type must be application/x-www-form-urlencoded or application/json",
        )),
    }
}

fn parse_form(body: &[u8]) -> Result<TokenParams, TokenError> {
    let mut params = TokenParams::default();
    let mut seen: Vec<String> = Vec::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name)
            .ok_or_else(|| invalid("request body is not valid UTF-8 form data"))?;
        let value = form_decode(value)
            .ok_or_else(|| invalid("request body is not valid UTF-8 form data"))?;
        // RFC 6749 §3.2: parameters MUST NOT be included more than once.
        if seen.contains(&name) {
            return Err(invalid(format!(
                "parameter {} is repeated",
                printable(&name)
            )));
        }
        params.set(&name, value)?;
        seen.push(name);
    }
    Ok(params)
}

/// Decodes one `application/x-www-form-urlencoded` component; `None` if not UTF-8.
pub(super) fn form_decode(raw: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).ok()
}

fn parse_json(body: &[u8]) -> Result<TokenParams, TokenError> {
    let UniqueObject(entries) = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "request body is not a JSON object: {}",
            json_reason(&e)
        ))
    })?;
    let mut params = TokenParams::default();
    for (name, value) in entries {
        match value {
            serde_json::Value::String(value) => params.set(&name, value)?,
            // Absent, as an empty value would be (RFC 6749 §3.1).
            serde_json::Value::Null => {}
            // Unknown members are ignored whatever their type (RFC 6749 §3.2); known
            // ones must be strings.
            _ if !KNOWN.contains(&name.as_str()) => {}
            _ => {
                return Err(invalid(format!(
                    "parameter {} must be a string",
                    printable(&name)
                )));
            }
        }
    }
    Ok(params)
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json's message can quote input; keep only the category and position.
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

fn printable(name: &str) -> String {
    name.chars().take(40).filter(|c| !c.is_control()).collect()
}

/// A JSON object whose values are strings or null, refusing repeated names.
struct UniqueObject(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
                use serde::de::Error;
                let mut entries: Vec<(String, serde_json::Value)> = Vec::new();
                let mut seen: Vec<String> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if seen.contains(&name) {
                        return Err(A::Error::custom("repeated member"));
                    }
                    let value = map.next_value::<serde_json::Value>()?;
                    entries.push((name.clone(), value));
                    seen.push(name);
                }
                Ok(UniqueObject(entries))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn form_bodies_decode_plus_and_percent() {
        let p = parse_token_body(
            FORM,
            b"grant_type=client_credentials&scope=a+b%3Ac&x=ignored",
        )
        .unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.scope.as_deref(), Some("a b:c"));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let err = parse_token_body(FORM, b"scope=a&scope=b").unwrap_err();
        assert_eq!(
            err,
            TokenError::InvalidRequest("parameter scope is repeated".into())
        );
        let json = parse_token_body(Some("application/json"), br#"{"scope":"a","scope":"b"}"#);
        assert!(matches!(json, Err(TokenError::InvalidRequest(_))));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = parse_token_body(FORM, b"grant_type=client_credentials&scope=").unwrap();
        assert_eq!(p.scope, None);
    }

    #[test]
    fn invalid_utf8_and_wrong_types_are_refused() {
        assert!(parse_token_body(FORM, b"scope=%FF").is_err());
        assert!(parse_token_body(Some("application/json"), br#"{"scope":["a"]}"#).is_err());
        assert!(parse_token_body(Some("application/json"), b"[1]").is_err());
        assert!(parse_token_body(Some("text/plain"), b"scope=a").is_err());
        assert!(parse_token_body(None, b"").is_err());
    }

    #[test]
    fn json_with_charset_is_accepted() {
        let p = parse_token_body(
            Some("application/json; charset=utf-8"),
            br#"{"grant_type":"client_credentials","scope":null}"#,
        )
        .unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.scope, None);
    }
}
