//! Plain domain types: no I/O here.

mod api_key;
mod environment;
mod permissions;
mod user;

pub use api_key::{ApiKey, ClientId, DisabledReason, KeyCredentials};
pub use environment::{EnvironmentName, InvalidEnvironmentName};
pub use permissions::{InvalidPermission, Permissions};
pub use user::{User, UserId, UserUpsert};
