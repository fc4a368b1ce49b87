//! The web console over HTTP, on both backends: one-time link sign-in, the key pages and
//! their actions (each followed by a token request proving the key's state), the access
//! rules (another user's key is invisible, by URL too; an admin sees and stops it), CSRF
//! and cross-site refusal and session ends are in `console_sessions.rs`; every response is
//! checked for the security headers (`console_visitor.rs`).

use reqwest::header::SET_COOKIE;
use serde_json::json;

use crate::app::{Backend, Key, TestApp};
use crate::console_visitor::{Visitor, link};

crate::both_backends!(console:
    a_link_signs_in_once_and_the_key_lifecycle_works,
    other_users_keys_are_invisible_and_admins_stop_them,
);

pub const ALICE: &[&str] = &["CreateAPIKey", "UpdateAPIKey", "DeleteAPIKey", "runs:read"];

/// Creates a key in the page; returns it with the secret read from the page.
pub async fn create_in_page(visitor: &mut Visitor<'_>, form: &[(&str, &str)]) -> Key {
    let new = visitor.get("/console/production/keys/new").await;
    assert_eq!(new.status, 200, "{}", new.body);
    let csrf = new.field("csrf");
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let page = visitor.post("/console/production/keys", &fields).await;
    assert_eq!(page.status, 201, "{}", page.body);
    assert!(page.body.contains("shown only on this page"));
    let client_id = page
        .body
        .split("<code id=\"client-id\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let secret = page
        .body
        .split("id=\"client-secret\" class=\"secret\" type=\"text\" readonly value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        page.body
            .contains(&format!("curl -s -u &#x27;{client_id}:{secret}&#x27;"))
            || page
                .body
                .contains(&format!("curl -s -u '{client_id}:{secret}'")),
        "{}",
        page.body
    );
    Key { client_id, secret }
}

pub async fn a_link_signs_in_once_and_the_key_lifecycle_works(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    assert_eq!(
        alice.get("/console/production/keys").await.location(),
        "/console/sign-in"
    );
    // No identity provider configured: the sign-in page offers none, its routes are absent.
    let sign_in = alice.get("/console/sign-in").await;
    assert!(sign_in.body.contains("keymint console link"));
    assert!(!sign_in.body.contains("/console/oidc/start"));
    assert_eq!(alice.get("/console/oidc/start").await.status, 404);
    assert_eq!(
        alice.get("/console/callback?code=c&state=s").await.status,
        404
    );
    let link = link(&app, "alice").await;
    alice.get(&link).await;
    let signed = alice.post(&link, &[]).await;
    assert_eq!(signed.status, 303);
    let cookie = signed.headers[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let mut again = Visitor::new(&app);
    assert_eq!(
        again.post(&link, &[]).await.status,
        404,
        "a link works once"
    );
    assert!(again.cookie.is_none());

    let list = alice.get("/console/production/keys").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("No keys"), "{}", list.body);
    let key = create_in_page(
        &mut alice,
        &[
            ("name", "nightly <export>"),
            ("permission", "runs:read"),
            ("expiry", "30"),
        ],
    )
    .await;
    let claims = app
        .verify("production", &app.access_token("production", &key).await)
        .await
        .unwrap();
    assert_eq!(
        claims["permissions"],
        json!(["runs:read"]),
        "the narrowed set"
    );
    let list = alice.get("/console/production/keys").await;
    assert!(
        list.body.contains("nightly &lt;export&gt;"),
        "names are escaped: {}",
        list.body
    );
    assert!(
        !list.body.contains(&key.secret),
        "a listing never shows a secret"
    );

    let path = format!("/console/production/keys/{}", key.client_id);
    let detail = alice.get(&path).await;
    assert_eq!(detail.status, 200);
    assert!(
        detail.body.contains("key.created") && detail.body.contains("console"),
        "{}",
        detail.body
    );
    let (csrf, etag) = (detail.field("csrf"), detail.field("etag"));
    let rolled = alice
        .post(
            &format!("{path}/roll"),
            &[("csrf", &csrf), ("etag", &etag), ("grace", "3600")],
        )
        .await;
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    let new_secret = rolled
        .body
        .split("readonly value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let rolled_key = Key {
        client_id: key.client_id.clone(),
        secret: new_secret,
    };
    assert_eq!(app.token_status("production", &rolled_key).await, 200);
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "the old secret overlaps"
    );

    let stale = alice
        .post(
            &format!("{path}/disable"),
            &[("csrf", &csrf), ("etag", &etag)],
        )
        .await;
    assert_eq!(stale.status, 409, "the etag read before the roll is stale");
    assert!(stale.body.contains("changed this key meanwhile"));
    assert_eq!(app.token_status("production", &rolled_key).await, 200);
    let detail = alice.get(&path).await;
    let disabled = alice
        .post(
            &format!("{path}/disable"),
            &[("csrf", &csrf), ("etag", &detail.field("etag"))],
        )
        .await;
    assert_eq!(
        (disabled.status, disabled.location()),
        (303, format!("{path}?done=disabled").as_str())
    );
    assert_eq!(app.token_status("production", &rolled_key).await, 401);
    let detail = alice.get(&format!("{path}?done=disabled")).await;
    assert!(
        detail.body.contains("disabled: by owner") || detail.body.contains("disabled"),
        "{}",
        detail.body
    );
    let enabled = alice
        .post(
            &format!("{path}/enable"),
            &[("csrf", &csrf), ("etag", &detail.field("etag"))],
        )
        .await;
    assert_eq!(enabled.status, 303);
    assert_eq!(app.token_status("production", &rolled_key).await, 200);

    let detail = alice.get(&path).await;
    let unconfirmed = alice
        .post(
            &format!("{path}/delete"),
            &[("csrf", &csrf), ("etag", &detail.field("etag"))],
        )
        .await;
    assert_eq!(unconfirmed.status, 400);
    assert_eq!(app.token_status("production", &rolled_key).await, 200);
    let deleted = alice
        .post(
            &format!("{path}/delete"),
            &[
                ("csrf", &csrf),
                ("etag", &detail.field("etag")),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(
        (deleted.status, deleted.location()),
        (303, "/console/production/keys?done=deleted")
    );
    assert_eq!(app.token_status("production", &rolled_key).await, 401);
    assert_eq!(alice.get(&path).await.status, 404);
    assert_eq!(app.audit_count("alice", "console.signed_in").await, 1);
}

pub async fn other_users_keys_are_invisible_and_admins_stop_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    app.user("bob", ALICE).await;
    app.user("root", &["admin", "UpdateAPIKey"]).await;
    let bobs = app.key("bob", "production").await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    let list = alice.get("/console/production/keys?owner=bob").await;
    assert!(!list.body.contains(&bobs.client_id), "alice sees bob's key");
    let path = format!("/console/production/keys/{}", bobs.client_id);
    assert_eq!(alice.get(&path).await.status, 404);
    let csrf = alice
        .get("/console/production/keys/new")
        .await
        .field("csrf");
    for action in ["disable", "roll", "delete"] {
        let page = alice
            .post(
                &format!("{path}/{action}"),
                &[("csrf", &csrf), ("etag", "x"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(page.status, 404, "{action}");
    }
    assert_eq!(app.token_status("production", &bobs).await, 200);

    let mut root = Visitor::new(&app);
    root.sign_in("root").await;
    let list = root.get("/console/production/keys?owner=bob").await;
    assert!(list.body.contains(&bobs.client_id), "{}", list.body);
    let detail = root.get(&path).await;
    assert!(
        !detail.body.contains("Delete key"),
        "root lacks DeleteAPIKey"
    );
    let done = root
        .post(
            &format!("{path}/disable"),
            &[
                ("csrf", &detail.field("csrf")),
                ("etag", &detail.field("etag")),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(app.token_status("production", &bobs).await, 401);
    let etag = root.get(&path).await.field("etag");
    let roll = root
        .post(
            &format!("{path}/roll"),
            &[
                ("csrf", &detail.field("csrf")),
                ("etag", &etag),
                ("grace", "0"),
            ],
        )
        .await;
    assert_eq!(
        roll.status, 403,
        "root may not receive the secret of a key stronger than it"
    );
    assert_eq!(
        root.get("/console/sandbox/keys/".to_owned().as_str())
            .await
            .status,
        404
    );
    assert_eq!(
        root.get(&format!("/console/sandbox/keys/{}", bobs.client_id))
            .await
            .status,
        404,
        "another environment"
    );
}
