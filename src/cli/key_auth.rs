//! How a key made at the command line authenticates: `--jwks-uri URL` or `--jwks-file PATH`
//! (`private_key_jwt`, no secret), `--federated-issuer URL` with a subject and/or claims (an
//! outside token, no secret), or none of them (a generated secret). `keys set-jwks`
//! replaces the registered keys with the JWKS flags.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

use crate::domain::{
    ClientKeys, FederationRule, KeyAuth, MAX_CLIENT_JWKS_BYTES, check_jwks_url, parse_client_jwks,
};
use crate::web::OutboundHosts;

/// The client's own public keys, instead of a secret.
#[derive(Debug, Clone, Default, Args)]
pub struct ClientKeysArgs {
    /// The URL where the key's clients publish their public keys (JWKS); the key gets no
    /// secret: clients sign assertions (private_key_jwt). https (http only on loopback).
    #[arg(long, value_name = "URL", conflicts_with = "jwks_file")]
    pub jwks_uri: Option<String>,
    /// A file holding the key's clients' public keys (JWKS); the key gets no secret.
    #[arg(long, value_name = "PATH")]
    pub jwks_file: Option<PathBuf>,
    /// Trust tokens of this outside issuer (e.g. https://token.actions.githubusercontent.com)
    /// that match the subject and claims below; the key gets no secret.
    #[arg(long, value_name = "URL", conflicts_with_all = ["jwks_uri", "jwks_file"])]
    pub federated_issuer: Option<String>,
    /// The `sub` the outside token must have (e.g. repo:acme/app:ref:refs/heads/main).
    #[arg(long, value_name = "SUB", requires = "federated_issuer")]
    pub federated_subject: Option<String>,
    /// A claim the outside token must have, NAME=VALUE (repeat for several; all must match).
    #[arg(
        long = "federated-claim",
        value_name = "NAME=VALUE",
        requires = "federated_issuer"
    )]
    pub federated_claims: Vec<String>,
    /// The audience the outside token must name (default: the environment's issuer URL).
    #[arg(long, value_name = "AUD", requires = "federated_issuer")]
    pub federated_audience: Option<String>,
}

impl ClientKeysArgs {
    /// The authentication these flags ask for: `None` when neither is given.
    pub fn key_auth(&self, outbound: &OutboundHosts) -> anyhow::Result<Option<KeyAuth>> {
        if let Some(issuer) = &self.federated_issuer {
            let mut claims = Vec::new();
            for condition in &self.federated_claims {
                let Some((name, value)) = condition.split_once('=') else {
                    anyhow::bail!("--federated-claim {condition:?}: write NAME=VALUE");
                };
                claims.push((name.to_owned(), value.to_owned()));
            }
            let rule = FederationRule {
                issuer: issuer.clone(),
                subject: self.federated_subject.clone(),
                audience: self.federated_audience.clone(),
                claims,
            };
            rule.check()?;
            if !outbound.allows(issuer) {
                anyhow::bail!(
                    "--federated-issuer names a host outside KEYMINT_OUTBOUND_HOSTS ({outbound})"
                );
            }
            return Ok(Some(KeyAuth::Federated(rule)));
        }
        match (&self.jwks_uri, &self.jwks_file) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => anyhow::bail!("give --jwks-uri or --jwks-file, not both"),
            (Some(url), None) => {
                check_jwks_url(url)?;
                if !outbound.allows(url) {
                    anyhow::bail!(
                        "--jwks-uri names a host outside KEYMINT_OUTBOUND_HOSTS ({outbound})"
                    );
                }
                Ok(Some(KeyAuth::ClientKeys(ClientKeys::Url(url.clone()))))
            }
            (None, Some(path)) => {
                let size = std::fs::metadata(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .len();
                if size > MAX_CLIENT_JWKS_BYTES as u64 {
                    anyhow::bail!(
                        "{} is larger than {MAX_CLIENT_JWKS_BYTES} bytes: a JWKS of public keys is a few KiB",
                        path.display()
                    );
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let set = parse_client_jwks(&text)
                    .with_context(|| format!("{} is not a usable JWKS", path.display()))?;
                Ok(Some(KeyAuth::ClientKeys(ClientKeys::Set(set))))
            }
        }
    }
}
