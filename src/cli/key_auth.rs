//! How a key made at the command line authenticates: `--jwks-uri URL` or `--jwks-file PATH`
//! (`private_key_jwt`, no secret), or neither (a generated secret). `keys set-jwks` replaces
//! the registered keys with the same flags.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

use crate::domain::{
    ClientKeys, KeyAuth, MAX_CLIENT_JWKS_BYTES, check_jwks_url, parse_client_jwks,
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
}

impl ClientKeysArgs {
    /// The authentication these flags ask for: `None` when neither is given.
    pub fn key_auth(&self, outbound: &OutboundHosts) -> anyhow::Result<Option<KeyAuth>> {
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
