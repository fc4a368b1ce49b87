//! Property-based tests of the two parsers that read untrusted bytes on the token path:
//! the request body (form and JSON) and the HTTP Basic decoder. They never panic, refuse
//! with `invalid_request`, and read back exactly what a conforming client encodes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

use keymint::oauth::{Param, TokenError, parse_basic, parse_token_body};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");
const NAMES: [&str; 6] = [
    "grant_type",
    "scope",
    "audience",
    "resource",
    "client_id",
    "client_secret",
];

fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), json in any::<bool>()) {
        match parse_token_body(if json { JSON } else { FORM }, &body) {
            Ok(_) | Err(TokenError::InvalidRequest(_)) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn form_bodies_read_back_what_was_encoded(values in proptest::collection::vec("\\PC{0,40}", 6)) {
        let body: Vec<String> = NAMES.iter().zip(&values).map(|(n, v)| format!("{n}={}", form_encode(v))).collect();
        let params = parse_token_body(FORM, body.join("&").as_bytes()).unwrap();
        let read = [Param::GrantType, Param::Scope, Param::Audience, Param::Resource, Param::ClientId, Param::ClientSecret];
        for (value, param) in values.iter().zip(read) {
            // RFC 6749 §3.1: empty parameters count as absent.
            let expected = (!value.is_empty()).then_some(value.as_str());
            prop_assert_eq!(params.get(param), expected);
        }
    }

    #[test]
    fn json_bodies_read_back_what_was_encoded(scope in "\\PC{1,60}", id in "\\PC{1,60}") {
        let body = serde_json::json!({"grant_type": "client_credentials", "scope": scope, "client_id": id, "extra": 1});
        let params = parse_token_body(JSON, body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(params.get(Param::Scope), Some(scope.as_str()));
        prop_assert_eq!(params.get(Param::ClientId), Some(id.as_str()));
    }

    #[test]
    fn a_repeated_parameter_is_always_refused(name in proptest::sample::select(NAMES.to_vec()), a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        let body = format!("{name}={a}&{name}={b}");
        prop_assert!(matches!(parse_token_body(FORM, body.as_bytes()), Err(TokenError::InvalidRequest(_))));
    }

    #[test]
    fn arbitrary_authorization_headers_never_panic(header in "\\PC{0,200}") {
        let _ = parse_basic(&header);
    }

    #[test]
    fn basic_credentials_read_back_what_was_encoded(id in "\\PC{1,40}", secret in "\\PC{0,60}") {
        // RFC 6749 §2.3.1: form-urlencode both halves, then base64 "id:secret".
        let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret))));
        prop_assert_eq!(parse_basic(&header).unwrap(), Some((id, secret)));
    }
}
