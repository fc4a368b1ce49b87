//! Rendering: the templates (embedded, parsed once, HTML auto-escaped), the stylesheet
//! and the one small script (copy buttons, times in the reader's zone, the expiry date
//! field shown when wanted; everything works without it).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use super::ConsoleState;

const TEMPLATES: [(&str, &str); 11] = [
    ("macros.html", include_str!("templates/macros.html")),
    ("users.html", include_str!("templates/users.html")),
    (
        "signing_keys.html",
        include_str!("templates/signing_keys.html"),
    ),
    ("audit.html", include_str!("templates/audit.html")),
    ("base.html", include_str!("templates/base.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("link.html", include_str!("templates/link.html")),
    ("keys.html", include_str!("templates/keys.html")),
    ("new_key.html", include_str!("templates/new_key.html")),
    ("key.html", include_str!("templates/key.html")),
    ("secret.html", include_str!("templates/secret.html")),
];

const ERROR_TEMPLATE: &str = include_str!("templates/error.html");
const STYLESHEET: &str = include_str!("assets/console.css");
const SCRIPT: &str = include_str!("assets/console.js");

/// The parsed templates.
pub struct Pages {
    env: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages {
    /// Parses every template; they are part of the binary, so a broken one is a bug
    /// caught by the first test that renders it.
    pub fn new() -> Self {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        if let Err(e) = env.add_template("error.html", ERROR_TEMPLATE) {
            tracing::error!(error = %e, "console template does not parse");
        }
        Self { env }
    }

    /// Renders `name` with `context`.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, minijinja::Error> {
        self.env
            .get_template(name)?
            .render(minijinja::value::Serde(context))
    }
}

/// A page, or a plain 500 page naming no detail when a template fails.
pub fn page<S: Serialize>(
    state: &ConsoleState,
    status: StatusCode,
    name: &str,
    context: S,
) -> Response {
    match state.pages.render(name, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Console error</h1>"),
            )
                .into_response()
        }
    }
}

/// An error page: what happened, in words, and that nothing changed where that holds.
pub fn error_page(state: &ConsoleState, status: StatusCode, title: &str, text: &str) -> Response {
    page(
        state,
        status,
        "error.html",
        serde_json::json!({"title": title, "text": text, "status": status.as_u16()}),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// `GET /console/assets/console.css`.
pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /console/assets/console.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
