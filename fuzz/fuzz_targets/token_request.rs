//! The token-request body parser on arbitrary bytes under each content type it meets.
#![no_main]

use keymint::oauth::{Param, parse_token_body};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    // Never a panic; a refusal is always an RFC 6749 error code.
    match parse_token_body(content_type, body) {
        Ok(params) => {
            // Empty values count as absent.
            for value in [Param::GrantType, Param::Scope, Param::ClientId]
                .into_iter()
                .filter_map(|p| params.get(p))
            {
                assert!(!value.is_empty());
            }
        }
        Err(e) => assert_eq!(e.code(), "invalid_request"),
    }
});
