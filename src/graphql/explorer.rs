//! The GraphQL explorer at `GET /{env}/graphql`: GraphiQL 4 with React 18, from pinned
//! files embedded in the binary (`assets/explorer/`, their SHA-256 in `SHA256SUMS`,
//! checked by a test), so it works with no internet access and under the console's
//! Content-Security-Policy. The page asks for no credential: paste an access token into
//! the Headers tab (or pass `#headers=...&query=...` in the URL fragment, which never
//! reaches a server).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::web::page_security as security;

/// The embedded files: name, media type, bytes.
pub const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql-4.1.2.umd.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/explorer/graphiql-4.1.2.umd.js"),
    ),
    (
        "graphiql-4.1.2.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/explorer/graphiql-4.1.2.css"),
    ),
    (
        "react-18.3.1.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/explorer/react-18.3.1.production.min.js"),
    ),
    (
        "react-dom-18.3.1.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/explorer/react-dom-18.3.1.production.min.js"),
    ),
    (
        "explorer.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/explorer/explorer.js"),
    ),
];

/// The explorer page of `env` (the caller checked that it is served).
pub fn page(env: &str) -> Response {
    // `env` is an environment name (letters, digits, `-`, `_`): nothing to escape.
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphQL explorer · {env} · Keymint</title>
<link rel="stylesheet" href="/console/assets/explorer/graphiql-4.1.2.css">
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body class="explorer">
<header class="top"><a class="brand" href="/console/">Keymint</a><span>GraphQL explorer · {env}</span>
<span class="muted-light">Send <code>Authorization: Bearer &lt;access token&gt;</code> in the Headers tab.</span></header>
<div id="graphiql" data-endpoint="/{env}/graphql">Loading the explorer…</div>
<script src="/console/assets/explorer/react-18.3.1.production.min.js"></script>
<script src="/console/assets/explorer/react-dom-18.3.1.production.min.js"></script>
<script src="/console/assets/explorer/graphiql-4.1.2.umd.js"></script>
<script src="/console/assets/explorer/explorer.js"></script>
</body>
</html>"#
    );
    let mut response = Html(html).into_response();
    security::apply(response.headers_mut());
    response
}

/// `GET /console/assets/explorer/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (*bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    security::apply(headers);
    // Pinned by version in the name: cacheable for a year.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned checksums the third-party files must match (`explorer.js` is Keymint's).
    const CHECKSUMS: &str = include_str!("assets/explorer/SHA256SUMS");

    #[test]
    fn the_embedded_files_match_their_pinned_checksums() {
        let mut checked = 0;
        for line in CHECKSUMS.lines().filter(|l| !l.trim().is_empty()) {
            let (sum, name) = line.split_once("  ").unwrap();
            let (_, _, bytes) = FILES
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} is pinned but not embedded"));
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, sum, "{name} differs from its pinned checksum");
            checked += 1;
        }
        assert_eq!(checked, FILES.len() - 1, "every third-party file is pinned");
    }
}
