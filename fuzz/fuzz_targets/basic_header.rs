//! The `Authorization: Basic` decoder on arbitrary header values.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keymint::oauth::parse_basic;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    // Never a panic. A decoded pair has a client id and survives the encoding RFC 6749
    // §2.3.1 prescribes (form-urlencode each half, join with ':', base64) unchanged.
    if let Ok(Some((id, secret))) = parse_basic(header) {
        assert!(!id.is_empty());
        let encoded = format!(
            "{}:{}",
            utf8_percent_encode(&id, NON_ALPHANUMERIC),
            utf8_percent_encode(&secret, NON_ALPHANUMERIC)
        );
        let again = parse_basic(&format!("Basic {}", STANDARD.encode(encoded)));
        assert_eq!(again, Ok(Some((id, secret))));
    }
});
