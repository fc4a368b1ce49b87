//! Every configuration variable once: its names, default and meaning. `serve --help`,
//! `config check` (which warns about `KEYMINT_*` variables not listed here) and the table
//! in `docs/configuration.md` (checked by `tests/docs.rs`) all come from it.

/// One variable (or a group of variables set together).
#[derive(Debug)]
pub struct Variable {
    /// Its name(s).
    pub names: &'static [&'static str],
    /// The default, as the docs state it (Markdown).
    pub default: &'static str,
    /// What it means (Markdown).
    pub meaning: &'static str,
}

/// Every variable Keymint reads, in the order the docs list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        names: &["DATABASE_URL"],
        default: "`sqlite://keymint.db`",
        meaning: "`sqlite://path` (file created when missing) or `postgres://user:pass@host/db`",
    },
    Variable {
        names: &["KEYMINT_LISTEN"],
        default: "`127.0.0.1:8080`",
        meaning: "listen address (port `0` picks a free port)",
    },
    Variable {
        names: &["KEYMINT_PUBLIC_URL"],
        default: "`http://` + listen address",
        meaning: "base URL clients use; issuer of env `E` is `{KEYMINT_PUBLIC_URL}/E`. The same on every instance of one database (instances warn when it is not: see [operations.md](operations.md#every-instance-agrees))",
    },
    Variable {
        names: &["KEYMINT_ENVIRONMENTS"],
        default: "`production,sandbox`",
        meaning: "served environments: 1–32 of `a-z 0-9 - _`",
    },
    Variable {
        names: &["KEYMINT_KEYS_DIR"],
        default: "`keys`",
        meaning: "where the generated `encryption-keys` file goes when `KEYMINT_ENCRYPTION_KEYS` is unset, and where key files of earlier versions are imported from (see `keys/README.md`)",
    },
    Variable {
        names: &["KEYMINT_ENCRYPTION_KEYS"],
        default: "unset (a generated `{KEYMINT_KEYS_DIR}/encryption-keys`)",
        meaning: "comma-separated `ID:KEY` entries (`KEY`: 32 random bytes, base64url without padding; `keymint encryption-keys generate` prints one). Signing keys are stored in the database sealed under the first entry; every entry opens. Give all replicas the same value, from a secret",
    },
    Variable {
        names: &["KEYMINT_SIGNING_ALG"],
        default: "`ES256`",
        meaning: "`ES256`, `RS256` or `EdDSA`; per environment as `production:RS256,sandbox:EdDSA`",
    },
    Variable {
        names: &["KEYMINT_TOKEN_TTL"],
        default: "`600`",
        meaning: "access-token lifetime in seconds, 1 to 3600",
    },
    Variable {
        names: &["KEYMINT_AUDIENCE"],
        default: "the environment's issuer",
        meaning: "comma-separated audiences; the first is the default `aud`",
    },
    Variable {
        names: &["KEYMINT_SIGNING_KEY_PUBLISH_DELAY"],
        default: "`300`",
        meaning: "seconds a new signing key is published before it signs; also the JWKS `max-age` (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_SIGNING_KEY_ROTATE_DAYS"],
        default: "unset (manual)",
        meaning: "rotate signing keys automatically this often",
    },
    Variable {
        names: &["RUST_LOG"],
        default: "`info,sqlx=warn`",
        meaning: "log filter (`tracing` syntax)",
    },
    Variable {
        names: &["KEYMINT_SCIM_TOKEN"],
        default: "unset (SCIM off)",
        meaning: "bearer token directories present at `/scim/v2` (at least 16 characters); see *Wiring a directory: SCIM 2.0*",
    },
    Variable {
        names: &["KEYMINT_WEBHOOK_SECRET"],
        default: "unset (webhook off)",
        meaning: "`whsec_` + base64: the Standard Webhooks secret of `/hooks/user-events`",
    },
    Variable {
        names: &["KEYMINT_EVENTS_URL", "KEYMINT_EVENTS_SECRET"],
        default: "unset (this instance delivers no events; they wait in the outbox)",
        meaning: "the organisation's endpoint for lifecycle events (`https`, or `http` on loopback) and the `whsec_` secret they are signed with (Standard Webhooks); both or neither",
    },
    Variable {
        names: &["KEYMINT_KEY_EXPIRY_WARNING_DAYS"],
        default: "`7`",
        meaning: "days before a key's expiry its `key.expiring` event is sent (1 to 365)",
    },
    Variable {
        names: &["KEYMINT_USER_TOKEN_ISSUER", "KEYMINT_USER_TOKEN_JWKS_URL"],
        default: "unset",
        meaning: "identity-provider session tokens for the GraphQL API (both or neither; the JWKS URL must be `https` off loopback)",
    },
    Variable {
        names: &["KEYMINT_USER_TOKEN_AUDIENCE"],
        default: "required with the two above",
        meaning: "the `aud` (and `azp`, when present) of session tokens meant for Keymint, usually its client id at the IdP (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_CONSOLE_OIDC_ISSUER"],
        default: "`KEYMINT_USER_TOKEN_ISSUER`",
        meaning: "the OpenID Provider the console signs people in with (`https`, or `http` on loopback); see *Signing in with the organisation's identity provider*",
    },
    Variable {
        names: &["KEYMINT_CONSOLE_OIDC_CLIENT_ID"],
        default: "unset (sign-in by link only)",
        meaning: "the console's client id at that provider; setting it turns the sign-in on",
    },
    Variable {
        names: &["KEYMINT_CONSOLE_OIDC_CLIENT_SECRET"],
        default: "unset (public client, PKCE alone)",
        meaning: "its client secret, sent with `client_secret_basic`",
    },
    Variable {
        names: &["KEYMINT_CACHE_CAPACITY"],
        default: "`100000`",
        meaning: "entries of the verified-secret cache, tokens of the introspection cache and key states held for introspection; `0` turns all three off (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_CACHE_TTL"],
        default: "`900`",
        meaning: "seconds a cached verification (of a secret or of a token) or a held key state is trusted (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_MAX_STALENESS"],
        default: "`10`",
        meaning: "seconds an instance may go without confirming the change feed before its memory stops deciding requests (1 to 3600); see *Every instance agrees*",
    },
    Variable {
        names: &["KEYMINT_STATUS_LIST_TTL"],
        default: "`60`",
        meaning: "seconds a gateway may cache a token status list (`ttl`, 1 to 60); a disabled key's tokens are refused by a gateway reading the list within this plus its fetch interval",
    },
    Variable {
        names: &["KEYMINT_HASH_THREADS"],
        default: "one per core",
        meaning: "argon2id threads (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_HASH_MAX_WAIT_MS"],
        default: "`250`",
        meaning: "longest queueing for argon2 before answering 503 (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_HEADER_TIMEOUT"],
        default: "`10`",
        meaning: "seconds a connection may take to send a request's headers, and may sit idle between requests (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_MAX_CONNECTIONS"],
        default: "`10000`",
        meaning: "client connections served at once; more wait to be accepted (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_TOKEN_RATE_LIMIT"],
        default: "unset (no quota)",
        meaning: "tokens per minute one key may mint on one instance; more get 429 (Keymint's addition)",
    },
    Variable {
        names: &["KEYMINT_TLS_CERT", "KEYMINT_TLS_KEY"],
        default: "unset (plain HTTP)",
        meaning: "PEM certificate chain and private key: serve HTTPS (rustls, TLS 1.2/1.3); renewed files are picked up within a second, no restart",
    },
    Variable {
        names: &["KEYMINT_BEHIND_TLS_PROXY"],
        default: "`0`",
        meaning: "`1`: a TLS-terminating proxy is in front, so plain `http://` off loopback is allowed",
    },
    Variable {
        names: &["KEYMINT_TRUSTED_PROXIES"],
        default: "`127.0.0.0/8,::1`",
        meaning: "comma-separated CIDRs (or addresses; `none`) whose `X-Forwarded-For` is believed; see *Source addresses*",
    },
    Variable {
        names: &["KEYMINT_OUTBOUND_HOSTS"],
        default: "unset (any host)",
        meaning: "comma-separated host names (`*.example.com` for subdomains) that the JWKS URLs of keys without a secret may name; checked when a key is made and at every fetch. See [security.md](security.md#outbound-fetches)",
    },
    Variable {
        names: &["KEYMINT_METRICS_LISTEN"],
        default: "unset (`/metrics` on the main listener)",
        meaning: "e.g. `127.0.0.1:9090`: serve `/metrics` there only, so anonymous callers of the public port cannot read why requests were refused",
    },
    Variable {
        names: &["KEYMINT_LOG_FORMAT"],
        default: "text",
        meaning: "`json`: one JSON object per log line, with the request span (`request_id`, method, path) (Keymint's addition)",
    },
];

