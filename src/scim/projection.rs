//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which attributes of a
//! resource an answer carries. Names are `attr`, `attr.sub`, or either prefixed with a
//! schema URN (`urn:...:core:2.0:User:userName`, `urn:...:enterprise:2.0:User:department`,
//! or the extension's URN alone for all of it), matched case-insensitively. `id`,
//! `schemas` and `meta` are always returned (RFC 7643 §3.1: `id` is "returned: always";
//! `schemas` and `meta` tell a client what it holds). Linear in the resource's size.

use serde_json::{Map, Value};

use super::filter::{ENTERPRISE_SCHEMA, USER_SCHEMA};
use super::group::GROUP_SCHEMA;

/// What always stays.
const ALWAYS: [&str; 3] = ["id", "schemas", "meta"];

/// One requested name: a top-level key of the resource and, optionally, one of its
/// sub-attributes (for an extension: one of its attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    top: String,
    sub: Option<String>,
}

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    only: Vec<Name>,
    excluded: Vec<Name>,
}

fn names(list: &str) -> Vec<Name> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(parse)
        .collect()
}

fn strip_urn<'a>(name: &'a str, urn: &str) -> Option<&'a str> {
    let head = name.get(..urn.len())?;
    head.eq_ignore_ascii_case(urn).then(|| &name[urn.len()..])
}

fn parse(name: &str) -> Name {
    if let Some(rest) = strip_urn(name, ENTERPRISE_SCHEMA) {
        let sub = rest.strip_prefix(':').filter(|s| !s.is_empty());
        return Name {
            top: ENTERPRISE_SCHEMA.to_owned(),
            sub: sub.map(|s| s.split('.').next().unwrap_or(s).to_owned()),
        };
    }
    let local = [USER_SCHEMA, GROUP_SCHEMA]
        .iter()
        .find_map(|urn| strip_urn(name, urn).and_then(|r| r.strip_prefix(':')))
        .unwrap_or(name);
    match local.split_once('.') {
        Some((top, sub)) => Name {
            top: top.to_owned(),
            sub: Some(sub.to_owned()),
        },
        None => Name {
            top: local.to_owned(),
            sub: None,
        },
    }
}

impl Projection {
    /// From the raw parameter values (absent: `None`).
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        Self {
            only: attributes.map(names).unwrap_or_default(),
            excluded: excluded.map(names).unwrap_or_default(),
        }
    }

    /// True when `attribute` (top level) is wanted in the answer.
    pub fn wants(&self, attribute: &str) -> bool {
        let named = |list: &[Name]| list.iter().any(|n| n.top.eq_ignore_ascii_case(attribute));
        let excluded_whole = self
            .excluded
            .iter()
            .any(|n| n.sub.is_none() && n.top.eq_ignore_ascii_case(attribute));
        (self.only.is_empty() || named(&self.only)) && !excluded_whole
    }

    /// `resource` with only what was asked for.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(object) = resource else {
            return resource;
        };
        let always = |key: &str| ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(key));
        let mut out = Map::new();
        for (key, value) in object {
            if always(&key) {
                out.insert(key, value);
                continue;
            }
            let value = if self.only.is_empty() {
                Some(value)
            } else {
                keep_only(&self.only, &key, value)
            };
            if let Some(value) = value.and_then(|v| drop_excluded(&self.excluded, &key, v)) {
                out.insert(key, value);
            }
        }
        Value::Object(out)
    }
}

fn matching<'a>(list: &'a [Name], key: &str) -> impl Iterator<Item = &'a Name> {
    list.iter().filter(move |n| n.top.eq_ignore_ascii_case(key))
}

/// `value` of `key` reduced to the named sub-attributes; `None` when not named at all.
fn keep_only(only: &[Name], key: &str, value: Value) -> Option<Value> {
    let named: Vec<&Name> = matching(only, key).collect();
    if named.is_empty() {
        return None;
    }
    if named.iter().any(|n| n.sub.is_none()) {
        return Some(value);
    }
    let subs: Vec<&str> = named.iter().filter_map(|n| n.sub.as_deref()).collect();
    Some(map_subs(value, |k| {
        subs.iter().any(|s| s.eq_ignore_ascii_case(k))
    }))
}

/// `value` of `key` without the excluded sub-attributes; `None` when excluded whole.
fn drop_excluded(excluded: &[Name], key: &str, value: Value) -> Option<Value> {
    let named: Vec<&Name> = matching(excluded, key).collect();
    if named.is_empty() {
        return Some(value);
    }
    if named.iter().any(|n| n.sub.is_none()) {
        return None;
    }
    let subs: Vec<&str> = named.iter().filter_map(|n| n.sub.as_deref()).collect();
    Some(map_subs(value, |k| {
        !subs.iter().any(|s| s.eq_ignore_ascii_case(k))
    }))
}

/// Keeps the members of an object (or of each object of an array) that `keep` accepts.
fn map_subs(value: Value, keep: impl Fn(&str) -> bool + Copy) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(k, _)| keep(k)).collect()),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(map) => {
                        Value::Object(map.into_iter().filter(|(k, _)| keep(k)).collect())
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "u", "schemas": [USER_SCHEMA], "meta": {"resourceType": "User"},
            "userName": "u", "displayName": "U", "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_SCHEMA: {"department": "D", "organization": "O"},
        })
    }

    #[test]
    fn excluded_attributes_leave_and_the_rest_stays() {
        let p = Projection::new(None, Some("displayName, name.givenName, emails.type"));
        let out = p.apply(user());
        assert!(out.get("displayName").is_none());
        assert_eq!(out["name"], json!({"familyName": "F"}));
        assert_eq!(out["emails"], json!([{"value": "a@x"}]));
        assert_eq!(out["userName"], "u");
        let p = Projection::new(None, Some(&format!("{ENTERPRISE_SCHEMA}:department,id")));
        let out = p.apply(user());
        assert_eq!(out[ENTERPRISE_SCHEMA], json!({"organization": "O"}));
        assert_eq!(out["id"], "u", "id is always returned");
    }

    #[test]
    fn attributes_keep_only_what_is_named_and_what_is_always_returned() {
        let p = Projection::new(
            Some(&format!("{USER_SCHEMA}:userName,NAME.givenName")),
            None,
        );
        let out = p.apply(user());
        assert_eq!(
            out,
            json!({"id": "u", "schemas": [USER_SCHEMA], "meta": {"resourceType": "User"},
                   "userName": "u", "name": {"givenName": "G"}})
        );
        assert!(p.wants("userName") && !p.wants("emails"));
        let p = Projection::new(Some(ENTERPRISE_SCHEMA), None);
        assert_eq!(p.apply(user())[ENTERPRISE_SCHEMA]["department"], "D");
    }
}
