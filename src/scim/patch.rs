//! PATCH (RFC 7644 §3.5.2) on a stored resource: `add`, `replace` and `remove`, with and
//! without `path`, in the shapes directories send — Okta's path-less
//! `{"op":"replace","value":{"active":false}}`, Entra ID's capitalised ops, string
//! booleans and `emails[type eq "work"].value` paths. Attribute names match
//! case-insensitively. The result is validated as a whole by the caller.

use serde_json::{Map, Value};
use std::collections::HashSet;

use super::errors::ScimError;
use super::filter::Filter;
use super::patch_path::{Path, parse_path};

/// Longest list of operations in one request.
pub(super) const MAX_OPERATIONS: usize = 100;

/// The PatchOp message schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// Applies the operations of a PatchOp `body` to `resource`.
pub fn apply(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    let operations = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp needs an \"Operations\" array"))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "at most {MAX_OPERATIONS} operations per request"
        )));
    }
    for operation in operations {
        let kind = match operation
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(
                    "each operation needs \"op\": add, replace or remove",
                ));
            }
        };
        let path = match operation.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(parse_path(p)?),
            Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
        };
        let value = operation.get("value").cloned();
        let object = resource
            .as_object_mut()
            .ok_or_else(|| ScimError::invalid_value("the stored resource is not an object"))?;
        match (kind, path, value) {
            (Kind::Remove, None, _) => {
                return Err(ScimError::no_target("remove needs a \"path\""));
            }
            (Kind::Remove, Some(path), _) => remove(object, &path)?,
            (_, _, None) => {
                return Err(ScimError::invalid_value("add and replace need a \"value\""));
            }
            (kind, None, Some(Value::Object(values))) => {
                // Path-less: each member is an attribute (or an extension's object).
                for (name, value) in values {
                    let path = parse_path(&name)?;
                    set(object, &path, value, kind)?;
                }
            }
            (_, None, Some(_)) => {
                return Err(ScimError::invalid_value(
                    "without a \"path\", \"value\" must be an object of attributes",
                ));
            }
            (kind, Some(path), Some(value)) => set(object, &path, value, kind)?,
        }
    }
    Ok(())
}

/// The key of `name` in `object`, case-insensitively.
fn key_of(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

/// The object a path's attribute lives in (the resource, or its extension object).
fn container<'a>(
    object: &'a mut Map<String, Value>,
    path: &Path,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let Some(extension) = &path.extension else {
        return Some(object);
    };
    let key = match key_of(object, extension) {
        Some(key) => key,
        None if create => {
            object.insert(extension.clone(), Value::Object(Map::new()));
            extension.clone()
        }
        None => return None,
    };
    object.get_mut(&key)?.as_object_mut()
}

fn set(
    object: &mut Map<String, Value>,
    path: &Path,
    value: Value,
    kind: Kind,
) -> Result<(), ScimError> {
    let target = container(object, path, true)
        .ok_or_else(|| ScimError::invalid_value("the extension is not an object"))?;
    let key = key_of(target, &path.attr).unwrap_or_else(|| path.attr.clone());
    match (&path.filter, &path.sub) {
        (None, None) => {
            let merged = match (kind, target.remove(&key), value) {
                // add to a multi-valued attribute appends (RFC 7644 §3.5.2.1).
                (Kind::Add, Some(Value::Array(mut items)), Value::Array(new)) => {
                    // Linear: values already present are found through a set of their
                    // serialised forms (serde_json orders object keys, so equal values
                    // serialise alike), never by a scan per new value.
                    let mut present: HashSet<String> = items.iter().map(Value::to_string).collect();
                    for item in new {
                        if present.insert(item.to_string()) {
                            items.push(item);
                        }
                    }
                    Value::Array(items)
                }
                (Kind::Add, Some(Value::Object(mut old)), Value::Object(new)) => {
                    for (k, v) in new {
                        let k = key_of(&old, &k).unwrap_or(k);
                        old.insert(k, v);
                    }
                    Value::Object(old)
                }
                (_, _, value) => value,
            };
            target.insert(key, merged);
        }
        (None, Some(sub)) => {
            let entry = target
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            let inner = entry.as_object_mut().ok_or_else(|| {
                ScimError::invalid_path(format!("{} has no sub-attributes", path.attr))
            })?;
            let sub_key = key_of(inner, sub).unwrap_or_else(|| sub.clone());
            inner.insert(sub_key, value);
        }
        (Some(filter), sub) => {
            let items = target
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            let items = items.as_array_mut().ok_or_else(|| {
                ScimError::invalid_path(format!("{} is not multi-valued", path.attr))
            })?;
            let mut matched = false;
            for item in items.iter_mut().filter(|i| filter.matches(i)) {
                matched = true;
                match (sub, item.as_object_mut()) {
                    (Some(sub), Some(inner)) => {
                        let sub_key = key_of(inner, sub).unwrap_or_else(|| sub.clone());
                        inner.insert(sub_key, value.clone());
                    }
                    (None, _) => *item = value.clone(),
                    (Some(_), None) => {}
                }
            }
            if !matched {
                // Entra ID adds `emails[type eq "work"].value` to a user without one: the
                // element the filter describes is created (for `eq` filters).
                let mut element = Map::new();
                if let Filter::Compare(p, super::filter::Op::Eq, v) = filter {
                    element.insert(p.attr.clone(), v.clone());
                } else if kind == Kind::Replace {
                    return Err(ScimError::no_target(format!(
                        "no element of {} matches the filter",
                        path.attr
                    )));
                }
                match sub {
                    Some(sub) => {
                        element.insert(sub.clone(), value);
                    }
                    None => match value {
                        Value::Object(v) => element.extend(v),
                        _ => {
                            return Err(ScimError::invalid_value("an element must be an object"));
                        }
                    },
                }
                items.push(Value::Object(element));
            }
        }
    }
    Ok(())
}

