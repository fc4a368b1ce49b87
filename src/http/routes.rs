//! The route table: every HTTP route once, with its handler and its OpenAPI operation
//! ([`super::openapi`]). The router and `GET /openapi.json` are both built from it, so
//! the document cannot drift from what is served.

use axum::routing::{MethodRouter, delete, get, patch, post, put};
use serde_json::Value;

use super::operations as openapi;
use super::{AppState, health, landing, metrics, openapi as document};
use crate::scim::{
    discovery as scim_discovery, groups as scim_groups, search as scim_search, users as scim,
};
use crate::{events, graphql, oauth};

/// One method on one path.
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path template (`{env}` is an environment name).
    pub path: &'static str,
    /// The handler.
    pub handler: MethodRouter<AppState>,
    /// The OpenAPI operation object.
    pub operation: Value,
}

/// Every route Keymint serves.
pub fn table() -> Vec<Route> {
    let env = openapi::env_parameter();
    let route = |method, path, handler, operation| Route {
        method,
        path,
        handler,
        operation,
    };
    vec![
        route("GET", "/", get(landing::landing), openapi::landing()),
        route(
            "POST",
            "/{env}/oauth2/token",
            post(oauth::token),
            openapi::token(&env),
        ),
        route(
            "POST",
            "/{env}/oauth2/introspect",
            post(oauth::introspect),
            openapi::introspect(&env),
        ),
        route(
            "POST",
            "/{env}/oauth2/revoke",
            post(oauth::revoke),
            openapi::revoke(&env),
        ),
        route(
            "GET",
            "/{env}/.well-known/jwks.json",
            get(oauth::jwks),
            openapi::jwks(&env),
        ),
        route(
            "GET",
            "/{env}/statuslists/{n}",
            get(crate::status_list::route::status_list),
            openapi::status_list(&env),
        ),
        route(
            "GET",
            "/.well-known/oauth-authorization-server/{env}",
            get(oauth::metadata),
            openapi::metadata(&env),
        ),
        route(
            "GET",
            "/{env}/.well-known/oauth-authorization-server",
            get(oauth::metadata),
            openapi::metadata(&env),
        ),
        route(
            "GET",
            "/{env}/.well-known/openid-configuration",
            get(oauth::metadata),
            openapi::metadata(&env),
        ),
        route(
            "GET",
            "/{env}/graphql",
            get(graphql::explorer),
            openapi::explorer(&env),
        ),
        route(
            "POST",
            "/{env}/graphql",
            post(graphql::execute),
            openapi::graphql(&env),
        ),
        route(
            "POST",
            "/hooks/user-events",
            post(events::user_events),
            openapi::user_events(),
        ),
        route(
            "GET",
            "/scim/v2/Users",
            get(scim::list_users),
            openapi::scim("List users (filter, startIndex, count)"),
        ),
        route(
            "POST",
            "/scim/v2/Users",
            post(scim::create_user),
            openapi::scim("Create a user"),
        ),
        route(
            "POST",
            "/scim/v2/Users/.search",
            post(scim_search::search_users),
            openapi::scim("Search users (a SearchRequest body)"),
        ),
        route(
            "POST",
            "/scim/v2/Groups/.search",
            post(scim_search::search_groups),
            openapi::scim("Search groups (a SearchRequest body)"),
        ),
        route(
            "POST",
            "/scim/v2/.search",
            post(scim_search::search_root),
            openapi::scim("Search users, then groups (a SearchRequest body)"),
        ),
        route(
            "GET",
            "/scim/v2/Users/{id}",
            get(scim::get_user),
            openapi::scim_at("Read a user", "id"),
        ),
        route(
            "PUT",
            "/scim/v2/Users/{id}",
            put(scim::replace_user),
            openapi::scim_at("Replace a user", "id"),
        ),
        route(
            "PATCH",
            "/scim/v2/Users/{id}",
            patch(scim::patch_user),
            openapi::scim_at("Patch a user (add, replace, remove)", "id"),
        ),
        route(
            "DELETE",
            "/scim/v2/Users/{id}",
            delete(scim::delete_user),
            openapi::scim_at("Delete a user: deactivated, its keys disabled", "id"),
        ),
        route(
            "GET",
            "/scim/v2/Groups",
            get(scim_groups::list_groups),
            openapi::scim("List groups (filter, startIndex, count, excludedAttributes=members)"),
        ),
        route(
            "POST",
            "/scim/v2/Groups",
            post(scim_groups::create_group),
            openapi::scim("Create a group"),
        ),
        route(
            "GET",
            "/scim/v2/Groups/{id}",
            get(scim_groups::get_group),
            openapi::scim_at("Read a group", "id"),
        ),
        route(
            "PUT",
            "/scim/v2/Groups/{id}",
            put(scim_groups::replace_group),
            openapi::scim_at("Replace a group (members kept when left out)", "id"),
        ),
        route(
            "PATCH",
            "/scim/v2/Groups/{id}",
            patch(scim_groups::patch_group),
            openapi::scim_at(
                "Patch a group: members added and removed, attributes replaced",
                "id",
            ),
        ),
        route(
            "DELETE",
            "/scim/v2/Groups/{id}",
            delete(scim_groups::delete_group),
            openapi::scim_at("Delete a group: its members lose what it granted", "id"),
        ),
        route(
            "GET",
            "/scim/v2/ServiceProviderConfig",
            get(scim_discovery::get_service_provider_config),
            openapi::scim("What this service provider supports"),
        ),
        route(
            "GET",
            "/scim/v2/ResourceTypes",
            get(scim_discovery::get_resource_types),
            openapi::scim("Resource types"),
        ),
        route(
            "GET",
            "/scim/v2/ResourceTypes/{name}",
            get(scim_discovery::get_resource_types),
            openapi::scim_at("One resource type", "name"),
        ),
        route(
            "GET",
            "/scim/v2/Schemas",
            get(scim_discovery::get_schemas),
            openapi::scim("Schemas"),
        ),
        route(
            "GET",
            "/scim/v2/Schemas/{id}",
            get(scim_discovery::get_schemas),
            openapi::scim_at("One schema", "id"),
        ),
        route("GET", "/metrics", get(metrics::metrics), openapi::metrics()),
        route("GET", "/healthz", get(health::healthz), openapi::healthz()),
        route("GET", "/readyz", get(health::readyz), openapi::readyz()),
        route(
            "GET",
            "/openapi.json",
            get(document::serve),
            openapi::this_document(),
        ),
    ]
}
