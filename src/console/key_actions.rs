//! What a key page's buttons do: rename, move the expiry, enable, disable, roll the secret
//! (with an overlap for the old one: now, 1 h or 24 h) and delete (confirmed). Every form
//! carries the key's etag, so a change made meanwhile elsewhere is refused, not
//! overwritten. The same use cases and access rules as GraphQL's `updateApiKey` and
//! `deleteApiKey`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

use super::ConsoleState;
use super::PageError;
use super::key_auth_form::allowed_ips;
use super::pages::{error_page, page};
use super::session::{check_form, require};
use super::views::{
    Form, curl, environment, expiry, failed, frame, managed, not_found, refused, when,
};
use crate::domain::KeyEdit;
use crate::manage::{KeyChangeRequest, ManageError};

/// `POST /console/{env}/keys/{client_id}/{rename|expiry|networks|enable|disable|roll|delete}`.
pub async fn act(
    State(state): State<Arc<ConsoleState>>,
    method: Method,
    headers: HeaderMap,
    Path((env, client_id, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let signed = require(&state, &headers).await?;
    let form = Form::parse(&body);
    check_form(&state, &signed, &method, &headers, form.get("csrf"))?;
    let env = environment(&state, &env)?;
    let needs = if action == "delete" {
        "DeleteAPIKey"
    } else {
        "UpdateAPIKey"
    };
    if let Err(refusal) = signed.caller.require(needs) {
        return Err(refused(&state, refusal).into());
    }
    let key = managed(&state, &signed, &env, &client_id).await?;
    let etag = form.get("etag").map(str::to_owned);
    let manage = signed.management(&state, None);
    let back = |done: &str| {
        Redirect::to(&format!("/console/{env}/keys/{client_id}?done={done}")).into_response()
    };
    Ok(match action.as_str() {
        // "as it is": nothing to change.
        "expiry" if form.get("expiry") == Some("keep") => back("unchanged"),
        "rename" | "expiry" | "networks" => {
            let edit = match action.as_str() {
                "rename" => {
                    let name = form.get("name").map(str::trim).filter(|n| !n.is_empty());
                    KeyEdit {
                        name: Some(name.map(str::to_owned)),
                        ..KeyEdit::default()
                    }
                }
                "expiry" => KeyEdit {
                    expires_at: Some(expiry(&state, &form)?),
                    ..KeyEdit::default()
                },
                _ => KeyEdit {
                    allowed_ips: Some(allowed_ips(&state, &form)?),
                    ..KeyEdit::default()
                },
            };
            let change = KeyChangeRequest {
                edit,
                ..KeyChangeRequest::default()
            };
            match manage.update_key(&key.client_id, change, etag).await {
                Ok(_) => back(match action.as_str() {
                    "rename" => "renamed",
                    "expiry" => "expiry",
                    _ => "networks",
                }),
                Err(e) => failed(&state, e),
            }
        }
        "enable" | "disable" => {
            let change = KeyChangeRequest {
                enabled: Some(action == "enable"),
                ..KeyChangeRequest::default()
            };
            match manage.update_key(&key.client_id, change, etag).await {
                Ok(_) => back(if action == "enable" {
                    "enabled"
                } else {
                    "disabled"
                }),
                Err(e) => failed(&state, e),
            }
        }
        "roll" => {
            if let Err(refusal) = signed.caller.may_receive_secret_of(&key) {
                return Err(refused(&state, refusal).into());
            }
            let grace = match form.get("grace").unwrap_or("0") {
                "0" => None,
                "3600" => Some(time::Duration::hours(1)),
                "86400" => Some(time::Duration::hours(24)),
                _ => {
                    return Ok(error_page(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "Check the form",
                        "Pick how long the old secret keeps working. Nothing was changed.",
                    ));
                }
            };
            let change = KeyChangeRequest {
                regenerate_secret: true,
                grace,
                ..KeyChangeRequest::default()
            };
            match manage.update_key(&key.client_id, change, etag).await {
                Ok(updated) => {
                    let Some(secret) = updated.secret else {
                        return Err(
                            failed(&state, ManageError::Unavailable("no secret".into())).into()
                        );
                    };
                    let secret = secret.expose().to_owned();
                    let mut context = frame(&state, &signed, &env);
                    context.insert("heading".into(), "The key's new secret".into());
                    context.insert(
                        "curl".into(),
                        curl(&state, &env, &client_id, &secret).into(),
                    );
                    context.insert("client_id".into(), client_id.clone().into());
                    context.insert("secret".into(), secret.into());
                    let until = grace.map(|g| when(state.management.now() + g));
                    context.insert("grace".into(), until.into());
                    page(&state, StatusCode::OK, "secret.html", context)
                }
                Err(e) => failed(&state, e),
            }
        }
        "delete" => {
            if form.get("confirm") != Some("yes") {
                return Ok(error_page(
                    &state,
                    StatusCode::BAD_REQUEST,
                    "Confirm the deletion",
                    "Tick the confirmation to delete the key. Nothing was changed.",
                ));
            }
            let Some(etag) = etag else {
                return Err(failed(&state, ManageError::Conflict).into());
            };
            match manage.delete_key(&key.client_id, Some(&etag)).await {
                Ok(_) => Redirect::to(&format!("/console/{env}/keys?done=deleted")).into_response(),
                Err(e) => failed(&state, e),
            }
        }
        _ => not_found(&state),
    })
}
