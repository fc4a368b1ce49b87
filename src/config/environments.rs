//! `KEYMINT_ENVIRONMENTS` and `KEYMINT_SIGNING_ALG`: the served environments and the
//! algorithm each one's new signing keys use.

use super::{ConfigError, invalid};
use crate::domain::{EnvironmentName, InvalidEnvironmentName};
use crate::signing::{SigningAlg, UnknownAlgorithm};

/// One served environment.
#[derive(Debug, Clone)]
pub struct EnvironmentConfig {
    /// Its name.
    pub name: EnvironmentName,
    /// The algorithm its new signing keys use.
    pub alg: SigningAlg,
    /// Its issuer, `{public_url}/{name}` (filled in once the public URL is known).
    pub issuer: String,
    /// Audiences its tokens may carry, the default first ([`super::Config::audiences`]).
    pub audiences: Vec<String>,
    /// The URI of its first token status list (the one almost every token names).
    pub first_status_list: String,
}

/// The URI of status list `n` of the environment whose issuer is `issuer`.
pub fn status_list_uri(issuer: &str, n: u32) -> String {
    format!("{issuer}/statuslists/{n}")
}

/// `KEYMINT_ENVIRONMENTS` is a comma-separated list; `KEYMINT_SIGNING_ALG` is either one
/// algorithm for all or `env:ALG` pairs (a bare `ALG` among them sets the default).
pub(super) fn parse_environments(
    envs: &str,
    algs: &str,
) -> Result<Vec<EnvironmentConfig>, ConfigError> {
    let alg_err = |e: UnknownAlgorithm| invalid("KEYMINT_SIGNING_ALG", e);
    let mut default_alg = SigningAlg::Es256;
    let mut per_env = Vec::new();
    for entry in algs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match entry.split_once(':') {
            Some((env, alg)) => {
                per_env.push((env.trim().to_owned(), alg.trim().parse().map_err(alg_err)?))
            }
            None => default_alg = entry.parse().map_err(alg_err)?,
        }
    }
    let mut out: Vec<EnvironmentConfig> = Vec::new();
    for name in envs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = EnvironmentName::parse(name)
            .map_err(|e: InvalidEnvironmentName| invalid("KEYMINT_ENVIRONMENTS", e))?;
        if out.iter().any(|e| e.name == name) {
            return Err(invalid(
                "KEYMINT_ENVIRONMENTS",
                format!("{name} is listed twice"),
            ));
        }
        let alg = per_env
            .iter()
            .find(|(e, _)| e == name.as_str())
            .map_or(default_alg, |(_, a)| *a);
        out.push(EnvironmentConfig {
            name,
            alg,
            issuer: String::new(),
            audiences: Vec::new(),
            first_status_list: String::new(),
        });
    }
    if out.is_empty() {
        return Err(invalid("KEYMINT_ENVIRONMENTS", "names no environment"));
    }
    if let Some((env, _)) = per_env
        .iter()
        .find(|(e, _)| !out.iter().any(|c| c.name.as_str() == e))
    {
        return Err(invalid(
            "KEYMINT_SIGNING_ALG",
            format!("{env} is not in KEYMINT_ENVIRONMENTS"),
        ));
    }
    Ok(out)
}
