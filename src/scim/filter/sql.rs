//! `GET /Users` filters as SQL: whitelisted columns, numbered placeholders, bound values.

use serde_json::Value;

use super::{AttrPath, Filter, InvalidFilter, Op, invalid};

#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    /// Compared lowercased (`userName` and `displayName` are not case-exact).
    folded: bool,
}

fn column(path: &AttrPath) -> Result<Column, InvalidFilter> {
    let columns = [
        ("id", "user_id", false),
        ("userName", "user_name_key", true),
        ("externalId", "external_id", false),
        ("displayName", "display_name_key", true),
    ];
    columns
        .iter()
        .find(|(attr, _, _)| path.is(attr))
        .map(|(_, name, folded)| Column {
            name,
            folded: *folded,
        })
        .ok_or_else(|| {
            invalid(format!(
                "filtering on {:?} is not supported: use id, userName, externalId or displayName",
                path.attr
            ))
        })
}

/// Translates `filter` into a SQL condition over `scim_users`, appending its values to
/// `params` (placeholders `$first`, `$first + 1`, ...). Only `eq`, `ne` and `pr` on the
/// columns above translate; anything else is `invalidFilter`.
pub fn to_sql(
    filter: &Filter,
    first: usize,
    params: &mut Vec<String>,
) -> Result<String, InvalidFilter> {
    Ok(match filter {
        Filter::And(a, b) => format!(
            "({} AND {})",
            to_sql(a, first, params)?,
            to_sql(b, first, params)?
        ),
        Filter::Or(a, b) => format!(
            "({} OR {})",
            to_sql(a, first, params)?,
            to_sql(b, first, params)?
        ),
        Filter::Not(a) => format!("(NOT {})", to_sql(a, first, params)?),
        Filter::Present(path) => format!("({} IS NOT NULL)", column(path)?.name),
        Filter::Compare(path, op, value) => {
            let column = column(path)?;
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
                        "only eq, ne and pr are supported in GET /Users filters",
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
