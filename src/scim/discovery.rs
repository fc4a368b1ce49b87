//! Discovery (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and `Schemas`, the
//! documents directories read to learn what this service provider supports.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

use super::ScimState;
use super::errors::ScimError;
use super::filter::USER_SCHEMA;
use super::group::GROUP_SCHEMA;
use super::wire::{Answer, MAX_RESULTS, authorize, scim_json};

/// What a Schema resource names as its own schema (RFC 7643 §7, with §3: every resource
/// lists the schemas it follows).
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub use super::filter::ENTERPRISE_SCHEMA;

/// `GET /ServiceProviderConfig`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "Authorization: Bearer with the value of KEYMINT_SCIM_TOKEN",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// The User resource type.
pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person or service account; its keys follow its active state",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

fn attribute(name: &str, kind: &str, multi: bool, required: bool, description: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required,
        "description": description, "caseExact": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": if name == "userName" { "server" } else { "none" },
    })
}

fn multi_valued(name: &str, description: &str) -> Value {
    let mut attr = attribute(name, "complex", true, false, description);
    attr["subAttributes"] = json!([
        attribute("value", "string", false, false, "the value"),
        attribute("display", "string", false, false, "a label"),
        attribute("type", "string", false, false, "e.g. work"),
        attribute("primary", "boolean", false, false, "the preferred one"),
    ]);
    attr
}

/// The User schema: the attributes Keymint reads, and the others it keeps.
pub fn user_schema(base: &str) -> Value {
    let mut name = attribute("name", "complex", false, false, "the person's name");
    name["subAttributes"] = json!([
        attribute("formatted", "string", false, false, "full name"),
        attribute("familyName", "string", false, false, "family name"),
        attribute("givenName", "string", false, false, "given name"),
    ]);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User account",
        "attributes": [
            attribute("userName", "string", false, true, "unique, case-insensitive; the Keymint user id unless externalId is sent"),
            attribute("externalId", "string", false, false, "the directory's id; when sent at creation, the Keymint user id"),
            attribute("displayName", "string", false, false, "name to display"),
            name,
            attribute("active", "boolean", false, false, "false disables every API key of the user"),
            multi_valued("emails", "the primary (else first) value is the user's e-mail"),
            multi_valued("roles", "each value is one of the user's current permissions"),
            multi_valued("entitlements", "each value is one of the user's current permissions"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    })
}

/// The Group resource type.
pub fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A group of users; its displayName maps to permissions its members hold",
        "schema": GROUP_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
    })
}

/// The Group schema.
pub fn group_schema(base: &str) -> Value {
    let mut display_name = attribute(
        "displayName",
        "string",
        false,
        true,
        "unique, case-insensitive; members hold the permissions ops map to this name",
    );
    display_name["uniqueness"] = json!("server");
    let mut members = attribute("members", "complex", true, false, "the users in the group");
    let mut reference = attribute(
        "$ref",
        "reference",
        false,
        false,
        "the member's User resource",
    );
    let mut member_type = attribute("type", "string", false, false, "User");
    member_type["canonicalValues"] = json!(["User"]);
    // RFC 7643 §7: a reference names the resource types it may point to; members are users.
    reference["referenceTypes"] = json!(["User"]);
    members["subAttributes"] = json!([
        attribute("value", "string", false, true, "the member's user id"),
        reference,
        member_type,
    ]);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "Group",
        "attributes": [
            display_name,
            attribute("externalId", "string", false, false, "the directory's id"),
            members,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    })
}

/// The enterprise extension schema (stored as sent; Keymint reads none of it).
pub fn enterprise_schema(base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": ENTERPRISE_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise user, stored and returned as sent",
        "attributes": [
            attribute("employeeNumber", "string", false, false, "employee number"),
            attribute("department", "string", false, false, "department"),
            attribute("organization", "string", false, false, "organization"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE_SCHEMA}")},
    })
}

/// A ListResponse of `resources` (all of them: discovery lists are short).
pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [super::wire::LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `GET /ServiceProviderConfig`.
pub async fn get_service_provider_config(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
) -> Answer {
    authorize(&state, &headers)?;
    Ok(scim_json(
        StatusCode::OK,
        &service_provider_config(&state.base),
    ))
}

/// `GET /ResourceTypes` and `/ResourceTypes/{name}`.
pub async fn get_resource_types(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Option<Path<String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let all = vec![
        user_resource_type(&state.base),
        group_resource_type(&state.base),
    ];
    match path {
        None => Ok(scim_json(StatusCode::OK, &list(all))),
        Some(Path(name)) => all
            .into_iter()
            .find(|t| t["id"] == name.as_str())
            .map(|t| scim_json(StatusCode::OK, &t))
            .ok_or_else(|| ScimError::not_found("no such resource type")),
    }
}

/// `GET /Schemas` and `/Schemas/{id}`.
pub async fn get_schemas(
    State(state): State<Arc<ScimState>>,
    headers: HeaderMap,
    path: Option<Path<String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let all = vec![
        user_schema(&state.base),
        enterprise_schema(&state.base),
        group_schema(&state.base),
    ];
    match path {
        None => Ok(scim_json(StatusCode::OK, &list(all))),
        Some(Path(id)) => all
            .into_iter()
            .find(|s| s["id"] == id.as_str())
            .map(|s| scim_json(StatusCode::OK, &s))
            .ok_or_else(|| ScimError::not_found("no such schema")),
    }
}
