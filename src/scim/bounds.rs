//! How large a stored SCIM resource may grow. A request body is at most 64 KiB, but
//! PATCH `add` appends to what is stored, so without a cap repeated requests would grow a
//! resource (and the work of every later request on it) without end. Checked on every
//! write of a User and of a Group's attributes; a write past a cap is refused with a
//! SCIM `invalidValue` error and changes nothing.

use serde_json::{Map, Value};

use super::errors::ScimError;

/// Largest stored resource, serialised (a Group's members are stored apart and not
/// counted).
pub const MAX_RESOURCE_BYTES: usize = 64 * 1024;
/// Most values of one multi-valued attribute (`emails`, `roles`, `entitlements`, ...).
pub const MAX_VALUES: usize = 1_000;

/// Refuses `resource` if it is past either cap. Linear in its size.
pub fn check(resource: &Map<String, Value>) -> Result<(), ScimError> {
    resource
        .iter()
        .try_for_each(|(name, value)| longest_array(value, name))?;
    let bytes = serde_json::to_vec(resource).map_or(usize::MAX, |v| v.len());
    if bytes > MAX_RESOURCE_BYTES {
        return Err(ScimError::invalid_value(format!(
            "the resource would be {bytes} bytes; at most {MAX_RESOURCE_BYTES} are stored"
        )));
    }
    Ok(())
}

fn longest_array(value: &Value, name: &str) -> Result<(), ScimError> {
    match value {
        Value::Array(items) if items.len() > MAX_VALUES => Err(ScimError::invalid_value(format!(
            "{name} would hold {} values; at most {MAX_VALUES}",
            items.len()
        ))),
        Value::Array(items) => items.iter().try_for_each(|v| longest_array(v, name)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| longest_array(v, k)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value) -> Result<(), ScimError> {
        super::check(value.as_object().unwrap())
    }

    #[test]
    fn resources_past_either_cap_are_refused() {
        assert!(check(json!({"userName": "a", "emails": [{"value": "a@x"}]})).is_ok());
        let many: Vec<_> = (0..=MAX_VALUES).map(|i| json!({"value": i})).collect();
        let err = check(json!({"roles": many})).unwrap_err();
        assert!(format!("{err:?}").contains("roles"), "{err:?}");
        let big = "x".repeat(MAX_RESOURCE_BYTES);
        assert!(check(json!({"displayName": big})).is_err());
    }
}
