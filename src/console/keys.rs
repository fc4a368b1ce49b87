//! The key pages: list (filters, every key of the environment for admins), create (the
//! secret shown once), and a key's detail with its history. `key_actions.rs` holds what
//! the detail page's buttons do. Every action runs the same use case and the same access
//! rules as GraphQL.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::sync::Arc;

use super::ConsoleState;
use super::PageError;
use super::key_auth_form::{GITHUB_ACTIONS, allowed_ips, key_auth};
use super::pages::{error_page, page};
use super::session::{check_form, require};
use super::views::{
    Form, curl, environment, expiry, failed, frame, key_view, managed, refused, when,
};
use crate::domain::{Permissions, UserId};
use crate::manage::{CreateKey, CreatedKey};
use crate::store::{AuditQuery, KeyQuery};
use crate::web::form::pairs;

/// Keys read for one list page (filters apply to these).
const LIST_LIMIT: usize = 500;
/// History entries on a key's page.
const HISTORY: u32 = 50;

/// `GET /console/{env}/keys`.
pub async fn list(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let signed = require(&state, &headers).await?;
    let env = environment(&state, &env)?;
    let params: Map<String, Value> = pairs(query.as_deref().unwrap_or_default())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let text = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let (q, wanted, owner) = (text("q"), text("status"), text("owner"));
    let admin = signed.caller.is_admin();
    let owner_filter = if admin {
        UserId::parse(&owner)
    } else {
        Some(signed.caller.user.clone())
    };
    let now = state.management.now();
    let mut keys = Vec::new();
    let mut after = None;
    let mut truncated = false;
    loop {
        let page_query = KeyQuery {
            environment: env.clone(),
            owner: owner_filter.clone(),
            after,
            limit: 100,
        };
        let found = match state.management.store().list_keys(&page_query).await {
            Ok(found) => found,
            Err(e) => return Err(failed(&state, e.into()).into()),
        };
        after = found.entries.last().map(|(cursor, _)| *cursor);
        for (_, key) in found.entries {
            if !signed.caller.may_manage(&key, &env) {
                continue;
            }
            let view = key_view(&key, now);
            let matches_text = q.is_empty()
                || key.client_id.as_str().contains(&q)
                || key
                    .name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&q.to_lowercase()));
            if matches_text && (wanted.is_empty() || view["status"] == wanted.as_str()) {
                keys.push(view);
            }
        }
        if keys.len() >= LIST_LIMIT {
            keys.truncate(LIST_LIMIT);
            truncated = true;
            break;
        }
        if !found.has_next_page {
            break;
        }
    }
    let notice = match text("done").as_str() {
        "deleted" => Some(
            "The key was deleted. Tokens it issued are refused by introspection at once and expire within their lifetime.",
        ),
        _ => None,
    };
    let mut context = frame(&state, &signed, &env);
    context.insert("keys".into(), keys.into());
    context.insert("truncated".into(), truncated.into());
    context.insert("q".into(), q.into());
    context.insert("status".into(), wanted.into());
    context.insert("owner".into(), owner.into());
    context.insert("notice".into(), notice.into());
    context.insert(
        "can_create".into(),
        signed.caller.require("CreateAPIKey").is_ok().into(),
    );
    Ok(page(&state, StatusCode::OK, "keys.html", context))
}

/// `GET /console/{env}/keys/new`.
pub async fn new_key(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let signed = require(&state, &headers).await?;
    let env = environment(&state, &env)?;
    if let Err(refusal) = signed.caller.require("CreateAPIKey") {
        return Err(refused(&state, refusal).into());
    }
    let mut context = frame(&state, &signed, &env);
    let held: Vec<String> = signed.caller.ceiling().iter().map(str::to_owned).collect();
    context.insert("permissions".into(), held.into());
    context.insert("github_actions".into(), GITHUB_ACTIONS.into());
    context.insert("issuer".into(), state.config.issuer(&env).into());
    Ok(page(&state, StatusCode::OK, "new_key.html", context))
}

