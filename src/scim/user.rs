//! The SCIM User resource (RFC 7643 §4.1) and what Keymint takes from it: the Keymint user
//! id (`externalId` when sent, else `userName`), `active`, the e-mail, and the current
//! permissions (`roles[].value` ∪ `entitlements[].value`). Every other attribute is kept
//! as sent and returned; `id` and `meta` are the service provider's.

use serde_json::{Map, Value, json};

use super::errors::ScimError;
use super::filter::USER_SCHEMA;
use crate::clock::rfc3339;
use crate::domain::{Permissions, UserId, UserUpsert};
use crate::store::ScimUserRecord;

/// Canonical spellings of the core attributes, so a resource sent as `username` is
/// stored and returned as `userName` (attribute names are case-insensitive).
const CANONICAL: [&str; 18] = [
    "schemas",
    "userName",
    "externalId",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "roles",
    "entitlements",
    "groups",
];

/// What Keymint takes from a User resource.
#[derive(Debug, Clone)]
pub struct ScimUser {
    /// The Keymint user id this resource provisions.
    pub id: UserId,
    /// `userName`.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active` (default true).
    pub active: bool,
    /// The user as the store upserts it.
    pub upsert: UserUpsert,
    /// The resource to store: canonical names, without `id` and `meta`.
    pub resource: Value,
}

fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ScimError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// `active` as a boolean; Entra ID sends `"True"` / `"False"` strings.
fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The `value`s of a multi-valued attribute such as `roles`.
fn values(object: &Map<String, Value>, name: &str) -> Result<Vec<String>, ScimError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        // Elements are `{"value": ...}`; a bare string is taken as its own value.
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.get("value").unwrap_or(item))
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ScimError::invalid_value(format!("{name}[].value must be a string"))
                })
            })
            .collect(),
        Some(_) => Err(ScimError::invalid_value(format!(
            "{name} must be an array of {{\"value\": ...}}"
        ))),
    }
}

/// The primary e-mail, else the first.
fn email(object: &Map<String, Value>) -> Option<String> {
    let emails = object.get("emails")?.as_array()?;
    let primary = emails
        .iter()
        .find(|e| e.get("primary").and_then(boolean) == Some(true));
    primary
        .or_else(|| emails.first())?
        .get("value")?
        .as_str()
        .map(str::to_owned)
}

/// Renames attributes to their canonical spelling and drops `id` and `meta` (the service
/// provider's) and `password` (Okta sends one; it is never stored or returned, RFC 7643
/// §4.1.1, and Keymint users have none).
fn canonical(object: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in object {
        if ["id", "meta", "password"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        let key = CANONICAL
            .iter()
            .find(|c| c.eq_ignore_ascii_case(&key))
            .map_or(key, |c| (*c).to_owned());
        out.insert(key, value);
    }
    out
}

impl ScimUser {
    /// Reads a resource sent by a client. `id` is the Keymint user id when the resource
    /// already exists (PUT, PATCH); a new one takes `externalId`, else `userName`.
    pub fn from_resource(body: Value, id: Option<&UserId>) -> Result<Self, ScimError> {
        let Value::Object(object) = body else {
            return Err(ScimError::invalid_syntax("a User must be a JSON object"));
        };
        let mut object = canonical(object);
        super::bounds::check(&object)?;
        if let Some(schemas) = object.get("schemas") {
            let listed = schemas.as_array().is_some_and(|s| {
                s.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(USER_SCHEMA))
                })
            });
            if !listed {
                return Err(ScimError::invalid_value(format!(
                    "schemas must include {USER_SCHEMA}"
                )));
            }
        } else {
            object.insert("schemas".into(), json!([USER_SCHEMA]));
        }
        let user_name = text(&object, "userName")?
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?
            .to_owned();
        let external_id = text(&object, "externalId")?.map(str::to_owned);
        let display_name = text(&object, "displayName")?.map(str::to_owned);
        // An unassigned `active` (left out, or removed by a PATCH) means active, as at
        // creation (RFC 7643 §4.1.1 leaves its meaning to the service provider); it stays
        // unassigned in the resource, so a removal takes effect and reads back as such.
        let active = match object.get("active") {
            None | Some(Value::Null) => {
                object.remove("active");
                true
            }
            Some(v) => {
                let active = boolean(v)
                    .ok_or_else(|| ScimError::invalid_value("active must be true or false"))?;
                // Stored as a boolean, whatever form it came in.
                object.insert("active".into(), Value::Bool(active));
                active
            }
        };
        let id = match id {
            Some(id) => id.clone(),
            None => UserId::parse(external_id.as_deref().unwrap_or(&user_name)).ok_or_else(
                || {
                    ScimError::invalid_value(
                        "externalId (or userName) must be 1 to 255 characters without control characters",
                    )
                },
            )?,
        };
        if UserId::parse(&user_name).is_none() {
            return Err(ScimError::invalid_value(
                "userName must be 1 to 255 characters without control characters",
            ));
        }
        let mut granted = values(&object, "roles")?;
        granted.extend(values(&object, "entitlements")?);
        let permissions = Permissions::parse(&granted)
            .map_err(|e| ScimError::invalid_value(format!("roles and entitlements: {e}")))?;
        let upsert = UserUpsert {
            id: id.clone(),
            email: email(&object),
            service_account: false,
            permissions,
        };
        Ok(Self {
            id,
            user_name,
            external_id,
            display_name,
            active,
            upsert,
            resource: Value::Object(object),
        })
    }
}

