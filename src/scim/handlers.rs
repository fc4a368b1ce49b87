//! The `/scim/v2` endpoints (RFC 7644 §3): Users (create, read, filter and page, replace,
//! patch, delete) and discovery. Every request needs `Authorization: Bearer
//! $KEYMINT_SCIM_TOKEN`; without the variable SCIM is off and everything answers 404.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use super::discovery;
use super::errors::{MEDIA_TYPE, ScimError};
use super::filter::{Filter, to_sql};
use super::user::{ScimUser, render};
use super::{ScimState, patch};
use crate::domain::UserId;
use crate::manage::ManageError;
use crate::store::{ScimQuery, ScimWrite};

/// Most resources in one page (`count` above it is lowered to it).
pub const MAX_RESULTS: i64 = 100;

/// The ListResponse message schema.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

type Answer = Result<Response, ScimError>;

/// Refuses unless SCIM is on and the request carries its token.
fn authorize(state: &ScimState, headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(token) = &state.token else {
        return Err(ScimError::not_found(
            "SCIM is off: set KEYMINT_SCIM_TOKEN to turn it on",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, value) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
        });
    match presented {
        Some(value) if token.matches(value) => Ok(()),
        _ => Err(ScimError::unauthorized()),
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The JSON body of a write: `application/scim+json` or `application/json`.
fn body_json(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let body = body.map_err(|e| ScimError::status(e.status(), e.body_text()))?;
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = kind.split(';').next().unwrap_or_default().trim();
        if essence != MEDIA_TYPE && essence != "application/json" {
            return Err(ScimError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/scim+json (or application/json)",
            ));
        }
    }
    serde_json::from_slice(&body).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the body is not JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn user_id(path: Result<Path<String>, PathRejection>) -> Result<UserId, ScimError> {
    let Path(id) = path.map_err(|_| ScimError::not_found("no such user"))?;
    UserId::parse(&id).ok_or_else(|| ScimError::not_found("no such user"))
}

fn refused(e: ManageError) -> ScimError {
    match e {
        ManageError::NotFound => ScimError::not_found("no such user"),
        ManageError::Conflict => {
            ScimError::uniqueness("a user with this userName (or id) already exists")
        }
        ManageError::InvalidInput(detail) => ScimError::invalid_value(detail),
        other => {
            tracing::warn!(error = %other, "scim change failed");
            ScimError::unavailable()
        }
    }
}

/// The stored resource of `id`, or 404.
async fn stored(state: &ScimState, id: &UserId) -> Result<crate::store::ScimUserRecord, ScimError> {
    state
        .management
        .store()
        .scim_user(id)
        .await
        .map_err(|e| refused(e.into()))?
        .ok_or_else(|| ScimError::not_found("no such user"))
}

fn write_of(user: ScimUser, create: bool, expected_version: Option<i64>) -> ScimWrite {
    ScimWrite {
        upsert: user.upsert,
        active: user.active,
        user_name: user.user_name,
        external_id: user.external_id,
        display_name: user.display_name,
        resource: user.resource,
        create,
        expected_version,
    }
}

/// `GET /Users`.
pub async fn list_users(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    authorize(&state, &headers)?;
    let mut filter = None;
    let mut start_index: i64 = 1;
    let mut count: i64 = MAX_RESULTS;
    let number = |name: &str, value: &str| {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
    };
    for (name, value) in form_pairs(query.as_deref().unwrap_or_default()) {
        match name.to_ascii_lowercase().as_str() {
            "filter" => filter = Some(value),
            // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
            "startindex" => start_index = number("startIndex", &value)?.max(1),
            "count" => count = number("count", &value)?.clamp(0, MAX_RESULTS),
            "attributes" | "excludedattributes" | "sortby" | "sortorder" => {}
            _ => {}
        }
    }
    let mut params = Vec::new();
    let condition = match &filter {
        Some(text) => {
            let parsed =
                Filter::parse(text).map_err(|e| ScimError::invalid_filter(e.to_string()))?;
            Some(to_sql(&parsed, 3, &mut params).map_err(|e| ScimError::invalid_filter(e.0))?)
        }
        None => None,
    };
    let query = ScimQuery {
        condition,
        params,
        offset: start_index.saturating_sub(1),
        limit: count,
    };
    let (records, total) = state
        .management
        .store()
        .scim_users(&query)
        .await
        .map_err(|e| refused(e.into()))?;
    let resources: Vec<Value> = records.iter().map(|r| render(r, &state.base)).collect();
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

/// `application/x-www-form-urlencoded` pairs of a query string.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// `POST /Users`.
pub async fn create_user(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let user = ScimUser::from_resource(body_json(&headers, body)?, None)?;
    let outcome = state
        .management
        .scim_write(&write_of(user, true, None))
        .await
        .map_err(refused)?;
    let resource = render(&outcome.record, &state.base);
    let mut response = scim_json(StatusCode::CREATED, &resource);
    if let Some(location) = resource["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /Users/{id}`.
pub async fn get_user(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = user_id(path)?;
    let record = stored(&state, &id).await?;
    Ok(scim_json(StatusCode::OK, &render(&record, &state.base)))
}

/// `PUT /Users/{id}`: the resource replaced as a whole (the id stays).
pub async fn replace_user(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = user_id(path)?;
    let user = ScimUser::from_resource(body_json(&headers, body)?, Some(&id))?;
    let outcome = state
        .management
        .scim_write(&write_of(user, false, None))
        .await
        .map_err(refused)?;
    Ok(scim_json(
        StatusCode::OK,
        &render(&outcome.record, &state.base),
    ))
}

/// Tries of a PATCH that keeps losing the race against concurrent writes.
const PATCH_TRIES: usize = 16;

/// `PATCH /Users/{id}`: read, patch, write back if nobody wrote meanwhile (else again).
pub async fn patch_user(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = user_id(path)?;
    let body = body_json(&headers, body)?;
    for _ in 0..PATCH_TRIES {
        let current = stored(&state, &id).await?;
        let mut resource = current.resource;
        patch::apply(&mut resource, &body)?;
        let user = ScimUser::from_resource(resource, Some(&id))?;
        let write = write_of(user, false, Some(current.version));
        match state.management.scim_write(&write).await {
            Ok(outcome) => {
                return Ok(scim_json(
                    StatusCode::OK,
                    &render(&outcome.record, &state.base),
                ));
            }
            Err(ManageError::Stale) => continue,
            Err(e) => return Err(refused(e)),
        }
    }
    Err(ScimError::status(
        StatusCode::CONFLICT,
        "the user kept changing while being patched; retry",
    ))
}

/// `DELETE /Users/{id}`: the user is deactivated (keys disabled) and answers 404 from
/// then on; the user, its keys and its audit trail remain.
pub async fn delete_user(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = user_id(path)?;
    state.management.scim_delete(&id).await.map_err(refused)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
) -> Answer {
    authorize(&state, &headers)?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&state.base),
    ))
}

/// `GET /ResourceTypes` and `/ResourceTypes/User`.
pub async fn resource_types(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Option<Path<String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let user = discovery::user_resource_type(&state.base);
    match path {
        None => Ok(scim_json(StatusCode::OK, &discovery::list(vec![user]))),
        Some(Path(name)) if name == "User" => Ok(scim_json(StatusCode::OK, &user)),
        Some(_) => Err(ScimError::not_found("no such resource type")),
    }
}

/// `GET /Schemas` and `/Schemas/{id}`.
pub async fn schemas(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Option<Path<String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let all = vec![
        discovery::user_schema(&state.base),
        discovery::enterprise_schema(&state.base),
    ];
    match path {
        None => Ok(scim_json(StatusCode::OK, &discovery::list(all))),
        Some(Path(id)) => all
            .into_iter()
            .find(|s| s["id"] == id.as_str())
            .map(|s| scim_json(StatusCode::OK, &s))
            .ok_or_else(|| ScimError::not_found("no such schema")),
    }
}
