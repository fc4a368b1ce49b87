//! Environment names (`production`, `sandbox`, ...).

use std::fmt;
use std::sync::Arc;

/// Route segments an environment may not be named after.
const RESERVED: &[&str] = &["hooks", "healthz", "readyz", "metrics", "openapi.json"];

/// A name that cannot be an environment.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid environment name {0:?}: use 1-32 characters a-z, 0-9, '-' or '_', starting with a letter or digit, and not a reserved route name"
)]
pub struct InvalidEnvironmentName(pub String);

/// A validated environment name; safe in URLs and file paths. Shared, so a request
/// naming its environment copies a pointer, not the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvironmentName(Arc<str>);

impl EnvironmentName {
    /// Validates `name`.
    pub fn parse(name: &str) -> Result<Self, InvalidEnvironmentName> {
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !RESERVED.contains(&name);
        if ok {
            Ok(Self(Arc::from(name)))
        } else {
            Err(InvalidEnvironmentName(name.chars().take(40).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_path_safe() {
        assert!(EnvironmentName::parse("production").is_ok());
        assert!(EnvironmentName::parse("eu-1_test").is_ok());
        for bad in ["", "Prod", "../x", "-x", "hooks", "a b", &"x".repeat(33)] {
            assert!(EnvironmentName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
