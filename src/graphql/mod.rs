//! The management API: GraphQL at `/{env}/graphql` (contract operations `createApiKey`,
//! `apiKeys`, `updateApiKey`, `deleteApiKey`, plus `auditEvents`), and an explorer page.

mod auth;
mod errors;
pub mod explorer;
mod groups;
mod mutation;
mod mutation_cap;
mod query;
mod types;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use crate::config::Config;
use crate::domain::EnvironmentName;

use crate::manage::Management;
use crate::oauth::TokenChecker;

use crate::verifier::UserTokenVerifier;
pub use auth::{AuthFailure, Caller};

/// Every query: keys, audit, users, group mappings.
#[derive(MergedObject, Default)]
pub struct Query(query::QueryRoot, groups::GroupQuery);

/// Every mutation: keys, group mappings.
#[derive(MergedObject, Default)]
pub struct Mutation(mutation::MutationRoot, groups::GroupMutation);

/// The schema type.
pub type KeymintSchema = Schema<Query, Mutation, EmptySubscription>;

/// Hostile-query limits: nesting depth, total complexity (every field, aliases included,
/// costs 1; list fields cost their page size), and parser recursion.
const MAX_DEPTH: usize = 10;
const MAX_COMPLEXITY: usize = 2_000;
const MAX_RECURSION: usize = 32;
/// Directives on one field (Keymint defines none; `@include`/`@skip` need one each).
const MAX_DIRECTIVES: usize = 4;
/// The introspection query explorers send (GraphiQL's, graphql-js' `getIntrospectionQuery`)
/// nests `ofType` nine levels inside `__schema { types { fields { type ...` : deeper than
/// any operation on Keymint's own types. An authenticated caller's introspection-only
/// operation gets this depth instead of [`MAX_DEPTH`]; every other limit stays.
const MAX_INTROSPECTION_DEPTH: usize = 24;

/// Builds the schema once; per-request data carries the caller.
pub fn schema() -> KeymintSchema {
    schema_with_depth(MAX_DEPTH)
}

/// The same schema for introspection-only operations of authenticated callers.
pub fn introspection_schema() -> KeymintSchema {
    schema_with_depth(MAX_INTROSPECTION_DEPTH)
}

fn schema_with_depth(depth: usize) -> KeymintSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(depth)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(MAX_RECURSION)
        .limit_directives(MAX_DIRECTIVES)
        .extension(mutation_cap::MutationCap)
        .finish()
}

/// What the management API needs, built once at start-up.
pub struct GraphqlState {
    /// Configuration (environments, issuers).
    pub config: Arc<Config>,
    /// The schema (built once).
    pub schema: KeymintSchema,
    /// The schema with the introspection depth limit ([`introspection_schema`]).
    pub introspection: KeymintSchema,
    /// The use cases, acting as the system until a caller is known.
    pub management: Management,
    /// Checks of Keymint's own access tokens.
    pub tokens: Arc<TokenChecker>,
    /// Identity-provider session tokens, when configured.
    pub user_tokens: Option<Arc<UserTokenVerifier>>,
}

/// What resolvers read from the request context.
pub(crate) struct RequestContext {
    pub state: Arc<GraphqlState>,
    pub environment: EnvironmentName,
    pub caller: Result<Caller, AuthFailure>,
    pub request_id: String,
}

/// `POST /{env}/graphql`.
pub async fn execute(
    State(state): State<Arc<GraphqlState>>,
    Path(env): Path<String>,
    request_id: Option<axum::Extension<crate::web::request_id::RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(environment) = state.config.environment(&env).map(|e| e.name.clone()) else {
        return crate::web::errors::graphql(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "unknown environment",
        );
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return crate::web::errors::graphql(e.status(), "BAD_REQUEST", &e.body_text()),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let message = format!(
                "body must be a GraphQL JSON request ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            );
            return crate::web::errors::graphql(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message);
        }
    };
    let caller = auth::authenticate(&state, &environment, &headers).await;
    let schema = if caller.is_ok() && is_introspection(&request) {
        &state.introspection
    } else {
        &state.schema
    };
    let request_id =
        request_id.map_or_else(crate::web::request_id::generate, |axum::Extension(id)| id.0);
    let context = RequestContext {
        state: state.clone(),
        environment,
        caller,
        request_id,
    };
    let response = schema.execute(request.data(context)).await;
    axum::Json(response).into_response()
}

/// True when the operation `request` runs selects only introspection fields (`__schema`,
/// `__type`, `__typename`) at its top level. A query that cannot be parsed is not: the
/// ordinary schema reports its error.
fn is_introspection(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
    // Cheap test first: most requests are not introspection and are not parsed twice.
    if !request.query.contains("__") {
        return false;
    }
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let operation = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return false,
        },
        // GraphQL §6.1: without a name, the document's one operation runs.
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    operation.node.ty == OperationType::Query
        && operation.node.selection_set.node.items.iter().all(
            |item| matches!(&item.node, Selection::Field(f) if f.node.name.node.starts_with("__")),
        )
}

/// `GET /{env}/graphql`: the GraphiQL explorer, pointed at this environment, from files
/// embedded in the binary (see [`explorer::page`]).
pub async fn explorer(State(state): State<Arc<GraphqlState>>, Path(env): Path<String>) -> Response {
    if state.config.environment(&env).is_none() {
        return crate::web::errors::graphql(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "unknown environment",
        );
    }
    explorer::page(&env)
}