/// The resource as served: the stored attributes, `id` and `meta` (RFC 7643 §3.1).
pub fn render(record: &ScimUserRecord, base: &str) -> Value {
    let mut resource = record.resource.clone();
    if let Value::Object(object) = &mut resource {
        object.insert("id".into(), record.user_id.as_str().into());
        object.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": rfc3339(record.created_at),
                "lastModified": rfc3339(record.updated_at),
                "location": format!("{base}/Users/{}", percent_encode(record.user_id.as_str())),
                "version": format!("W/\"{}\"", record.version),
            }),
        );
    }
    resource
}

/// A path segment: everything but unreserved characters percent-encoded.
pub fn percent_encode(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_external_id_else_the_user_name() {
        let okta = json!({"schemas": [USER_SCHEMA], "userName": "a@x", "externalId": "00u1",
            "roles": [{"value": "runs:read"}], "entitlements": [{"value": "CreateAPIKey"}],
            "emails": [{"value": "home@x"}, {"value": "a@x", "primary": true}],
            "x-custom": {"kept": true}});
        let user = ScimUser::from_resource(okta, None).unwrap();
        assert_eq!(user.id.as_str(), "00u1");
        assert_eq!(user.upsert.email.as_deref(), Some("a@x"));
        let perms: Vec<&str> = user.upsert.permissions.iter().collect();
        assert_eq!(perms, ["CreateAPIKey", "runs:read"]);
        assert_eq!(user.resource["x-custom"], json!({"kept": true}));
        let plain =
            ScimUser::from_resource(json!({"USERNAME": "b", "active": "False"}), None).unwrap();
        assert_eq!((plain.id.as_str(), plain.active), ("b", false));
        assert_eq!(plain.resource["userName"], "b");
        assert_eq!(plain.resource["active"], false);
    }

    #[test]
    fn what_is_not_a_user_is_refused() {
        for bad in [
            json!([]),
            json!({}),
            json!({"userName": ""}),
            json!({"userName": 5}),
            json!({"userName": "a", "active": "maybe"}),
            json!({"userName": "a", "roles": [{"value": 1}]}),
            json!({"userName": "a", "roles": [{"value": "has space"}]}),
            json!({"userName": "a", "schemas": ["urn:other"]}),
        ] {
            assert!(ScimUser::from_resource(bad.clone(), None).is_err(), "{bad}");
        }
    }
}
