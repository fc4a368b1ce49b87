//! The SCIM Group resource (RFC 7643 §4.2): `displayName` (unique here, and the name ops
//! map permissions to), `externalId`, and `members` (Keymint user ids, kept in their own
//! table). Every other attribute is kept as sent and returned; `id` and `meta` are the
//! service provider's.

use serde_json::{Map, Value, json};

use super::errors::ScimError;
use super::user::percent_encode;
use crate::clock::rfc3339;
use crate::domain::UserId;
use crate::store::ScimGroupRecord;

/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Canonical spellings of the core attributes (names are case-insensitive).
const CANONICAL: [&str; 4] = ["schemas", "displayName", "externalId", "members"];

/// What Keymint takes from a Group resource.
#[derive(Debug, Clone)]
pub struct ScimGroup {
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `members[].value`, when the resource has `members`.
    pub members: Option<Vec<UserId>>,
    /// The attributes to store: canonical names, without `id`, `meta` and `members`.
    pub resource: Value,
}

/// The user ids of a `members` value: `[{"value": id, ...}, ...]`.
pub fn member_ids(value: &Value) -> Result<Vec<UserId>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        // One member sent bare.
        Value::Object(_) => std::slice::from_ref(value),
        _ => {
            return Err(ScimError::invalid_value(
                "members must be an array of {\"value\": USER_ID}",
            ));
        }
    };
    items
        .iter()
        .map(|item| {
            let value = item
                .get("value")
                .or_else(|| item.get("Value"))
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::invalid_value("members[].value must be a user id"))?;
            UserId::parse(value)
                .ok_or_else(|| ScimError::invalid_value(format!("{value:?} is not a user id")))
        })
        .collect()
}

impl ScimGroup {
    /// Reads a resource sent by a client.
    pub fn from_resource(body: Value) -> Result<Self, ScimError> {
        let Value::Object(object) = body else {
            return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
        };
        let mut out = Map::new();
        let mut members = None;
        for (key, value) in object {
            if ["id", "meta"].iter().any(|k| key.eq_ignore_ascii_case(k)) {
                continue;
            }
            if key.eq_ignore_ascii_case("members") {
                members = Some(member_ids(&value)?);
                continue;
            }
            let key = CANONICAL
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&key))
                .map_or(key, |c| (*c).to_owned());
            out.insert(key, value);
        }
        super::bounds::check(&out)?;
        match out.get("schemas") {
            None => {
                out.insert("schemas".into(), json!([GROUP_SCHEMA]));
            }
            Some(schemas) => {
                let listed = schemas.as_array().is_some_and(|s| {
                    s.iter().any(|u| {
                        u.as_str()
                            .is_some_and(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
                    })
                });
                if !listed {
                    return Err(ScimError::invalid_value(format!(
                        "schemas must include {GROUP_SCHEMA}"
                    )));
                }
            }
        }
        let display_name = match out.get("displayName") {
            Some(Value::String(name)) if !name.trim().is_empty() && name.len() <= 255 => {
                name.clone()
            }
            _ => {
                return Err(ScimError::invalid_value(
                    "displayName is required: 1 to 255 characters",
                ));
            }
        };
        if display_name.chars().any(char::is_control) {
            return Err(ScimError::invalid_value(
                "displayName must not contain control characters",
            ));
        }
        let external_id = match out.get("externalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(ScimError::invalid_value("externalId must be a string")),
        };
        Ok(Self {
            display_name,
            external_id,
            members,
            resource: Value::Object(out),
        })
    }
}

/// The resource as served: the stored attributes, `members` (unless left out), `id` and
/// `meta` (RFC 7643 §3.1).
pub fn render(record: &ScimGroupRecord, base: &str, with_members: bool) -> Value {
    let mut resource = record.resource.clone();
    if let Value::Object(object) = &mut resource {
        object.insert("id".into(), record.id.as_str().into());
        if with_members {
            let members: Vec<Value> = record
                .members
                .iter()
                .map(|user| {
                    json!({
                        "value": user.as_str(),
                        "$ref": format!("{base}/Users/{}", percent_encode(user.as_str())),
                        "type": "User",
                    })
                })
                .collect();
            object.insert("members".into(), Value::Array(members));
        }
        object.insert(
            "meta".into(),
            json!({
                "resourceType": "Group",
                "created": rfc3339(record.created_at),
                "lastModified": rfc3339(record.updated_at),
                "location": format!("{base}/Groups/{}", percent_encode(&record.id)),
                "version": format!("W/\"{}\"", record.version),
            }),
        );
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_split_from_the_stored_attributes() {
        let group = ScimGroup::from_resource(json!({
            "DISPLAYNAME": "Keymint Admins", "externalId": "g-1", "id": "ignored",
            "members": [{"value": "alice", "display": "Alice"}, {"value": "bob"}],
            "x-custom": [1, 2],
        }))
        .unwrap();
        assert_eq!(group.display_name, "Keymint Admins");
        assert_eq!(group.external_id.as_deref(), Some("g-1"));
        let members: Vec<&str> = group.members.iter().flatten().map(UserId::as_str).collect();
        assert_eq!(members, ["alice", "bob"]);
        assert_eq!(group.resource["displayName"], "Keymint Admins");
        assert_eq!(group.resource["x-custom"], json!([1, 2]));
        assert!(group.resource.get("members").is_none());
        assert!(group.resource.get("id").is_none());
        let bare = ScimGroup::from_resource(json!({"displayName": "x"})).unwrap();
        assert!(bare.members.is_none());
    }

    #[test]
    fn what_is_not_a_group_is_refused() {
        for bad in [
            json!([]),
            json!({}),
            json!({"displayName": ""}),
            json!({"displayName": 5}),
            json!({"displayName": "a\u{7}"}),
            json!({"displayName": "a", "members": "alice"}),
            json!({"displayName": "a", "members": [{"value": 1}]}),
            json!({"displayName": "a", "members": [{"display": "no value"}]}),
            json!({"displayName": "a", "schemas": ["urn:other"]}),
            json!({"displayName": "a", "externalId": 5}),
        ] {
            assert!(ScimGroup::from_resource(bad.clone()).is_err(), "{bad}");
        }
    }
}
