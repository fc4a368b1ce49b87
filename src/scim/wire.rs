//! What every `/scim/v2` endpoint shares: the bearer check, SCIM JSON in and out, and
//! the list parameters (RFC 7644 §3.4.2).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ScimState;
use super::errors::{MEDIA_TYPE, ScimError};
use super::filter::{Filter, Resource, to_sql};
use super::projection::Projection;
use crate::store::ScimQuery;

/// Most resources in one page (`count` above it is lowered to it).
pub const MAX_RESULTS: i64 = 100;

/// The ListResponse message schema.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Tries of a PATCH that keeps losing the race against concurrent writes.
pub const PATCH_TRIES: usize = 16;

/// What a SCIM handler answers.
pub type Answer = Result<Response, ScimError>;

/// Refuses unless SCIM is on and the request carries its token.
pub fn authorize(state: &ScimState, headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(token) = &state.token else {
        return Err(ScimError::not_found(
            "SCIM is off: set KEYMINT_SCIM_TOKEN to turn it on",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, value) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
        });
    match presented {
        Some(value) if token.matches(value) => Ok(()),
        _ => Err(ScimError::unauthorized()),
    }
}

pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The JSON body of a write: `application/scim+json` or `application/json`.
pub fn body_json(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, ScimError> {
    let body = body.map_err(|e| ScimError::status(e.status(), e.body_text()))?;
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = kind.split(';').next().unwrap_or_default().trim();
        if essence != MEDIA_TYPE && essence != "application/json" {
            return Err(ScimError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/scim+json (or application/json)",
            ));
        }
    }
    serde_json::from_slice(&body).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the body is not JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// 204, not to be cached.
pub fn no_content() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The query parameters of a list (`GET /Users`, `GET /Groups`).
#[derive(Debug, Clone)]
pub struct ListParams {
    /// `filter`.
    pub filter: Option<String>,
    /// `startIndex`, at least 1.
    pub start_index: i64,
    /// `count`, 0 to [`MAX_RESULTS`].
    pub count: i64,
    /// False when `excludedAttributes` names `members`, or `attributes` is given without
    /// it (what Entra ID sends to look a group up without its members).
    pub members: bool,
    /// `attributes` and `excludedAttributes`.
    pub projection: Projection,
}

impl ListParams {
    /// Reads a query string.
    pub fn parse(query: Option<&str>) -> Result<Self, ScimError> {
        let mut list = Self::default();
        let (mut attributes, mut excluded) = (None, None);
        let number = |name: &str, value: &str| {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
        };
        for (name, value) in crate::web::form::pairs(query.unwrap_or_default()) {
            match name.to_ascii_lowercase().as_str() {
                "filter" => list.filter = Some(value),
                // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
                "startindex" => list.start_index = number("startIndex", &value)?.max(1),
                "count" => list.count = number("count", &value)?.clamp(0, MAX_RESULTS),
                "excludedattributes" => excluded = Some(value),
                "attributes" => attributes = Some(value),
                _ => {}
            }
        }
        list.select(attributes.as_deref(), excluded.as_deref());
        Ok(list)
    }

    /// Sets the attribute selection (RFC 7644 §3.4.2.5).
    pub fn select(&mut self, attributes: Option<&str>, excluded: Option<&str>) {
        self.projection = Projection::new(attributes, excluded);
        self.members = self.projection.wants("members");
    }

    /// The store query of this list over `resource`'s table: the filter translated to
    /// SQL (placeholders from `$3`; `$1`, `$2` are the page), and the page.
    pub fn query(&self, resource: Resource) -> Result<ScimQuery, ScimError> {
        let mut params = Vec::new();
        let condition = match &self.filter {
            Some(text) => {
                let parsed =
                    Filter::parse(text).map_err(|e| ScimError::invalid_filter(e.to_string()))?;
                Some(
                    to_sql(&parsed, resource, 3, &mut params)
                        .map_err(|e| ScimError::invalid_filter(e.0))?,
                )
            }
            None => None,
        };
        Ok(ScimQuery {
            condition,
            params,
            offset: self.start_index.saturating_sub(1),
            limit: self.count,
        })
    }

    /// The ListResponse (RFC 7644 §3.4.2) of one page of `resources` out of `total`.
    pub fn response(&self, total: i64, resources: Vec<Value>) -> Response {
        let body = json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": self.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        });
        scim_json(StatusCode::OK, &body)
    }
}

impl Default for ListParams {
    /// Everything, from the first resource, a full page.
    fn default() -> Self {
        Self {
            filter: None,
            start_index: 1,
            count: MAX_RESULTS,
            members: true,
            projection: Projection::default(),
        }
    }
}
