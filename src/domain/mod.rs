//! Plain domain types and the rules over them: no I/O here.

mod api_key;
mod audit;
mod environment;
mod key_update;
mod permissions;
mod user;
mod user_event;

pub use api_key::{ApiKey, ClientId, DisabledReason, KeyCredentials, StoredSecret, secret_version};
pub use audit::{Actor, AuditAction, AuditEvent, ChangeSource};
pub use environment::{EnvironmentName, InvalidEnvironmentName};
pub use key_update::{
    Activation, KeyEdit, NewSecret, UpdatePlan, UpdateRefused, frozen_permissions, plan_update,
};
pub use permissions::{BUILT_IN, InvalidPermission, Permissions};
pub use user::{User, UserId, UserUpsert};
pub use user_event::{InvalidEvent, UserEvent};
