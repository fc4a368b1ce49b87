//! PATCH of a Group's `members` (RFC 7644 §3.5.2) as a [`MemberChange`] the store applies
//! with one statement per member named, never by rewriting the whole list: what Entra
//! ID sends (`{"op":"Add","path":"members","value":[{"value":ID}]}`,
//! `{"op":"Remove","path":"members[value eq \"ID\"]"}`), what Okta sends (the same, and a
//! path-less `replace` of `members`), and `remove` of `members` with a value list or
//! without one (all). Operations on other attributes are handed back for
//! [`super::patch::apply`].

use serde_json::{Map, Value, json};

use super::errors::ScimError;
use super::filter::{Filter, Op};
use super::group::member_ids;
use super::patch::{MAX_OPERATIONS, PATCH_SCHEMA};
use crate::domain::UserId;
use crate::store::MemberChange;

/// Splits a Group PatchOp body into its member change and a PatchOp of the rest.
pub fn split(body: &Value) -> Result<(MemberChange, Value), ScimError> {
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
    let mut change = MemberChange::default();
    let mut rest = Vec::new();
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let path = operation.get("path").and_then(Value::as_str).map(str::trim);
        let value = operation.get("value");
        match path {
            Some(path) if path.eq_ignore_ascii_case("members") => match op.as_str() {
                "add" => add_all(&mut change, value)?,
                "replace" => {
                    change.clear();
                    add_all(&mut change, value)?;
                }
                // Without a value every member goes; with one, those listed.
                "remove" => match value {
                    None | Some(Value::Null) => change.clear(),
                    Some(value) => member_ids(value)?
                        .into_iter()
                        .for_each(|u| change.remove(u)),
                },
                _ => rest.push(operation.clone()),
            },
            Some(path) if starts_with_members_filter(path) => {
                let user = filtered_member(path)?;
                match op.as_str() {
                    "remove" => change.remove(user),
                    _ => {
                        return Err(ScimError::invalid_path(
                            "members[value eq \"ID\"] is for remove; add members with path \"members\"",
                        ));
                    }
                }
            }
            None if op == "add" || op == "replace" => {
                let Some(Value::Object(values)) = value else {
                    rest.push(operation.clone());
                    continue;
                };
                let mut others = Map::new();
                for (name, value) in values {
                    if name.eq_ignore_ascii_case("members") {
                        if op == "replace" {
                            change.clear();
                        }
                        add_all(&mut change, Some(value))?;
                    } else {
                        others.insert(name.clone(), value.clone());
                    }
                }
                if !others.is_empty() {
                    rest.push(json!({"op": op, "value": others}));
                }
            }
            _ => rest.push(operation.clone()),
        }
    }
    Ok((
        change,
        json!({"schemas": [PATCH_SCHEMA], "Operations": rest}),
    ))
}

fn add_all(change: &mut MemberChange, value: Option<&Value>) -> Result<(), ScimError> {
    let value =
        value.ok_or_else(|| ScimError::invalid_value("add and replace need a \"value\""))?;
    for user in member_ids(value)? {
        change.add(user);
    }
    Ok(())
}

fn starts_with_members_filter(path: &str) -> bool {
    path.get(..8)
        .is_some_and(|head| head.eq_ignore_ascii_case("members["))
}

/// The member of `members[value eq "ID"]` (optionally followed by nothing else).
fn filtered_member(path: &str) -> Result<UserId, ScimError> {
    let inner = path[8..]
        .strip_suffix(']')
        .ok_or_else(|| ScimError::invalid_path(format!("{path:?}: missing \"]\"")))?;
    let filter = Filter::parse(inner).map_err(|e| ScimError::invalid_filter(e.to_string()))?;
    match filter {
        Filter::Compare(attr, Op::Eq, Value::String(id)) if attr.is("value") => UserId::parse(&id)
            .ok_or_else(|| ScimError::invalid_value(format!("{id:?} is not a user id"))),
        _ => Err(ScimError::invalid_filter(
            "a members path selects with value eq \"USER_ID\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(set: &std::collections::BTreeSet<UserId>) -> Vec<&str> {
        set.iter().map(UserId::as_str).collect()
    }

    #[test]
    fn entra_id_member_operations() {
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "Add", "path": "members", "value": [{"value": "alice"}, {"value": "bob"}]},
            {"op": "Remove", "path": "members[value eq \"bob\"]"},
            {"op": "Replace", "path": "displayName", "value": "Renamed"},
        ]});
        let (change, rest) = split(&body).unwrap();
        assert!(change.replace.is_none());
        assert_eq!(ids(&change.add), ["alice"]);
        assert_eq!(ids(&change.remove), ["bob"]);
        assert_eq!(rest["Operations"].as_array().unwrap().len(), 1);
        assert_eq!(rest["Operations"][0]["path"], "displayName");
    }

    #[test]
    fn okta_and_generic_member_operations() {
        let body = json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "carol"}]},
            {"op": "replace", "value": {"displayName": "X", "members": [{"value": "dave"}]}},
            {"op": "remove", "path": "members", "value": [{"value": "dave"}]},
            {"op": "add", "path": "members", "value": [{"value": "erin"}]},
        ]});
        let (change, rest) = split(&body).unwrap();
        assert_eq!(change.replace.as_ref().map(ids), Some(vec!["erin"]));
        assert_eq!(rest["Operations"][0]["value"], json!({"displayName": "X"}));
        let all = json!({"Operations": [{"op": "remove", "path": "members"}]});
        let (change, _) = split(&all).unwrap();
        assert_eq!(change.replace.as_ref().map(ids), Some(vec![]));
    }

    #[test]
    fn malformed_member_operations_are_refused() {
        for bad in [
            json!({"Operations": [{"op": "add", "path": "members"}]}),
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": 7}]}]}),
            json!({"Operations": [{"op": "remove", "path": "members[value eq \"a\""}]}),
            json!({"Operations": [{"op": "remove", "path": "members[display eq \"a\"]"}]}),
            json!({"Operations": [{"op": "add", "path": "members[value eq \"a\"]", "value": 1}]}),
            json!({"nothing": []}),
        ] {
            assert!(split(&bad).is_err(), "{bad}");
        }
    }
}
