//! Discovery (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and `Schemas`, the
//! documents directories read to learn what this service provider supports.

use serde_json::{Value, json};

use super::filter::USER_SCHEMA;
use super::handlers::MAX_RESULTS;

/// The enterprise User extension (RFC 7643 §4.3), accepted and stored as sent.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

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

/// The enterprise extension schema (stored as sent; Keymint reads none of it).
pub fn enterprise_schema(base: &str) -> Value {
    json!({
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
        "schemas": [super::handlers::LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
