//! A browser without JavaScript for the console tests: one cookie, no redirects followed,
//! the security headers checked on every response; and one-time links as
//! `keymint console link` makes them.

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::app::TestApp;

/// A browser without JavaScript: a cookie, no redirects followed.
pub struct Visitor<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the hidden input `name`.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    pub fn location(&self) -> &str {
        self.headers[LOCATION].to_str().unwrap()
    }
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            http,
            cookie: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        if let Some(set) = headers.get(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        for name in [
            "content-security-policy",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
        ] {
            assert!(headers.contains_key(name), "{name} missing");
        }
        assert_eq!(headers["cache-control"], "no-store");
        let status = response.status().as_u16();
        Page {
            status,
            headers,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.app.url(path));
        self.send(request).await
    }

    /// Posts a form as the console's own page would (same origin).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(self.app.url(path))
            .header("origin", self.app.url(""))
            .header("sec-fetch-site", "same-origin")
            .form(form);
        self.send(request).await
    }

    /// Signs in with a fresh one-time link for `user`.
    pub async fn sign_in(&mut self, user: &str) {
        let link = link(self.app, user).await;
        let page = self.get(&link).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let page = self.post(&link, &[]).await;
        assert_eq!((page.status, page.location()), (303, "/console/"));
        assert!(self.cookie.is_some());
    }
}

/// A one-time link path for `user`, as `keymint console link` makes it.
pub async fn link(app: &TestApp, user: &str) -> String {
    let token = keymint::console::new_link_token();
    let ctx = app.state.management().context();
    app.state
        .store
        .create_console_link(
            &keymint::console::link_token_hash(&token),
            &keymint::domain::UserId::parse(user).unwrap(),
            ctx.now + time::Duration::minutes(15),
            &ctx,
        )
        .await
        .unwrap();
    format!("/console/link/{token}")
}
