//! SCIM 2.0 (RFC 7643/7644) service provider at `/scim/v2`, so that directories (Okta,
//! Microsoft Entra ID, ...) provision and deprovision users with no glue code. A SCIM
//! user is a Keymint user (id: `externalId`, else `userName`); `roles` and
//! `entitlements` are its current permissions; `active: false` and `DELETE` have the
//! `user.deactivated` effect. A group's members hold the permissions ops map to its
//! `displayName`. `filter/` and `patch.rs` (with `members.rs` for group membership) are
//! the protocol's small languages, `user.rs` and `group.rs` the resources, `users.rs` and
//! `groups.rs` their endpoints, `wire.rs` what every endpoint shares, `discovery.rs` the
//! documents directories read first, `errors.rs` RFC 7644 §3.12 errors.

mod bounds;
pub mod discovery;
pub mod errors;
pub mod filter;
pub mod group;
pub mod groups;
pub mod members;
pub mod patch;
mod patch_path;
mod projection;
pub mod search;
pub mod token;
pub mod user;
pub mod users;
pub mod wire;

pub use token::ScimToken;

use crate::manage::Management;

/// What the SCIM endpoints need.
pub struct ScimState {
    /// The token directories present; `None`: SCIM is off.
    pub token: Option<ScimToken>,
    /// The use cases, acting as the directory (audit source `scim`).
    pub management: Management,
    /// `{KEYMINT_PUBLIC_URL}/scim/v2`, for `meta.location`.
    pub base: String,
}
