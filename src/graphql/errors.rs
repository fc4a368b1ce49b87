//! GraphQL errors with `extensions.code` (contract codes); never a backend message.

use async_graphql::{Error, ErrorExtensions};

use crate::manage::ManageError;

/// An error with `extensions.code = code`.
pub fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

/// `UNAUTHENTICATED`.
pub fn unauthenticated(message: impl Into<String>) -> Error {
    coded("UNAUTHENTICATED", message)
}

/// `FORBIDDEN`.
pub fn forbidden(message: impl Into<String>) -> Error {
    coded("FORBIDDEN", message)
}

/// `NOT_FOUND`.
pub fn not_found(message: impl Into<String>) -> Error {
    coded("NOT_FOUND", message)
}

/// `BAD_USER_INPUT`.
pub fn bad_input(message: impl Into<String>) -> Error {
    coded("BAD_USER_INPUT", message)
}

/// Maps a refused change to its code.
pub fn from_manage(e: ManageError) -> Error {
    match e {
        ManageError::NotFound => not_found("no such API key"),
        ManageError::Conflict | ManageError::Stale => coded(
            "CONFLICT",
            "the API key changed since you read it (stale _etag); read it again and retry",
        ),
        ManageError::OwnerInactive => forbidden("the key's owner is inactive"),
        ManageError::NotHeld(missing) => {
            forbidden(format!("the owner does not hold: {}", missing.join(", ")))
        }
        ManageError::Expired => {
            bad_input("the API key has expired and keeps its expiry; create a new key instead")
        }
        ManageError::InvalidInput(message) => bad_input(message),
        ManageError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "graphql change failed");
            coded("UNAVAILABLE", "temporarily unavailable, retry shortly")
        }
    }
}
