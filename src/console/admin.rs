//! The admin pages (`admin` only; anyone else gets 404, so they do not leak): users with
//! their state and key counts (and service accounts created there, with their keys), the
//! environment's signing keys with their state and a rotate button, and the audit trail
//! with filters.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use super::ConsoleState;
use super::PageError;
use super::pages::{error_page, page};
use super::session::{Signed, check_form, require};
use super::views::{Form, curl, environment, failed, frame, refused, when};
use crate::domain::{EnvironmentName, KeyAuth, Permissions, UserId, UserUpsert};
use crate::manage::access::Refusal;
use crate::manage::{CreateKey, CreatedKey, ManageError};
use crate::store::{AuditQuery, InsertWhen, UserQuery};
use crate::web::form::pairs;

/// Rows on the users and audit pages.
const ROWS: u32 = 200;

async fn admin(
    state: &ConsoleState,
    headers: &HeaderMap,
    env: &str,
) -> Result<(Signed, EnvironmentName), PageError> {
    let signed = require(state, headers).await?;
    let env = environment(state, env)?;
    if !signed.caller.is_admin() {
        return Err(error_page(
            state,
            StatusCode::NOT_FOUND,
            "No such page",
            "There is nothing at this address in the console.",
        )
        .into());
    }
    Ok((signed, env))
}

/// `GET /console/{env}/users`.
pub async fn users(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let (signed, env) = admin(&state, &headers, &env).await?;
    let after = pairs(query.as_deref().unwrap_or_default())
        .into_iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v);
    let page_query = UserQuery {
        id: None,
        after,
        limit: ROWS,
    };
    let (users, more) = match state.management.store().list_users(&page_query).await {
        Ok(found) => found,
        Err(e) => return Err(failed(&state, e.into()).into()),
    };
    let rows: Vec<Value> = users
        .iter()
        .map(|s| {
            json!({
                "id": s.user.id.as_str(),
                "active": s.user.active,
                "email": s.user.email,
                "service_account": s.user.service_account,
                "permissions": s.user.permissions.iter().collect::<Vec<_>>(),
                "keys": s.keys,
                "enabled_keys": s.enabled_keys,
            })
        })
        .collect();
    let next = more
        .then(|| users.last().map(|s| s.user.id.to_string()))
        .flatten();
    let mut context = frame(&state, &signed, &env);
    context.insert("users".into(), rows.into());
    context.insert("next".into(), next.into());
    let held: Vec<String> = signed.caller.ceiling().iter().map(str::to_owned).collect();
    context.insert("permissions".into(), held.into());
    Ok(page(&state, StatusCode::OK, "users.html", context))
}

/// `POST /console/{env}/users`: creates a service account with permissions the admin
/// holds (never a person: the directory owns those).
pub async fn create_service_account(
    State(state): State<Arc<ConsoleState>>,
    method: Method,
    headers: HeaderMap,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (signed, env) = admin(&state, &headers, &env).await?;
    let form = Form::parse(&body);
    check_form(&state, &signed, &method, &headers, form.get("csrf"))?;
    let bad = |why: &str| error_page(&state, StatusCode::BAD_REQUEST, "Check the form", why);
    let Some(id) = form.get("id").map(str::trim).and_then(UserId::parse) else {
        return Ok(bad(
            "Give the service account an id (1 to 255 characters). Nothing was created.",
        ));
    };
    let asked = match Permissions::parse(form.all("permission")) {
        Ok(p) => p,
        Err(e) => return Ok(bad(&e.to_string())),
    };
    let permissions = match signed.caller.grant(Some(asked)) {
        Ok(p) => p,
        Err(r) => return Err(refused(&state, r).into()),
    };
    let upsert = UserUpsert {
        id: id.clone(),
        email: None,
        service_account: true,
        permissions,
    };
    // Created only if the id is free, decided in the writing transaction: a person the
    // directory provisions at this moment never becomes a service account.
    Ok(
        match signed.management(&state, None).create_user(&upsert).await {
            Ok(_) => Redirect::to(&format!("/console/{env}/users")).into_response(),
            Err(ManageError::Conflict) => error_page(
                &state,
                StatusCode::CONFLICT,
                "This id is taken",
                "A user with this id exists already; pick another id. Nothing was created.",
            ),
            Err(e) => failed(&state, e),
        },
    )
}

