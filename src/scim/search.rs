//! `POST .search` (RFC 7644 §3.4.3): the query of a list sent as a `SearchRequest` body
//! instead of query parameters (so filters never land in access logs), on `/Users`,
//! `/Groups` and the service root (every resource type: users first, then groups).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::Value;
use std::sync::Arc;

use super::ScimState;
use super::errors::ScimError;
use super::groups::page_of_groups;
use super::users::page_of_users;
use super::wire::{Answer, ListParams, MAX_RESULTS, authorize, body_json};

/// The SearchRequest message schema.
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Reads a SearchRequest into the parameters of a list.
fn parse(body: &Value) -> Result<ListParams, ScimError> {
    let Value::Object(object) = body else {
        return Err(ScimError::invalid_syntax(
            "a SearchRequest must be a JSON object",
        ));
    };
    let get = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    if let Some(schemas) = get("schemas") {
        let listed = schemas.as_array().is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_SCHEMA))
            })
        });
        if !listed {
            return Err(ScimError::invalid_value(format!(
                "schemas must be [\"{SEARCH_SCHEMA}\"]"
            )));
        }
    }
    let mut list = ListParams::default();
    let number = |name: &str| -> Result<Option<i64>, ScimError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
        }
    };
    // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
    if let Some(start) = number("startIndex")? {
        list.start_index = start.max(1);
    }
    if let Some(count) = number("count")? {
        list.count = count.clamp(0, MAX_RESULTS);
    }
    list.filter = match get("filter") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) => Some(f.clone()),
        Some(_) => return Err(ScimError::invalid_value("filter must be a string")),
    };
    let names = |name: &str| -> Result<Option<String>, ScimError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(|v| Some(v.join(",")))
                .ok_or_else(|| ScimError::invalid_value(format!("{name} must list strings"))),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::invalid_value(format!(
                "{name} must list strings"
            ))),
        }
    };
    let (attributes, excluded) = (names("attributes")?, names("excludedAttributes")?);
    list.select(attributes.as_deref(), excluded.as_deref());
    Ok(list)
}

/// `POST /Users/.search`.
pub async fn search_users(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let list = parse(&body_json(&headers, body)?)?;
    let (total, resources) = page_of_users(&state, &list).await?;
    Ok(list.response(total, resources))
}

/// `POST /Groups/.search`.
pub async fn search_groups(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let list = parse(&body_json(&headers, body)?)?;
    let (total, resources) = page_of_groups(&state, &list).await?;
    Ok(list.response(total, resources))
}

/// `POST /.search`: users, then groups, paged as one list. A filter naming attributes
/// only one type has matches nothing of the other; one that neither understands is
/// `invalidFilter`.
pub async fn search_root(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let list = parse(&body_json(&headers, body)?)?;
    // Totals first (a page of nothing), so the window can be placed across both types.
    let totals = ListParams {
        count: 0,
        ..list.clone()
    };
    let users = page_of_users(&state, &totals).await.map(|(t, _)| t);
    let groups = page_of_groups(&state, &totals).await.map(|(t, _)| t);
    let (users_total, groups_total) = match (users, groups) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => (u.ok(), g.ok()),
    };
    let skip = list.start_index - 1;
    let mut resources = Vec::new();
    if let Some(total) = users_total
        && skip < total
    {
        resources = page_of_users(&state, &list).await?.1;
    }
    let room = list.count - resources.len() as i64;
    if groups_total.is_some() && room > 0 {
        let before = users_total.unwrap_or(0);
        let window = ListParams {
            start_index: (skip - before).max(0) + 1,
            count: room,
            ..list.clone()
        };
        resources.extend(page_of_groups(&state, &window).await?.1);
    }
    let total = users_total.unwrap_or(0) + groups_total.unwrap_or(0);
    Ok(list.response(total, resources))
}
