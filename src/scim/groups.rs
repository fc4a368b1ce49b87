//! The `/scim/v2/Groups` endpoints (RFC 7644 §3): create, read, filter and page, replace,
//! patch (members one statement each), delete. A group's `displayName` is unique and is
//! the name ops map permissions to; members are Keymint user ids.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;
use std::sync::Arc;

use super::errors::ScimError;
use super::filter::Resource;
use super::group::{ScimGroup, render};
use super::wire::{Answer, ListParams, PATCH_TRIES, authorize, body_json, no_content, scim_json};
use super::{ScimState, members, patch};
use crate::manage::ManageError;
use crate::random::{Random, SystemRandom};
use crate::store::{MemberChange, ScimGroupRecord, ScimGroupWrite};

/// Longest group id accepted in a path (ids Keymint assigns are 22 characters).
const MAX_ID: usize = 64;

fn group_id(path: Result<Path<String>, PathRejection>) -> Result<String, ScimError> {
    match path {
        Ok(Path(id)) if !id.is_empty() && id.len() <= MAX_ID => Ok(id),
        _ => Err(ScimError::not_found("no such group")),
    }
}

fn refused(e: ManageError) -> ScimError {
    match e {
        ManageError::NotFound => ScimError::not_found("no such group"),
        ManageError::Conflict => {
            ScimError::uniqueness("a group with this displayName already exists")
        }
        ManageError::InvalidInput(detail) => ScimError::invalid_value(detail),
        other => {
            tracing::warn!(error = %other, "scim group change failed");
            ScimError::unavailable()
        }
    }
}

async fn stored(state: &ScimState, id: &str, members: bool) -> Result<ScimGroupRecord, ScimError> {
    state
        .management
        .store()
        .scim_group(id, members)
        .await
        .map_err(|e| refused(e.into()))?
        .ok_or_else(|| ScimError::not_found("no such group"))
}

fn write_of(
    id: String,
    group: ScimGroup,
    members: MemberChange,
    create: bool,
    expected_version: Option<i64>,
) -> ScimGroupWrite {
    ScimGroupWrite {
        id,
        display_name: group.display_name,
        external_id: group.external_id,
        resource: group.resource,
        members,
        create,
        expected_version,
    }
}

/// The group as stored now, with its members, rendered.
async fn answer(state: &ScimState, id: &str, status: StatusCode) -> Answer {
    let record = stored(state, id, true).await?;
    let resource = render(&record, &state.base, true);
    let mut response = scim_json(status, &resource);
    if status == StatusCode::CREATED
        && let Some(location) = resource["meta"]["location"]
            .as_str()
            .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /Groups`.
pub async fn list_groups(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    authorize(&state, &headers)?;
    let list = ListParams::parse(query.as_deref())?;
    let (total, resources) = page_of_groups(&state, &list).await?;
    Ok(list.response(total, resources))
}

/// One page of groups as `list` asks (filter, page, attributes), with the total.
pub async fn page_of_groups(
    state: &ScimState,
    list: &ListParams,
) -> Result<(i64, Vec<Value>), ScimError> {
    let query = list.query(Resource::Group)?;
    let (records, total) = state
        .management
        .store()
        .scim_groups(&query, list.members)
        .await
        .map_err(|e| refused(e.into()))?;
    let resources = records
        .iter()
        .map(|r| list.projection.apply(render(r, &state.base, list.members)))
        .collect();
    Ok((total, resources))
}

/// `POST /Groups`.
pub async fn create_group(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let mut group = ScimGroup::from_resource(body_json(&headers, body)?)?;
    let members = MemberChange::replace_with(group.members.take().unwrap_or_default());
    let id = SystemRandom.token(16);
    let write = write_of(id, group, members, true, None);
    let record = state
        .management
        .scim_group_write(&write)
        .await
        .map_err(refused)?;
    answer(&state, &record.id, StatusCode::CREATED).await
}

/// `GET /Groups/{id}`.
pub async fn get_group(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    authorize(&state, &headers)?;
    let id = group_id(path)?;
    let selection = ListParams::parse(query.as_deref())?;
    let record = stored(&state, &id, selection.members).await?;
    Ok(scim_json(
        StatusCode::OK,
        &selection
            .projection
            .apply(render(&record, &state.base, selection.members)),
    ))
}

/// `PUT /Groups/{id}`: the attributes replaced; `members` replaced when sent, kept when
/// left out (a rename that omits them must not empty the group).
pub async fn replace_group(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = group_id(path)?;
    let mut group = ScimGroup::from_resource(body_json(&headers, body)?)?;
    let members = group
        .members
        .take()
        .map(MemberChange::replace_with)
        .unwrap_or_default();
    let write = write_of(id.clone(), group, members, false, None);
    state
        .management
        .scim_group_write(&write)
        .await
        .map_err(refused)?;
    answer(&state, &id, StatusCode::OK).await
}

/// `PATCH /Groups/{id}`: members added and removed one by one; other attributes patched
/// on the stored resource, written back if nobody wrote meanwhile (else again). Answers
/// 204 (RFC 7644 §3.5.2), so a large group is never sent back for a one-member change.
pub async fn patch_group(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = group_id(path)?;
    let body = body_json(&headers, body)?;
    let (change, rest) = members::split(&body)?;
    for _ in 0..PATCH_TRIES {
        let current = stored(&state, &id, false).await?;
        let mut resource = current.resource;
        patch::apply(&mut resource, &rest)?;
        let mut group = ScimGroup::from_resource(resource)?;
        // A members value patched onto the attributes (an odd path such as
        // "members.value") is refused rather than half applied.
        if group.members.take().is_some() {
            return Err(ScimError::invalid_path(
                "patch members with path \"members\" or \"members[value eq ...]\"",
            ));
        }
        let write = write_of(
            id.clone(),
            group,
            change.clone(),
            false,
            Some(current.version),
        );
        match state.management.scim_group_write(&write).await {
            Ok(_) => return Ok(no_content()),
            Err(ManageError::Stale) => continue,
            Err(e) => return Err(refused(e)),
        }
    }
    Err(ScimError::status(
        StatusCode::CONFLICT,
        "the group kept changing while being patched; retry",
    ))
}

/// `DELETE /Groups/{id}`: its members leave it (and lose what it granted).
pub async fn delete_group(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = group_id(path)?;
    state
        .management
        .scim_group_delete(&id)
        .await
        .map_err(refused)?;
    Ok(no_content())
}
