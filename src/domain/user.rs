//! Users mirrored from the organisation's directory.

use super::Permissions;
use std::fmt;
use time::OffsetDateTime;

/// The directory's id of a user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    /// Longest id accepted.
    pub const MAX_LEN: usize = 255;

    /// Validates a directory id: 1 to 255 characters, no control characters.
    pub fn parse(id: &str) -> Option<Self> {
        let ok = !id.is_empty() && id.len() <= Self::MAX_LEN && !id.chars().any(char::is_control);
        ok.then(|| Self(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user as Keymint knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Directory id.
    pub id: UserId,
    /// Optional e-mail address.
    pub email: Option<String>,
    /// True for non-human accounts.
    pub service_account: bool,
    /// Inactive users cannot use, create or enable keys.
    pub active: bool,
    /// The user's current permissions (keys keep the set they were created with): its
    /// own together with those its groups map to.
    pub permissions: Permissions,
    /// The part of `permissions` that comes from the user's groups (SCIM `/Groups` and
    /// the group mapping ops keep).
    pub group_permissions: Permissions,
    /// First seen.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// What the directory says about a user; creates or replaces its profile.
#[derive(Debug, Clone)]
pub struct UserUpsert {
    /// Directory id.
    pub id: UserId,
    /// Optional e-mail address.
    pub email: Option<String>,
    /// True for non-human accounts.
    pub service_account: bool,
    /// The complete current permission set.
    pub permissions: Permissions,
}
