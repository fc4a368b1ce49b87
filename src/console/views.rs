//! What the key pages share: the page frame, how a key is shown, posted forms, and the
//! pages that say why something was refused or failed.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::ConsoleState;
use super::PageError;
use super::pages::error_page;
use super::session::Signed;
use crate::clock::rfc3339;
use crate::domain::{ApiKey, ClientId, EnvironmentName, KeyAuth};
use crate::manage::ManageError;
use crate::manage::access::Refusal;
use crate::web::form::pairs;

/// The parts every page's frame shows: who, where, the CSRF token.
pub fn frame(state: &ConsoleState, signed: &Signed, env: &EnvironmentName) -> Map<String, Value> {
    let environments: Vec<String> = state
        .config
        .environments
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    let mut frame = Map::new();
    frame.insert(
        "me".into(),
        json!({"id": signed.caller.user.as_str(), "admin": signed.caller.is_admin()}),
    );
    frame.insert("csrf".into(), signed.session.csrf_token.clone().into());
    frame.insert("environments".into(), environments.into());
    frame.insert("env".into(), env.to_string().into());
    frame.insert("production".into(), is_production(env).into());
    frame
}

/// Whether the console shows `env` as the live environment: named `production`, `prod` or
/// `live`. Every other environment gets the banner that says it is not production.
pub fn is_production(env: &EnvironmentName) -> bool {
    matches!(env.as_str(), "production" | "prod" | "live")
}

pub fn environment(state: &ConsoleState, env: &str) -> Result<EnvironmentName, PageError> {
    EnvironmentName::parse(env)
        .ok()
        .filter(|e| state.config.environments.iter().any(|c| c.name == *e))
        .ok_or_else(|| {
            error_page(
                state,
                StatusCode::NOT_FOUND,
                "No such environment",
                "This environment is not served here; pick one at the top of the page.",
            )
            .into()
        })
}

fn status(key: &ApiKey, now: time::OffsetDateTime) -> (&'static str, String) {
    if key.is_expired(now) {
        ("expired", "expired".to_owned())
    } else if key.enabled {
        ("enabled", "enabled".to_owned())
    } else {
        let reason = key
            .disabled_reason
            .map(|r| r.as_str().replace('_', " "))
            .unwrap_or_default();
        (
            "disabled",
            format!("disabled: {reason}")
                .trim_end_matches(": ")
                .to_owned(),
        )
    }
}

/// An instant for a page: `iso` for `<time datetime>` (the script shows it in the reader's
/// time zone) and `text`, to the minute with its zone, for readers without the script.
pub fn when(at: time::OffsetDateTime) -> Value {
    let minute: String = rfc3339(at).replace('T', " ").chars().take(16).collect();
    json!({"iso": rfc3339(at), "text": format!("{minute} UTC")})
}

/// A key's expiry as posted by the expiry choice (`never`, a number of days, or a date,
/// which means 00:00 UTC of that day).
pub fn expiry(
    state: &ConsoleState,
    form: &Form,
) -> Result<Option<time::OffsetDateTime>, PageError> {
    let bad = |why: &str| -> PageError {
        error_page(state, StatusCode::BAD_REQUEST, "Check the form", why).into()
    };
    match form.get("expiry").unwrap_or_default() {
        "" => Ok(None),
        "date" => {
            let date = form.get("expires_on").unwrap_or_default();
            crate::clock::parse_rfc3339(&format!("{date}T00:00:00Z"))
                .map(Some)
                .map_err(|_| bad("Pick an expiry date (or another choice). Nothing was saved."))
        }
        days => match days.parse::<i64>() {
            Ok(days @ 1..=3660) => Ok(Some(state.management.now() + time::Duration::days(days))),
            _ => Err(bad("Pick an expiry from the list. Nothing was saved.")),
        },
    }
}

pub fn key_view(key: &ApiKey, now: time::OffsetDateTime) -> Value {
    let (status, status_text) = status(key, now);
    json!({
        "client_id": key.client_id.as_str(),
        "name": key.name,
        "owner": key.owner_id.as_str(),
        "permissions": key.permissions.iter().collect::<Vec<_>>(),
        "created": when(key.created_at),
        "expires": key.expires_at.map(when),
        "expires_on": key.expires_at.map(|at| rfc3339(at)[..10].to_owned()),
        "expired": key.is_expired(now),
        "last_used": key.last_used_at.map(when),
        "last_used_ip": key.last_used_ip.map(|ip| ip.to_string()),
        "allowed_ips": key.allowed_ips.to_strings(),
        "secret_hint": key.secret_hint,
        "auth": match &key.auth {
            KeyAuth::Secret => "secret",
            KeyAuth::ClientKeys(_) => "client_keys",
            KeyAuth::Federated(_) => "federated",
        },
        "jwks_uri": key.auth.jwks_uri(),
        "kids": key.auth.kids(),
        "federation": key.auth.federation(),
        "enabled": key.enabled,
        "etag": key.etag,
        "status": status,
        "status_text": status_text,
    })
}

pub fn refused(state: &ConsoleState, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Forbidden(why) => error_page(
            state,
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!("{why}. Nothing was changed."),
        ),
        Refusal::NotFound => not_found(state),
    }
}

pub fn not_found(state: &ConsoleState) -> Response {
    error_page(
        state,
        StatusCode::NOT_FOUND,
        "No such API key",
        "There is no key with this client id that you can see in this environment.",
    )
}

pub fn failed(state: &ConsoleState, e: ManageError) -> Response {
    match e {
        ManageError::NotFound => not_found(state),
        ManageError::Conflict | ManageError::Stale => error_page(
            state,
            StatusCode::CONFLICT,
            "Someone changed this key meanwhile",
            "The key was changed (or deleted) after this page was loaded, so your change was not made. Open the key again to see it as it is now, then retry.",
        ),
        ManageError::OwnerInactive => error_page(
            state,
            StatusCode::CONFLICT,
            "The owner is inactive",
            "Keys of a deactivated user cannot be created or enabled. Nothing was changed.",
        ),
        ManageError::InvalidInput(why) => error_page(
            state,
            StatusCode::BAD_REQUEST,
            "Check the form",
            &format!("{why}. Nothing was changed."),
        ),
        ManageError::Expired => error_page(
            state,
            StatusCode::CONFLICT,
            "The key has expired",
            "An expired key cannot be changed; create a new key instead.",
        ),
        ManageError::NotHeld(missing) => error_page(
            state,
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!(
                "The owner does not hold: {}. Nothing was changed.",
                missing.join(", ")
            ),
        ),
        ManageError::Unavailable(e) => {
            tracing::warn!(error = %e, "console change failed");
            super::session::unavailable(state)
        }
    }
}

/// The fields of a posted form (repeated names kept in order).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &Bytes) -> Self {
        Self(pairs(std::str::from_utf8(body).unwrap_or_default()))
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub fn curl(state: &ConsoleState, env: &EnvironmentName, client_id: &str, secret: &str) -> String {
    format!(
        "curl -s -u '{client_id}:{secret}' \\\n  -d grant_type=client_credentials \\\n  {}/{env}/oauth2/token",
        state.config.public_url
    )
}

pub async fn managed(
    state: &ConsoleState,
    signed: &Signed,
    env: &EnvironmentName,
    client_id: &str,
) -> Result<ApiKey, PageError> {
    let key = state
        .management
        .store()
        .get_key(&ClientId::new(client_id.to_owned()))
        .await
        .map_err(|e| failed(state, e.into()))?;
    Ok(signed
        .caller
        .managed(key, env)
        .map_err(|r| refused(state, r))?)
}
