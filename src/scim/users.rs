//! The `/scim/v2/Users` endpoints (RFC 7644 §3): create, read, filter and page, replace,
//! patch, delete. Every request needs `Authorization: Bearer $KEYMINT_SCIM_TOKEN`;
//! without the variable SCIM is off and everything answers 404.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;
use std::sync::Arc;

use super::errors::ScimError;
use super::filter::Resource;
use super::user::{ScimUser, render};
use super::wire::{Answer, ListParams, PATCH_TRIES, authorize, body_json, no_content, scim_json};
use super::{ScimState, patch};
use crate::domain::UserId;
use crate::manage::ManageError;
use crate::store::ScimWrite;

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
    let list = ListParams::parse(query.as_deref())?;
    let (total, resources) = page_of_users(&state, &list).await?;
    Ok(list.response(total, resources))
}

/// One page of users as `list` asks (filter, page, attributes), with the total.
pub async fn page_of_users(
    state: &ScimState,
    list: &ListParams,
) -> Result<(i64, Vec<Value>), ScimError> {
    let query = list.query(Resource::User)?;
    let (records, total) = state
        .management
        .store()
        .scim_users(&query)
        .await
        .map_err(|e| refused(e.into()))?;
    let resources = records
        .iter()
        .map(|r| list.projection.apply(render(r, &state.base)))
        .collect();
    Ok((total, resources))
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
    RawQuery(query): RawQuery,
) -> Answer {
    authorize(&state, &headers)?;
    let id = user_id(path)?;
    let selection = ListParams::parse(query.as_deref())?.projection;
    let record = stored(&state, &id).await?;
    Ok(scim_json(
        StatusCode::OK,
        &selection.apply(render(&record, &state.base)),
    ))
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
    Ok(no_content())
}
