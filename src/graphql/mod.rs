//! The management API: GraphQL at `/{env}/graphql` (contract operations `createApiKey`,
//! `apiKeys`, `updateApiKey`, `deleteApiKey`, plus `auditEvents`), and an explorer page.

mod auth;
mod errors;
mod mutation;
mod mutation_cap;
mod query;
mod types;
mod user_tokens;

use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptySubscription, Schema};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::domain::EnvironmentName;
use crate::http::AppState;

pub use auth::{AuthFailure, Caller};
pub use user_tokens::UserTokenVerifier;

/// The schema type.
pub type KeymintSchema = Schema<query::QueryRoot, mutation::MutationRoot, EmptySubscription>;

/// Hostile-query limits: nesting depth, total complexity (every field, aliases included,
/// costs 1; list fields cost their page size), and parser recursion.
const MAX_DEPTH: usize = 10;
const MAX_COMPLEXITY: usize = 2_000;
const MAX_RECURSION: usize = 32;
/// Directives on one field (Keymint defines none; `@include`/`@skip` need one each).
const MAX_DIRECTIVES: usize = 4;

/// Builds the schema once; per-request data carries the caller.
pub fn schema() -> KeymintSchema {
    Schema::build(query::QueryRoot, mutation::MutationRoot, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(MAX_RECURSION)
        .limit_directives(MAX_DIRECTIVES)
        .extension(mutation_cap::MutationCap)
        .finish()
}

/// What resolvers read from the request context.
pub(crate) struct RequestContext {
    pub state: AppState,
    pub environment: EnvironmentName,
    pub caller: Result<Caller, AuthFailure>,
    pub request_id: String,
}

/// `POST /{env}/graphql`.
pub async fn execute(
    State(state): State<AppState>,
    Path(env): Path<String>,
    request_id: Option<axum::Extension<crate::http::request_id::RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(environment) = state.config.environment(&env).map(|e| e.name.clone()) else {
        return graphql_error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown environment");
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return graphql_error(e.status(), "BAD_REQUEST", &e.body_text()),
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
            return graphql_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message);
        }
    };
    let caller = auth::authenticate(&state, &environment, &headers).await;
    let request_id = request_id.map_or_else(
        || format!("req_{}", crate::secrets::random_token(9)),
        |axum::Extension(id)| id.0,
    );
    let context = RequestContext {
        state: state.clone(),
        environment,
        caller,
        request_id,
    };
    let response = state.graphql.execute(request.data(context)).await;
    axum::Json(response).into_response()
}

/// `GET /{env}/graphql`: the GraphiQL explorer, pointed at this environment.
pub async fn explorer(State(state): State<AppState>, Path(env): Path<String>) -> Response {
    if state.config.environment(&env).is_none() {
        return graphql_error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown environment");
    }
    let endpoint = format!("/{env}/graphql");
    Html(
        GraphiQLSource::build()
            .endpoint(&endpoint)
            .title(&format!("Keymint {env}"))
            .finish(),
    )
    .into_response()
}

fn graphql_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    (status, axum::Json(body)).into_response()
}
