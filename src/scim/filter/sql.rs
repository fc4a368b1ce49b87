//! `GET /Users` and `GET /Groups` filters as SQL: whitelisted columns, numbered
//! placeholders, bound values.

use serde_json::Value;

use super::{AttrPath, Filter, InvalidFilter, Op, invalid};

/// The resource a filter selects, and so the columns it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `scim_users`.
    User,
    /// `scim_groups`.
    Group,
}

#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    /// Compared lowercased (`userName` and `displayName` are not case-exact).
    folded: bool,
}

/// A group has the member `$n` (`members eq "id"`, `members.value eq "id"`).
const HAS_MEMBER: &str = "EXISTS (SELECT 1 FROM scim_group_members m \
     WHERE m.group_id = scim_groups.id AND m.user_id = {placeholder})";

fn is_members(path: &AttrPath) -> bool {
    path.attr.eq_ignore_ascii_case("members")
        && path
            .sub
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("value"))
}

fn column(path: &AttrPath, resource: Resource) -> Result<Column, InvalidFilter> {
    let (columns, names): (&[(&str, &'static str, bool)], &str) = match resource {
        Resource::User => (
            &[
                ("id", "user_id", false),
                ("userName", "user_name_key", true),
                ("externalId", "external_id", false),
                ("displayName", "display_name_key", true),
            ],
            "id, userName, externalId or displayName",
        ),
        Resource::Group => (
            &[
                ("id", "id", false),
                ("displayName", "display_name_key", true),
                ("externalId", "external_id", false),
            ],
            "id, displayName, externalId or members",
        ),
    };
    columns
        .iter()
        .find(|(attr, _, _)| path.is(attr))
        .map(|(_, name, folded)| Column {
            name,
            folded: *folded,
        })
        .ok_or_else(|| {
            invalid(format!(
                "filtering on {:?} is not supported: use {names}",
                path.attr
            ))
        })
}

/// Translates `filter` into a SQL condition over the table of `resource`, appending its
/// values to `params` (placeholders `$first`, `$first + 1`, ...). Only `eq`, `ne` and
/// `pr` on the columns above (and `members eq` on groups) translate; anything else is
/// `invalidFilter`.
pub fn to_sql(
    filter: &Filter,
    resource: Resource,
    first: usize,
    params: &mut Vec<String>,
) -> Result<String, InvalidFilter> {
    Ok(match filter {
        Filter::And(a, b) => format!(
            "({} AND {})",
            to_sql(a, resource, first, params)?,
            to_sql(b, resource, first, params)?
        ),
        Filter::Or(a, b) => format!(
            "({} OR {})",
            to_sql(a, resource, first, params)?,
            to_sql(b, resource, first, params)?
        ),
        Filter::Not(a) => format!("(NOT {})", to_sql(a, resource, first, params)?),
        Filter::Present(path) if resource == Resource::Group && is_members(path) => {
            "EXISTS (SELECT 1 FROM scim_group_members m WHERE m.group_id = scim_groups.id)"
                .to_owned()
        }
        Filter::Present(path) => format!("({} IS NOT NULL)", column(path, resource)?.name),
        Filter::Compare(path, Op::Eq, Value::String(id))
            if resource == Resource::Group && is_members(path) =>
        {
            params.push(id.clone());
            let placeholder = format!("${}", first + params.len() - 1);
            format!("({})", HAS_MEMBER.replace("{placeholder}", &placeholder))
        }
        Filter::Compare(path, op, value) => {
            let column = column(path, resource)?;
            let Value::String(text) = value else {
                return Err(invalid(format!("{} compares with a string", path.attr)));
            };
            params.push(if column.folded {
                text.to_lowercase()
            } else {
                text.clone()
            });
            let placeholder = first + params.len() - 1;
            match op {
                Op::Eq => format!("({} = ${placeholder})", column.name),
                Op::Ne => format!(
                    "({name} IS NULL OR {name} <> ${placeholder})",
                    name = column.name
                ),
                _ => {
                    return Err(invalid(
                        "only eq, ne and pr are supported in GET /Users and /Groups filters",
                    ));
                }
            }
        }
        Filter::Any(..) => {
            return Err(invalid(
                "value filters ([...]) are supported in PATCH paths only",
            ));
        }
    })
}
