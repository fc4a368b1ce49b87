//! `application/x-www-form-urlencoded` (query strings, console forms, token requests).

use std::borrow::Cow;

/// Decodes one component: `+` is a space, `%XX` a byte, and a `%` not followed by two hex
/// digits stays as it is (as the WHATWG URL standard's decoder does). Borrowed when
/// there is nothing to decode, else one allocation of at most its length.
pub fn decode(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.iter().any(|&b| b == b'+' || b == b'%') {
        return Cow::Borrowed(raw);
    }
    let hex = |i: usize| raw.get(i).and_then(|&b| (b as char).to_digit(16));
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], hex(i + 1), hex(i + 2)) {
            (b'+', _, _) => bytes.push(b' '),
            (b'%', Some(high), Some(low)) => {
                // Two hex digits make one byte.
                bytes.push((high * 16 + low) as u8);
                i += 2;
            }
            (byte, _, _) => bytes.push(byte),
        }
        i += 1;
    }
    Cow::Owned(bytes)
}

/// `application/x-www-form-urlencoded` pairs of a query string.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| String::from_utf8_lossy(&decode(s.as_bytes())).into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_matches_the_percent_encoding_crate() {
        for raw in [
            "",
            "abc",
            "a+b",
            "a%20b",
            "%41%62",
            "%",
            "%4",
            "%4g",
            "%zz1",
            "50%+",
            "%%41",
            "+%2B+",
            "%e2%82%ac",
            "%C3%A9t%C3%A9",
            "a%2",
            "%ff",
        ] {
            let reference: Vec<u8> =
                percent_encoding::percent_decode(raw.replace('+', " ").as_bytes()).collect();
            assert_eq!(&*decode(raw.as_bytes()), &reference[..], "{raw}");
        }
        assert!(matches!(decode(b"plain"), Cow::Borrowed(_)));
    }
}
