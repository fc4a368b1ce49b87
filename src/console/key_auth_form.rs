//! How a key made in the console authenticates, from the create form: a generated secret
//! (the default), the client's own keys (a JWKS pasted, or its URL), or a CI job's or a
//! pod's own token (a federation rule). The same checks as GraphQL and the CLI.

use axum::http::StatusCode;

use super::ConsoleState;
use super::PageError;
use super::pages::error_page;
use super::views::Form;
use crate::domain::{
    AllowedIps, ClientKeys, FederationRule, KeyAuth, check_jwks_url, parse_client_jwks,
};

/// The GitHub Actions issuer, which the form's helper fills in.
pub const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";

/// The key's authentication as the form asks for it.
pub fn key_auth(state: &ConsoleState, form: &Form) -> Result<KeyAuth, PageError> {
    let bad = |why: String| -> PageError {
        error_page(
            state,
            StatusCode::BAD_REQUEST,
            "Check the form",
            &format!("{why}. Nothing was created."),
        )
        .into()
    };
    let text = |name: &str| form.get(name).map(str::trim).filter(|v| !v.is_empty());
    let outbound = &state.config.outbound_hosts;
    match form.get("auth").unwrap_or("secret") {
        "secret" => Ok(KeyAuth::Secret),
        "keys" => match (text("jwks_uri"), text("jwks")) {
            (Some(_), Some(_)) => Err(bad("Give the keys' URL or paste them, not both".into())),
            (Some(url), None) => {
                check_jwks_url(url).map_err(|e| bad(e.to_string()))?;
                if !outbound.allows(url) {
                    return Err(bad(
                        "The URL names a host outside KEYMINT_OUTBOUND_HOSTS".into()
                    ));
                }
                Ok(KeyAuth::ClientKeys(ClientKeys::Url(url.to_owned())))
            }
            (None, Some(set)) => {
                let set = parse_client_jwks(set).map_err(|e| bad(e.to_string()))?;
                Ok(KeyAuth::ClientKeys(ClientKeys::Set(set)))
            }
            (None, None) => Err(bad(
                "Paste the client's public keys (a JWKS) or give their URL".into(),
            )),
        },
        "federated" => {
            let mut claims = Vec::new();
            for line in form.get("claims").unwrap_or_default().lines() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let Some((name, value)) = line.split_once('=') else {
                    return Err(bad(format!("Write each claim as NAME=VALUE ({line:?})")));
                };
                claims.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            let rule = FederationRule {
                issuer: text("issuer").unwrap_or_default().to_owned(),
                subject: text("subject").map(str::to_owned),
                audience: text("audience").map(str::to_owned),
                claims,
            };
            rule.check().map_err(|e| bad(e.to_string()))?;
            if !outbound.allows(&rule.issuer) {
                return Err(bad("The issuer is outside KEYMINT_OUTBOUND_HOSTS".into()));
            }
            Ok(KeyAuth::Federated(rule))
        }
        _ => Err(bad("Pick how the key's clients authenticate".into())),
    }
}

/// The networks a key's token requests may come from, as typed into the form's
/// `allowed_ips` field (separated by commas, spaces or lines); empty: any address.
pub fn allowed_ips(state: &ConsoleState, form: &Form) -> Result<AllowedIps, PageError> {
    let typed = form.get("allowed_ips").unwrap_or_default();
    let entries: Vec<&str> = typed
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .collect();
    AllowedIps::parse(&entries).map_err(|why| {
        error_page(
            state,
            StatusCode::BAD_REQUEST,
            "Check the form",
            &format!("Allowed networks: {why}. Nothing was changed."),
        )
        .into()
    })
}