/// True for a variable Keymint reads.
pub fn is_known(name: &str) -> bool {
    VARIABLES.iter().any(|v| v.names.contains(&name))
}

/// The table of `docs/configuration.md`.
pub fn markdown() -> String {
    let mut out = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for v in VARIABLES {
        let names: Vec<String> = v.names.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            names.join(", "),
            v.default,
            v.meaning
        ));
    }
    out
}

/// The list `serve --help` prints: every variable, its default and meaning, as plain text.
pub fn help() -> String {
    let plain = |s: &str| s.replace(['`', '*'], "");
    let mut out = String::from("Configuration (environment variables; empty counts as unset):\n");
    for v in VARIABLES {
        out.push_str(&format!(
            "  {} (default: {})\n",
            v.names.join(", "),
            plain(v.default)
        ));
        // Markdown links are shown as their text.
        let meaning = plain(v.meaning);
        let meaning = strip_links(&meaning);
        out.push_str(&wrap(&meaning, 6, 96));
    }
    out.push_str("Reference: docs/reference.md; configuration details: docs/configuration.md.\n");
    out
}

/// `[text](target)` → `text`.
fn strip_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` in lines of at most `width` characters, each indented by `indent` spaces.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out.push_str(&format!("{:indent$}{line}\n", ""));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{:indent$}{line}\n", ""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_variable_without_markdown() {
        let help = help();
        for v in VARIABLES {
            for name in v.names {
                assert!(help.contains(name), "{name}");
            }
        }
        assert!(!help.contains('`'));
        assert!(help.lines().all(|l| l.len() <= 140), "a line is too long");
        assert!(is_known("KEYMINT_CONSOLE_OIDC_CLIENT_ID") && !is_known("KEYMINT_ENVIRONMENT"));
    }

    #[test]
    fn links_read_as_their_text() {
        assert_eq!(
            strip_links("see [operations](operations.md#x) now"),
            "see operations now"
        );
    }
}
