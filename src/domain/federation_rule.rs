//! The rule of a federated key: which outside tokens (a CI job's, a pod's) it accepts.

use super::key_auth::{InvalidClientKeys, check_https};

/// Which outside tokens a federated key accepts: from `issuer` (its keys found through
/// `{issuer}/.well-known/openid-configuration`), whose `aud` contains `audience` (default:
/// the environment's issuer URL), whose `sub` equals `subject` when given, and whose
/// every named claim equals its value. At least one of subject and claims: never "any
/// token from GitHub".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FederationRule {
    /// The outside issuer, exactly as its tokens' `iss`.
    pub issuer: String,
    /// The `sub` required, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The audience required (`None`: the environment's issuer URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Claims that must equal these values (strings; other JSON values compare as their
    /// JSON text, so `true` matches `true`).
    #[serde(default)]
    pub claims: Vec<(String, String)>,
}

/// Most claim conditions of one rule.
pub const MAX_CONDITIONS: usize = 16;

impl FederationRule {
    /// Checks a rule before it is registered.
    pub fn check(&self) -> Result<(), InvalidClientKeys> {
        let bad = |why: String| Err(InvalidClientKeys(format!("federation: {why}")));
        check_https(&self.issuer, "issuer")?;
        if self.subject.is_none() && self.claims.is_empty() {
            return bad(
                "name a subject or at least one claim: a rule must never accept any token of its issuer".into(),
            );
        }
        if self.claims.len() > MAX_CONDITIONS {
            return bad(format!("at most {MAX_CONDITIONS} claim conditions"));
        }
        for (name, value) in &self.claims {
            let name_ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'));
            if !name_ok {
                return bad(format!("{name:?} is not a claim name"));
            }
            if matches!(name.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "sub") {
                return bad(format!(
                    "{name} is checked by the rule itself (use subject or audience)"
                ));
            }
            if value.len() > 512 || value.chars().any(char::is_control) {
                return bad(format!(
                    "the value of {name} is too long or has control characters"
                ));
            }
        }
        for (what, text) in [("subject", &self.subject), ("audience", &self.audience)] {
            if text
                .as_ref()
                .is_some_and(|t| t.is_empty() || t.len() > 512 || t.chars().any(char::is_control))
            {
                return bad(format!(
                    "{what} must be 1 to 512 characters without control characters"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_never_accepts_any_token_of_its_issuer() {
        let mut rule = FederationRule {
            issuer: "https://gitlab.example".into(),
            subject: None,
            audience: None,
            claims: vec![],
        };
        let err = rule.check().unwrap_err();
        assert!(err.0.contains("subject or at least one claim"), "{err}");
        rule.claims.push(("project_path".into(), "acme/app".into()));
        assert!(rule.check().is_ok());
        rule.claims.push(("iss".into(), "x".into()));
        assert!(rule.check().is_err());
        rule.claims.pop();
        rule.issuer = "http://gitlab.example".into();
        assert!(rule.check().is_err(), "https only");
    }
}