/// `POST /console/{env}/users/{id}/keys`: a key for a service account, with its
/// permissions (which must be within the admin's own: no key stronger than its maker).
pub async fn create_service_key(
    State(state): State<Arc<ConsoleState>>,
    method: Method,
    headers: HeaderMap,
    Path((env, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (signed, env) = admin(&state, &headers, &env).await?;
    let form = Form::parse(&body);
    check_form(&state, &signed, &method, &headers, form.get("csrf"))?;
    let owner = match UserId::parse(&id) {
        Some(id) => state.management.store().get_user(&id).await,
        None => Err(crate::store::StoreError::NotFound),
    };
    let owner = match owner {
        Ok(owner) if owner.service_account => owner,
        Ok(_) => {
            return Ok(refused(
                &state,
                Refusal::Forbidden("keys of people are created by the people themselves".into()),
            ));
        }
        Err(e) => return Err(failed(&state, e.into()).into()),
    };
    if let Err(r) = signed.caller.grant(Some(owner.permissions.clone())) {
        return Err(refused(&state, r).into());
    }
    let created = signed
        .management(&state, None)
        .create_key(CreateKey {
            owner_id: owner.id.clone(),
            environment: env.clone(),
            // Exactly the set checked against the admin's ceiling above: the store
            // refuses it if the owner no longer holds all of it, and a grant raised
            // meanwhile is not frozen into a key the admin could not have made.
            permissions: Some(owner.permissions.clone()),
            name: form
                .get("name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            expires_at: None,
            auth: KeyAuth::Secret,
            allowed_ips: super::key_auth_form::allowed_ips(&state, &form)?,
        })
        .await;
    let (key, secret) = match created {
        Ok(CreatedKey {
            key,
            secret: Some(secret),
        }) => (key, secret),
        Ok(_) => return Err(failed(&state, ManageError::Unavailable("no secret".into())).into()),
        Err(e) => return Err(failed(&state, e).into()),
    };
    let client_id = key.client_id.to_string();
    let secret = secret.expose().to_owned();
    let mut context = frame(&state, &signed, &env);
    context.insert(
        "heading".into(),
        format!("A new key for {}", owner.id).into(),
    );
    context.insert(
        "curl".into(),
        curl(&state, &env, &client_id, &secret).into(),
    );
    context.insert("client_id".into(), client_id.into());
    context.insert("secret".into(), secret.into());
    Ok(page(&state, StatusCode::CREATED, "secret.html", context))
}

/// `GET /console/{env}/signing-keys`.
pub async fn signing_keys(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(env): Path<String>,
) -> Result<Response, PageError> {
    let (signed, env) = admin(&state, &headers, &env).await?;
    let keys = match state.management.store().signing_keys(Some(&env)).await {
        Ok(keys) => keys,
        Err(e) => return Err(failed(&state, e.into()).into()),
    };
    let schedule = crate::signing::Schedule {
        publish_delay: state.config.signing_publish_delay,
        token_ttl: state.config.token_ttl,
    };
    let created: Vec<_> = keys.iter().map(|k| k.created_at).collect();
    let now = state.management.now();
    let rows: Vec<Value> = keys
        .iter()
        .zip(schedule.classify(&created, now))
        .rev()
        .map(|(key, timeline)| {
            json!({
                "kid": key.kid, "alg": key.alg, "state": timeline.state.to_string(),
                "created": when(key.created_at), "signs_from": when(timeline.activates_at),
                "retires": timeline.retires_at.map(when), "sealed_under": key.encryption_key_id,
            })
        })
        .collect();
    let mut context = frame(&state, &signed, &env);
    context.insert("keys".into(), rows.into());
    Ok(page(&state, StatusCode::OK, "signing_keys.html", context))
}

/// `POST /console/{env}/signing-keys`: publishes a new signing key now (it signs after
/// the publish delay; every instance picks it up from the change feed).
pub async fn rotate(
    State(state): State<Arc<ConsoleState>>,
    method: Method,
    headers: HeaderMap,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (signed, env) = admin(&state, &headers, &env).await?;
    let form = Form::parse(&body);
    check_form(&state, &signed, &method, &headers, form.get("csrf"))?;
    let Some(alg) = state.config.environment(env.as_str()).map(|e| e.alg) else {
        return Err(failed(&state, crate::manage::ManageError::NotFound).into());
    };
    let ctx = signed.management(&state, None).context();
    Ok(
        match state.keys.create(&env, alg, InsertWhen::Always, &ctx).await {
            Ok(_) => Redirect::to(&format!("/console/{env}/signing-keys")).into_response(),
            Err(e) => {
                tracing::warn!(error = %e, "console signing-key rotation failed");
                super::session::unavailable(&state)
            }
        },
    )
}

/// The outbox of lifecycle events, as the audit page shows it: how many wait, how many
/// were set aside, and the set-aside events of this environment (and of users) with their
/// last error. `null` when the database does not answer.
async fn events_backlog(state: &ConsoleState, env: &EnvironmentName) -> Value {
    let store = state.management.store();
    let (Ok(outbox), Ok(set_aside)) = (
        store.outbox_state().await,
        store.list_events(true, 50).await,
    ) else {
        return Value::Null;
    };
    let rows: Vec<Value> = set_aside
        .iter()
        .filter(|e| {
            let body: Value = serde_json::from_str(&e.body).unwrap_or_default();
            body["data"]["environment"]
                .as_str()
                .is_none_or(|of| of == env.as_str())
        })
        .map(|e| {
            json!({"id": e.id, "type": e.kind, "subject": e.subject, "at": when(e.created_at),
                   "attempts": e.attempts, "error": e.last_error})
        })
        .collect();
    json!({
        "pending": outbox.pending,
        "set_aside": outbox.set_aside,
        "oldest": outbox.oldest_pending.map(when),
        "rows": rows,
    })
}

/// `GET /console/{env}/audit`: newest first, filtered by user, key and action.
pub async fn audit(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let (signed, env) = admin(&state, &headers, &env).await?;
    let params = pairs(query.as_deref().unwrap_or_default());
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let (user, key, action) = (param("user"), param("key"), param("action"));
    let audit = AuditQuery {
        environment: Some(env.to_string()),
        client_id: key.clone(),
        user_id: user.clone(),
        limit: if action.is_some() { 1000 } else { ROWS },
        newest_first: true,
        ..AuditQuery::default()
    };
    let entries = match state.management.store().list_audit(&audit).await {
        Ok((entries, _)) => entries,
        Err(e) => return Err(failed(&state, e.into()).into()),
    };
    let rows: Vec<Value> = entries
        .iter()
        .filter(|e| action.as_deref().is_none_or(|a| e.action.starts_with(a)))
        .take(ROWS as usize)
        .map(|e| {
            json!({
                "at": when(e.at), "action": e.action, "user": e.user_id, "key": e.client_id,
                "who": e.actor_user_id.clone().or_else(|| e.operator.clone()).unwrap_or_else(|| "Keymint".into()),
                "source": e.source, "reason": e.reason, "target": e.target,
            })
        })
        .collect();
    let mut context = frame(&state, &signed, &env);
    context.insert("events".into(), events_backlog(&state, &env).await);
    context.insert("entries".into(), rows.into());
    context.insert("user".into(), user.into());
    context.insert("key".into(), key.into());
    context.insert("action".into(), action.into());
    Ok(page(&state, StatusCode::OK, "audit.html", context))
}