fn remove(object: &mut Map<String, Value>, path: &Path) -> Result<(), ScimError> {
    let Some(target) = container(object, path, false) else {
        return Ok(());
    };
    let Some(key) = key_of(target, &path.attr) else {
        return Ok(());
    };
    match (&path.filter, &path.sub) {
        (None, None) => {
            target.remove(&key);
        }
        (None, Some(sub)) => {
            if let Some(inner) = target.get_mut(&key).and_then(Value::as_object_mut)
                && let Some(sub_key) = key_of(inner, sub)
            {
                inner.remove(&sub_key);
            }
        }
        (Some(filter), sub) => {
            if let Some(items) = target.get_mut(&key).and_then(Value::as_array_mut) {
                match sub {
                    None => items.retain(|i| !filter.matches(i)),
                    Some(sub) => {
                        for item in items.iter_mut().filter(|i| filter.matches(i)) {
                            if let Some(inner) = item.as_object_mut()
                                && let Some(sub_key) = key_of(inner, sub)
                            {
                                inner.remove(&sub_key);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(resource: Value, ops: Value) -> Value {
        let mut resource = resource;
        apply(
            &mut resource,
            &json!({"schemas": [PATCH_SCHEMA], "Operations": ops}),
        )
        .unwrap();
        resource
    }

    #[test]
    fn okta_and_entra_shapes_apply() {
        let user =
            json!({"userName": "a", "active": true, "emails": [{"type": "work", "value": "a@x"}]});
        let okta = patched(
            user.clone(),
            json!([{"op": "replace", "value": {"active": false}}]),
        );
        assert_eq!(okta["active"], false);
        let entra = patched(
            user.clone(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        );
        assert_eq!(
            entra["active"], "False",
            "coerced by the user parser, not here"
        );
        let email = patched(
            user.clone(),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x"}]),
        );
        assert_eq!(email["emails"], json!([{"type": "work", "value": "b@x"}]));
        let added = patched(
            json!({"userName": "a"}),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "c@x"}]),
        );
        assert_eq!(added["emails"], json!([{"type": "work", "value": "c@x"}]));
        let name = patched(
            user,
            json!([{"op": "add", "path": "name.givenName", "value": "Al"}]),
        );
        assert_eq!(name["name"]["givenName"], "Al");
    }

    #[test]
    fn multi_valued_attributes_append_replace_and_remove() {
        let user = json!({"userName": "a", "roles": [{"value": "r1"}]});
        let appended = patched(
            user.clone(),
            json!([{"op": "add", "path": "roles", "value": [{"value": "r2"}, {"value": "r1"}]}]),
        );
        assert_eq!(appended["roles"], json!([{"value": "r1"}, {"value": "r2"}]));
        let replaced = patched(
            appended.clone(),
            json!([{"op": "replace", "path": "roles", "value": [{"value": "r3"}]}]),
        );
        assert_eq!(replaced["roles"], json!([{"value": "r3"}]));
        let removed = patched(
            appended,
            json!([{"op": "remove", "path": "roles[value eq \"r1\"]"}]),
        );
        assert_eq!(removed["roles"], json!([{"value": "r2"}]));
        let cleared = patched(removed, json!([{"op": "Remove", "path": "ROLES"}]));
        assert!(cleared.get("roles").is_none());
    }

    #[test]
    fn extension_paths_and_refusals() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let user = patched(
            json!({"userName": "a"}),
            json!([{"op": "add", "path": format!("{ext}:department"), "value": "R&D"}]),
        );
        assert_eq!(user[ext]["department"], "R&D");
        let mut resource = json!({"userName": "a"});
        for bad in [
            json!({"Operations": [{"op": "remove"}]}),
            json!({"Operations": [{"op": "jump", "path": "a"}]}),
            json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": 1}]}),
            json!({"Operations": [{"op": "add", "value": "scalar"}]}),
            json!({"nothing": true}),
        ] {
            assert!(apply(&mut resource, &bad).is_err(), "{bad}");
        }
    }
}
