//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a tree, bounded in size and depth, then
//! either translated to SQL for `GET /Users?filter=` (only whitelisted columns, values
//! bound) or evaluated on JSON values (the value filters of PATCH paths).

use serde_json::Value;

mod parse;
mod sql;

pub use sql::{Resource, to_sql};

/// Longest filter accepted, in bytes.
pub(super) const MAX_LEN: usize = 2048;
/// Deepest nesting of parentheses, `not` and value paths.
pub(super) const MAX_DEPTH: usize = 16;

/// A malformed or unsupported filter (`scimType: invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

pub(super) fn invalid(message: impl Into<String>) -> InvalidFilter {
    InvalidFilter(message.into())
}

/// An attribute path: `name` or `name.sub`, schema URN prefix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The attribute.
    pub attr: String,
    /// Its sub-attribute.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:...:]attr[.sub]`.
    pub fn parse(text: &str) -> Result<Self, InvalidFilter> {
        let local = strip_schema(text);
        let (attr, sub) = match local.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (local, None),
        };
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !name_ok(attr) || sub.is_some_and(|s| !name_ok(s)) {
            return Err(invalid(format!("{text:?} is not an attribute path")));
        }
        Ok(Self {
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// True when this path is `attr` (no sub-attribute), case-insensitively.
    pub fn is(&self, attr: &str) -> bool {
        self.sub.is_none() && self.attr.eq_ignore_ascii_case(attr)
    }
}

/// The schema URNs whose prefix a path may carry (the core User schema's attributes are
/// top-level; the enterprise extension is matched by callers through the full path).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The enterprise User extension (RFC 7643 §4.3), accepted and stored as sent.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// `urn:ietf:params:scim:schemas:core:2.0:User:userName` -> `userName`.
fn strip_schema(text: &str) -> &str {
    match text.get(..USER_SCHEMA.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(USER_SCHEMA) => text
            .get(USER_SCHEMA.len() + 1..)
            .filter(|_| text.as_bytes().get(USER_SCHEMA.len()) == Some(&b':'))
            .unwrap_or(text),
        _ => text,
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// `path op value`.
    Compare(AttrPath, Op, Value),
    /// `path pr`.
    Present(AttrPath),
    /// `path[filter]`: some element of the multi-valued `path` matches.
    Any(AttrPath, Box<Filter>),
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(text: &str) -> Result<Self, InvalidFilter> {
        if text.len() > MAX_LEN {
            return Err(invalid(format!("longer than {MAX_LEN} bytes")));
        }
        let mut parser = parse::Parser::new(parse::tokenize(text)?);
        let filter = parser.or(0)?;
        if !parser.done() {
            return Err(invalid("unexpected text after the filter"));
        }
        Ok(filter)
    }

    /// True when `element` (an object, e.g. one of `emails`) matches. Strings compare
    /// case-insensitively (the default of RFC 7643 §2.2).
    pub fn matches(&self, element: &Value) -> bool {
        match self {
            Self::And(a, b) => a.matches(element) && b.matches(element),
            Self::Or(a, b) => a.matches(element) || b.matches(element),
            Self::Not(a) => !a.matches(element),
            Self::Present(path) => lookup(element, path).is_some_and(|v| !v.is_null()),
            Self::Compare(path, op, value) => {
                lookup(element, path).is_some_and(|found| compare(found, *op, value))
            }
            Self::Any(path, inner) => match lookup(element, path) {
                Some(Value::Array(items)) => items.iter().any(|i| inner.matches(i)),
                Some(item) => inner.matches(item),
                None => false,
            },
        }
    }
}

/// The value at `path` in `object` (attribute names case-insensitive); for a bare
/// sub-attribute filter inside brackets (`type eq "work"`) `path.attr` is the sub-attribute.
fn lookup<'a>(object: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let get = |v: &'a Value, name: &str| -> Option<&'a Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let top = get(object, &path.attr)?;
    match &path.sub {
        None => Some(top),
        Some(sub) => get(top, sub),
    }
}

fn compare(found: &Value, op: Op, value: &Value) -> bool {
    match (found, value) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (a, b) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_directories_send_parses_and_translates() {
        let filter = Filter::parse(r#"userName eq "Alice@Example.com""#).unwrap();
        let mut params = Vec::new();
        assert_eq!(
            to_sql(&filter, Resource::User, 3, &mut params).unwrap(),
            "(user_name_key = $3)"
        );
        assert_eq!(params, ["alice@example.com"]);

        let filter =
            Filter::parse(r#"(externalId eq "00u1") or (userName eq "bob" and not (id pr))"#)
                .unwrap();
        let mut params = Vec::new();
        assert_eq!(
            to_sql(&filter, Resource::User, 1, &mut params).unwrap(),
            "((external_id = $1) OR ((user_name_key = $2) AND (NOT (user_id IS NOT NULL))))"
        );
        // What Entra ID sends to check a membership.
        let filter = Filter::parse(r#"id eq "g1" and members eq "u1""#).unwrap();
        let mut params = Vec::new();
        let sql = to_sql(&filter, Resource::Group, 3, &mut params).unwrap();
        assert!(sql.starts_with("((id = $3) AND (EXISTS (SELECT 1 FROM scim_group_members"));
        assert!(sql.ends_with("m.user_id = $4)))"), "{sql}");
        assert_eq!(params, ["g1", "u1"]);
        let members = Filter::parse(r#"members eq "u1""#).unwrap();
        assert!(to_sql(&members, Resource::User, 1, &mut Vec::new()).is_err());
        let urn = Filter::parse(&format!("{USER_SCHEMA}:userName EQ \"x\"")).unwrap();
        assert!(matches!(urn, Filter::Compare(ref p, Op::Eq, _) if p.is("userName")));
    }

    #[test]
    fn malformed_and_unsupported_filters_are_refused() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName xx \"a\"",
            "userName eq \"a",
            "(userName eq \"a\"",
            "userName eq \"a\" extra",
            "userName eq bare",
            "1abc eq \"a\"",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(Filter::parse(&deep).is_err());
        assert!(Filter::parse(&"a".repeat(5000)).is_err());
        for unsupported in [
            "emails.value eq \"a\"",
            "userName co \"a\"",
            "active eq true",
        ] {
            let filter = Filter::parse(unsupported).unwrap();
            assert!(
                to_sql(&filter, Resource::User, 1, &mut Vec::new()).is_err(),
                "{unsupported}"
            );
        }
    }

    #[test]
    fn value_filters_match_elements_case_insensitively() {
        let filter = Filter::parse(r#"type eq "WORK" and primary eq true"#).unwrap();
        assert!(filter.matches(&json!({"type": "work", "primary": true, "value": "a@x"})));
        assert!(!filter.matches(&json!({"type": "home", "primary": true})));
        let filter = Filter::parse(r#"value sw "a@""#).unwrap();
        assert!(filter.matches(&json!({"Value": "A@x"})));
    }
}
