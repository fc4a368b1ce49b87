//! Parsing token request bodies: `application/x-www-form-urlencoded` (RFC 6749 §4.4.2)
//! and, as the contract allows, `application/json` with the same names.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

use super::TokenError;

/// Most parameters a body may carry. Real token, introspection and revocation requests
/// send at most eight; a body of thousands of names is an attack on the parser.
pub const MAX_PARAMS: usize = 64;

/// Longest value accepted for any parameter; real values are far shorter.
const MAX_VALUE_LEN: usize = 8192;

/// A parameter the OAuth endpoints read. Every other name is ignored (RFC 6749 §3.2). A
/// new client-authentication method or grant adds its parameters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `grant_type`.
    GrantType,
    /// `scope`.
    Scope,
    /// `audience`.
    Audience,
    /// `resource` (RFC 8707).
    Resource,
    /// `client_id` (client_secret_post).
    ClientId,
    /// `client_secret` (client_secret_post).
    ClientSecret,
    /// `token` (introspection, revocation).
    Token,
    /// `token_type_hint` (introspection, revocation).
    TokenTypeHint,
    /// `client_assertion_type` (RFC 7521 §4.2).
    ClientAssertionType,
    /// `client_assertion` (RFC 7521 §4.2).
    ClientAssertion,
}

impl Param {
    /// Every parameter, in the order of [`TokenParams`]' slots.
    pub const ALL: [Self; 10] = [
        Self::GrantType,
        Self::Scope,
        Self::Audience,
        Self::Resource,
        Self::ClientId,
        Self::ClientSecret,
        Self::Token,
        Self::TokenTypeHint,
        Self::ClientAssertionType,
        Self::ClientAssertion,
    ];

    /// The name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            Self::GrantType => "grant_type",
            Self::Scope => "scope",
            Self::Audience => "audience",
            Self::Resource => "resource",
            Self::ClientId => "client_id",
            Self::ClientSecret => "client_secret",
            Self::Token => "token",
            Self::TokenTypeHint => "token_type_hint",
            Self::ClientAssertionType => "client_assertion_type",
            Self::ClientAssertion => "client_assertion",
        }
    }

    /// The parameter of a wire name; `None` for the names Keymint ignores.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// A credential or a token: never shown by `Debug`.
    const fn is_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecret | Self::Token | Self::ClientAssertion
        )
    }
}

/// The parameters of a request, one slot per [`Param`]. Empty ones count as absent
/// (RFC 6749 §3.1).
#[derive(Default, Clone, PartialEq, Eq)]
pub struct TokenParams {
    values: [Option<String>; Param::ALL.len()],
}

impl fmt::Debug for TokenParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TokenParams");
        for param in Param::ALL {
            let value = self.get(param);
            let shown = if param.is_secret() {
                value.map(|_| "<redacted>")
            } else {
                value
            };
            out.field(param.name(), &shown);
        }
        out.finish()
    }
}

impl TokenParams {
    /// The value of `param`, when present and not empty.
    pub fn get(&self, param: Param) -> Option<&str> {
        self.values[param as usize].as_deref()
    }

    /// Sets `param` (tests and internal callers build requests this way).
    pub fn with(mut self, param: Param, value: impl Into<String>) -> Self {
        let value = value.into();
        self.values[param as usize] = (!value.is_empty()).then_some(value);
        self
    }
}

/// Counts parameters and remembers which known ones were seen: constant work per
/// parameter, so parsing is linear in the body whatever names it holds.
#[derive(Default)]
struct Seen {
    count: usize,
    known: [bool; Param::ALL.len()],
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

    /// Stores `value` into a known parameter. RFC 6749 §3.2: parameters MUST NOT be
    /// included more than once; empty ones count as absent (§3.1).
    fn set(
        &mut self,
        params: &mut TokenParams,
        param: Param,
        value: String,
    ) -> Result<(), TokenError> {
        let name = param.name();
        if std::mem::replace(&mut self.known[param as usize], true) {
            return Err(invalid(format!("parameter {name} is repeated")));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(invalid(format!("parameter {name} is too long")));
        }
        if !value.is_empty() {
            params.values[param as usize] = Some(value);
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
        .map(str::trim)
        .unwrap_or_default();
    // Media types are case-insensitive (RFC 9110 §8.3.1).
    if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        parse_form(body)
    } else if mime.eq_ignore_ascii_case("application/json") {
        parse_json(body)
    } else {
        Err(invalid(
            "Content-Type must be application/x-www-form-urlencoded or application/json",
        ))
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
        let Some(param) = Param::from_name(&name) else {
            continue;
        };
        let value = form_decode(value).ok_or_else(not_form)?.into_owned();
        seen.set(&mut params, param, value)?;
    }
    Ok(params)
}

/// Decodes one `application/x-www-form-urlencoded` component; `None` if not UTF-8.
/// Borrowed when there is nothing to decode.
pub(crate) fn form_decode(raw: &[u8]) -> Option<Cow<'_, str>> {
    match crate::web::form::decode(raw) {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Cow::Owned(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
    }
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
                        (None, Ok(())) => Param::from_name(&name),
                        (None, Err(e)) => {
                            refused = Some(e);
                            None
                        }
                        (Some(_), _) => None,
                    };
                    // Unknown members, and every member after a refusal, are skipped
                    // unread (serde_json wants the whole object consumed).
                    let Some(param) = field else {
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
                    if let Err(e) = value.and_then(|v| seen.set(&mut params, param, v)) {
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
        assert_eq!(p.get(Param::GrantType), Some("client_credentials"));
        assert_eq!(p.get(Param::Scope), Some("a b:c"));
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
        assert_eq!(p.get(Param::Scope), None);
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
        assert_eq!(p.get(Param::GrantType), Some("client_credentials"));
        assert_eq!(p.get(Param::Scope), None);
    }
}
