//! User-lifecycle events from the directory: `{"type": ..., "data": {...}}`.

use serde::Deserialize;
use serde_json::Value;

use super::{Permissions, UserId, UserUpsert};

/// An event Keymint cannot apply; the message is safe to show to the sender.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidEvent(pub String);

/// What the directory says happened to a user.
#[derive(Debug, Clone)]
pub enum UserEvent {
    /// `user.upserted`: create or update profile and current permissions.
    Upserted(UserUpsert),
    /// `user.deactivated`: the user and all of its keys stop working.
    Deactivated(UserId),
    /// `user.reactivated`: the user may have keys again; disabled keys stay disabled.
    Reactivated(UserId),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    data: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpsertData {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    service_account: bool,
    permissions: Vec<String>,
}

#[derive(Deserialize)]
struct IdData {
    id: String,
}

impl UserEvent {
    /// Parses a whole event body.
    pub fn from_json(body: &[u8]) -> Result<Self, InvalidEvent> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
            InvalidEvent(format!("body must be a JSON object with \"type\" and \"data\" ({:?} error at line {} column {})", e.classify(), e.line(), e.column()))
        })?;
        Self::from_parts(&envelope.kind, envelope.data)
    }

    /// Parses an event from its type and data (a `keymint_user_events` row).
    pub fn from_parts(kind: &str, data: Value) -> Result<Self, InvalidEvent> {
        let bad_data = |e: serde_json::Error| InvalidEvent(format!("invalid data for {kind}: {e}"));
        let user_id = |id: &str| {
            UserId::parse(id).ok_or_else(|| {
                InvalidEvent(
                    "data.id must be 1 to 255 characters without control characters".into(),
                )
            })
        };
        match kind {
            "user.upserted" => {
                let d: UpsertData = serde_json::from_value(data).map_err(bad_data)?;
                let permissions =
                    Permissions::parse(&d.permissions).map_err(|e| InvalidEvent(e.to_string()))?;
                Ok(Self::Upserted(UserUpsert {
                    id: user_id(&d.id)?,
                    email: d.email,
                    service_account: d.service_account,
                    permissions,
                }))
            }
            "user.deactivated" => Ok(Self::Deactivated(user_id(
                &serde_json::from_value::<IdData>(data).map_err(bad_data)?.id,
            )?)),
            "user.reactivated" => Ok(Self::Reactivated(user_id(
                &serde_json::from_value::<IdData>(data).map_err(bad_data)?.id,
            )?)),
            other => Err(InvalidEvent(format!(
                "unknown event type {:?}: expected user.upserted, user.deactivated or user.reactivated",
                other.chars().take(60).collect::<String>()
            ))),
        }
    }

    /// The user the event is about.
    pub fn user_id(&self) -> &UserId {
        match self {
            Self::Upserted(u) => &u.id,
            Self::Deactivated(id) | Self::Reactivated(id) => id,
        }
    }

    /// The event's wire type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Upserted(_) => "user.upserted",
            Self::Deactivated(_) => "user.deactivated",
            Self::Reactivated(_) => "user.reactivated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_events() {
        let up = UserEvent::from_json(br#"{"type":"user.upserted","data":{"id":"u1","email":"a@b","serviceAccount":true,"permissions":["x"]}}"#).unwrap();
        match up {
            UserEvent::Upserted(u) => {
                assert_eq!(u.id.as_str(), "u1");
                assert!(u.service_account);
                assert_eq!(u.permissions.to_scope(), "x");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            UserEvent::from_json(br#"{"type":"user.deactivated","data":{"id":"u1"}}"#),
            Ok(UserEvent::Deactivated(_))
        ));
        assert!(matches!(
            UserEvent::from_json(br#"{"type":"user.reactivated","data":{"id":"u1"}}"#),
            Ok(UserEvent::Reactivated(_))
        ));
    }

    #[test]
    fn refuses_unknown_types_and_bad_data() {
        assert!(
            UserEvent::from_json(br#"{"type":"user.deleted","data":{"id":"u1"}}"#)
                .unwrap_err()
                .0
                .contains("unknown event type")
        );
        assert!(
            UserEvent::from_json(br#"{"type":"user.upserted","data":{"id":"u1"}}"#).is_err(),
            "permissions are required"
        );
        assert!(UserEvent::from_json(br#"{"type":"user.deactivated","data":{}}"#).is_err());
        assert!(UserEvent::from_json(br#"{"type":"user.deactivated","data":{"id":""}}"#).is_err());
        assert!(UserEvent::from_json(b"not json").is_err());
    }
}