/// `POST /console/{env}/keys`: creates a key and shows its secret once.
pub async fn create(
    State(state): State<Arc<ConsoleState>>,
    method: Method,
    headers: HeaderMap,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let signed = require(&state, &headers).await?;
    let form = Form::parse(&body);
    check_form(&state, &signed, &method, &headers, form.get("csrf"))?;
    let env = environment(&state, &env)?;
    if let Err(refusal) = signed.caller.require("CreateAPIKey") {
        return Err(refused(&state, refusal).into());
    }
    let asked = match Permissions::parse(form.all("permission")) {
        Ok(asked) => asked,
        Err(e) => {
            return Ok(error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "Check the form",
                &e.to_string(),
            ));
        }
    };
    let permissions = match signed.caller.grant(Some(asked)) {
        Ok(p) => p,
        Err(refusal) => return Err(refused(&state, refusal).into()),
    };
    let expires_at = expiry(&state, &form)?;
    let auth = key_auth(&state, &form)?;
    let allowed_ips = allowed_ips(&state, &form)?;
    let name = form
        .get("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let created = signed
        .management(&state, None)
        .create_key(CreateKey {
            owner_id: signed.caller.user.clone(),
            environment: env.clone(),
            permissions: Some(permissions),
            name,
            expires_at,
            auth,
            allowed_ips,
        })
        .await;
    let (key, secret) = match created {
        Ok(CreatedKey {
            key,
            secret: Some(secret),
        }) => (key, secret),
        // No secret to show once: the key's page says how its clients authenticate.
        Ok(CreatedKey { key, secret: None }) => {
            let page = format!("/console/{env}/keys/{}?done=created", key.client_id);
            return Ok(axum::response::IntoResponse::into_response(
                axum::response::Redirect::to(&page),
            ));
        }
        Err(e) => return Err(failed(&state, e).into()),
    };
    let client_id = key.client_id.to_string();
    let secret = secret.expose().to_owned();
    let mut context = frame(&state, &signed, &env);
    context.insert("heading".into(), "Your new API key".into());
    context.insert(
        "curl".into(),
        curl(&state, &env, &client_id, &secret).into(),
    );
    context.insert("client_id".into(), client_id.into());
    context.insert("secret".into(), secret.into());
    Ok(page(&state, StatusCode::CREATED, "secret.html", context))
}

/// `GET /console/{env}/keys/{client_id}`.
pub async fn detail(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path((env, client_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let signed = require(&state, &headers).await?;
    let env = environment(&state, &env)?;
    let key = managed(&state, &signed, &env, &client_id).await?;
    let audit = AuditQuery {
        client_id: Some(client_id.clone()),
        limit: HISTORY,
        newest_first: true,
        ..AuditQuery::default()
    };
    let history = match state.management.store().list_audit(&audit).await {
        Ok((entries, _)) => entries,
        Err(e) => return Err(failed(&state, e.into()).into()),
    };
    let history: Vec<Value> = history
        .iter()
        .map(|e| {
            let who = e
                .actor_user_id
                .clone()
                .or_else(|| e.operator.clone())
                .unwrap_or_else(|| "Keymint".to_owned());
            json!({"at": when(e.at), "action": e.action, "who": who, "source": e.source, "reason": e.reason})
        })
        .collect();
    let notice = pairs(query.as_deref().unwrap_or_default())
        .into_iter()
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| match v.as_str() {
            "enabled" => Some("The key is enabled."),
            "renamed" => Some("The key's name is saved."),
            "created" => Some("The key is created. It has no secret: its clients authenticate as shown below."),
            "expiry" => Some("The key's expiry is saved; the token endpoint applies it at once, on every instance."),
            "networks" => Some("The networks are saved; token requests from elsewhere are refused at once, on every instance."),
            "disabled" => Some("The key is disabled: the token endpoint refuses it from now on."),
            _ => None,
        });
    let mut context = frame(&state, &signed, &env);
    context.insert("key".into(), key_view(&key, state.management.now()));
    context.insert("issuer".into(), state.config.issuer(&env).into());
    context.insert("history".into(), history.into());
    context.insert("notice".into(), notice.into());
    context.insert(
        "can_update".into(),
        signed.caller.require("UpdateAPIKey").is_ok().into(),
    );
    context.insert(
        "can_delete".into(),
        signed.caller.require("DeleteAPIKey").is_ok().into(),
    );
    Ok(page(&state, StatusCode::OK, "key.html", context))
}
