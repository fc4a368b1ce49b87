//! Parsing token request bodies: `application/x-www-form-urlencoded` (RFC 6749 §4.4.2)
//! and, as the contract allows, `application/json` with the same names.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use std::fmt;

use super::TokenError;

/// Most parameters a body may carry. Real token, introspection and revocation requests
/// send at most eight; a body of thousands of names is an attack on the parser.
pub const MAX_PARAMS: usize = 64;

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
    /// The field of a parameter Keymint reads and its bit in a [`Seen`] set; `None` for
    /// the names it ignores.
    fn field(&mut self, name: &str) -> Option<(&mut Option<String>, u8)> {
        Some(match name {
            "grant_type" => (&mut self.grant_type, 1 << 0),
            "scope" => (&mut self.scope, 1 << 1),
            "audience" => (&mut self.audience, 1 << 2),
            "resource" => (&mut self.resource, 1 << 3),
            "client_id" => (&mut self.client_id, 1 << 4),
            "client_secret" => (&mut self.client_secret, 1 << 5),
            "token" => (&mut self.token, 1 << 6),
            "token_type_hint" => (&mut self.token_type_hint, 1 << 7),
            _ => return None,
        })
    }
}

/// Counts parameters and remembers which known ones were seen: constant work per
/// parameter, so parsing is linear in the body whatever names it holds.
#[derive(Default)]
struct Seen {
    count: usize,
    known: u8,
}

impl Seen {
    /// Notes one more parameter; refuses absurd counts.
    fn count(&mut self) -> Result<(), TokenError> {
        self.count += 1;
        if self.count > MAX_PARAMS {
            return Err(invalid(format!(
                "the request has more than {MAX_PARAMS} parameters"
            )));
        }
        Ok(())
    }

    /// Stores `value` into a known parameter's field. RFC 6749 §3.2: parameters MUST NOT
    /// be included more than once; empty ones count as absent (§3.1).
    fn set(
        &mut self,
        (field, bit): (&mut Option<String>, u8),
        name: &str,
        value: String,
    ) -> Result<(), TokenError> {
        if self.known & bit != 0 {
            return Err(invalid(format!("parameter {name} is repeated")));
        }
        self.known |= bit;
        if value.len() > MAX_VALUE_LEN {
            return Err(invalid(format!("parameter {name} is too long")));
        }
        if !value.is_empty() {
            *field = Some(value);
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
    let not_form = || invalid("request body is not valid UTF-8 form data");
    let mut params = TokenParams::default();
    let mut seen = Seen::default();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        seen.count()?;
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name).ok_or_else(not_form)?;
        // Unknown parameters are ignored (RFC 6749 §3.2): their values are not decoded.
        let Some(field) = params.field(&name) else {
            continue;
        };
        let value = form_decode(value).ok_or_else(not_form)?;
        seen.set(field, &name, value)?;
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
    let Parsed(params) = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "request body is not a JSON object: {}",
            json_reason(&e)
        ))
    })?;
    params
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

/// A JSON object read straight into [`TokenParams`]: known members must be strings or
/// null (absent, as an empty value would be: RFC 6749 §3.1); unknown members are skipped
/// whatever their type (RFC 6749 §3.2) without being kept. A parameter error is carried
/// out as the inner `Err`, so its message is ours, not serde's.
struct Parsed(Result<TokenParams, TokenError>);

impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Parsed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
                let mut params = TokenParams::default();
                let mut seen = Seen::default();
                let mut refused = None;
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let field = match (&refused, seen.count()) {
                        (None, Ok(())) => params.field(&name),
                        (None, Err(e)) => {
                            refused = Some(e);
                            None
                        }
                        (Some(_), _) => None,
                    };
                    // Unknown members, and every member after a refusal, are skipped
                    // unread (serde_json wants the whole object consumed).
                    let Some(field) = field else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    };
                    let value = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(value) => Ok(value),
                        serde_json::Value::Null => Ok(String::new()),
                        _ => Err(invalid(format!(
                            "parameter {} must be a string",
                            printable(&name)
                        ))),
                    };
                    if let Err(e) = value.and_then(|v| seen.set(field, &name, v)) {
                        refused = Some(e);
                    }
                }
                if let Some(e) = refused {
                    return Ok(Parsed(Err(e)));
                }
                Ok(Parsed(Ok(params)))
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
    fn thousands_of_distinct_names_are_refused_after_the_cap() {
        let names: Vec<String> = (0..13_000).map(|i| format!("p{i}=x")).collect();
        let err = parse_token_body(FORM, names.join("&").as_bytes()).unwrap_err();
        assert!(matches!(err, TokenError::InvalidRequest(m) if m.contains("more than 64")));
        let json: serde_json::Map<String, serde_json::Value> = (0..13_000)
            .map(|i| (format!("p{i}"), serde_json::Value::from(i)))
            .collect();
        let body = serde_json::Value::Object(json).to_string();
        let err = parse_token_body(Some("application/json"), body.as_bytes()).unwrap_err();
        assert!(matches!(err, TokenError::InvalidRequest(m) if m.contains("more than 64")));
        // Up to the cap, unknown names are ignored (and may repeat).
        let body = format!("grant_type=client_credentials&{}", ["x=1"; 63].join("&"));
        assert!(parse_token_body(FORM, body.as_bytes()).is_ok());
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
