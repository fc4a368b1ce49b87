//! Permission sets. A permission is also an OAuth scope token, so it follows the
//! scope-token grammar of RFC 6749 §3.3: `1*( %x21 / %x23-5B / %x5D-7E )`.

use std::collections::BTreeSet;
use std::fmt;

/// Longest permission name accepted; anything longer is a mistake or an attack.
const MAX_PERMISSION_LEN: usize = 128;

/// A permission string that is not a valid scope token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid permission {0:?}: use 1 to 128 printable ASCII characters without spaces, quotes or backslashes"
)]
pub struct InvalidPermission(pub String);

/// The permissions Keymint itself acts on, matched exactly, with what each allows (the
/// same table as `docs/reference.md`; `keymint permissions` prints it).
pub const BUILT_IN: [(&str, &str); 5] = [
    (
        "CreateAPIKey",
        "createApiKey: a key owned by the caller, with at most the caller's permissions",
    ),
    (
        "UpdateAPIKey",
        "updateApiKey on the caller's own keys (with admin: any key of the environment): \
         enable, disable, regenerate the secret, rename, move the expiry",
    ),
    (
        "DeleteAPIKey",
        "deleteApiKey on the caller's own keys (with admin: any key of the environment)",
    ),
    (
        "IntrospectToken",
        "calling POST /{env}/oauth2/introspect with this key",
    ),
    (
        "admin",
        "widens the three key permissions and apiKeys to every key of the environment, and \
         reads auditEvents, users and user; by itself it changes nothing",
    ),
];

/// An ordered, duplicate-free set of permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeSet<String>);

impl Permissions {
    /// Parses each string, refusing anything that is not a valid scope token.
    pub fn parse<I, S>(items: I) -> Result<Self, InvalidPermission>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for item in items {
            let item = item.as_ref();
            if !is_scope_token(item) {
                return Err(InvalidPermission(truncate(item)));
            }
            set.insert(item.to_owned());
        }
        Ok(Self(set))
    }

    /// Parses a space-separated scope string (RFC 6749 §3.3).
    pub fn parse_scope(scope: &str) -> Result<Self, InvalidPermission> {
        Self::parse(scope.split(' ').filter(|s| !s.is_empty()))
    }

    /// True when every permission of `self` is in `other`.
    pub fn is_subset(&self, other: &Permissions) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Permissions of `self` missing from `other`.
    pub fn missing_from<'a>(&'a self, other: &'a Permissions) -> impl Iterator<Item = &'a str> {
        self.0.difference(&other.0).map(String::as_str)
    }

    /// True when the set holds `permission`.
    pub fn contains(&self, permission: &str) -> bool {
        self.0.contains(permission)
    }

    /// Iterates in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The permissions in `self`, `other` or both.
    pub fn union(&self, other: &Permissions) -> Permissions {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Number of permissions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The space-separated scope string.
    pub fn to_scope(&self) -> String {
        // One allocation of the exact size (a token request makes one per token).
        let len = self.0.iter().map(String::len).sum::<usize>() + self.0.len().saturating_sub(1);
        let mut scope = String::with_capacity(len);
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                scope.push(' ');
            }
            scope.push_str(p);
        }
        scope
    }

    /// JSON array text, the storage format.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Permissions that differ from a built-in one only by case (`createapikey`), each
    /// with the built-in it was probably meant to be. Keymint does not act on them.
    pub fn near_misses(&self) -> Vec<(&str, &'static str)> {
        self.iter()
            .filter_map(|p| {
                BUILT_IN
                    .iter()
                    .map(|(name, _)| *name)
                    .find(|b| b.eq_ignore_ascii_case(p) && *b != p)
                    .map(|b| (p, b))
            })
            .collect()
    }

    /// Reads the storage format back.
    pub fn from_json(text: &str) -> Result<Self, InvalidPermission> {
        let items: Vec<String> =
            serde_json::from_str(text).map_err(|_| InvalidPermission(truncate(text)))?;
        Self::parse(items)
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_scope())
    }
}

impl serde::Serialize for Permissions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PERMISSION_LEN
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn permissions_that_miss_a_built_in_by_case_are_named() {
        let set =
            Permissions::parse(["createapikey", "ADMIN", "CreateAPIKey", "runs:read"]).unwrap();
        assert_eq!(
            set.near_misses(),
            [("ADMIN", "admin"), ("createapikey", "CreateAPIKey")]
        );
        assert!(
            Permissions::parse(["UpdateAPIKey"])
                .unwrap()
                .near_misses()
                .is_empty()
        );
    }
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc6749() {
        assert!(Permissions::parse(["runs:write", "admin", "a/b.c-d_e"]).is_ok());
        for bad in ["", "has space", "quote\"", "back\\slash", "tab\t", "é"] {
            assert!(Permissions::parse([bad]).is_err(), "{bad:?} accepted");
        }
        assert!(Permissions::parse(["x".repeat(129)]).is_err());
    }

    #[test]
    fn scope_round_trip_is_sorted_and_deduplicated() {
        let p = Permissions::parse_scope("b a  b").unwrap();
        assert_eq!(p.to_scope(), "a b");
        assert_eq!(Permissions::from_json(&p.to_json()).unwrap(), p);
    }
}
