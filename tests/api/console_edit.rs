//! The key page beyond its buttons, without JavaScript: the secret's hint, times with their
//! zone, production and other environments told apart, and renaming a key and moving its
//! expiry (etag-guarded, checked like GraphQL's, applied by the token endpoint).

use keymint::clock::Clock;
use keymint::domain::ClientId;

use crate::app::{Backend, TestApp};
use crate::console::{ALICE, create_in_page};
use crate::console_visitor::Visitor;

crate::both_backends!(console_edit:
    a_key_page_shows_its_hint_and_zones_and_edits_name_and_expiry,
    keys_without_a_secret_are_made_in_the_console,
    a_keys_networks_are_set_in_the_console_and_its_last_address_shown,
);

pub async fn a_key_page_shows_its_hint_and_zones_and_edits_name_and_expiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    let key = create_in_page(&mut alice, &[("name", "export"), ("expiry", "30")]).await;
    let hint = &key.secret[key.secret.len() - 4..];
    let path = format!("/console/production/keys/{}", key.client_id);

    let detail = alice.get(&path).await;
    assert!(
        detail.body.contains(&format!("kms_…{hint}</code>")),
        "{}",
        detail.body
    );
    assert!(!detail.body.contains(&key.secret), "never the secret");
    let list = alice.get("/console/production/keys").await;
    assert!(list.body.contains(&format!("…{hint}</code>")));
    // Times say their zone (the script shows them in the reader's).
    assert!(
        detail.body.contains("<time datetime=\"") && detail.body.contains(" UTC</time>"),
        "{}",
        detail.body
    );
    // Production has no banner; another environment says it is not production.
    assert!(detail.body.contains("class=\"env-live\"") && !detail.body.contains("env-banner"));
    let sandbox = alice.get("/console/sandbox/keys").await;
    assert!(sandbox.body.contains("class=\"env-test\""));
    assert!(
        sandbox.body.contains("is not production"),
        "{}",
        sandbox.body
    );

    // Rename.
    let (csrf, etag) = (detail.field("csrf"), detail.field("etag"));
    let renamed = alice
        .post(
            &format!("{path}/rename"),
            &[
                ("csrf", &csrf),
                ("etag", &etag),
                ("name", "  nightly export "),
            ],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    assert!(renamed.location().ends_with("?done=renamed"));
    let stored = || async {
        app.state
            .store
            .get_key(&ClientId::new(key.client_id.clone()))
            .await
            .unwrap()
    };
    assert_eq!(stored().await.name.as_deref(), Some("nightly export"));
    let page = alice.get(&format!("{path}?done=renamed")).await;
    assert!(page.body.contains("name is saved"));
    // The etag read before the rename is stale now: refused, nothing changed.
    let stale = alice
        .post(
            &format!("{path}/rename"),
            &[("csrf", &csrf), ("etag", &etag), ("name", "other")],
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stored().await.name.as_deref(), Some("nightly export"));

    // Move the expiry to a date: 00:00 UTC of that day.
    let etag = page.field("etag");
    let date = (app.clock.now() + time::Duration::days(10)).date();
    let moved = alice
        .post(
            &format!("{path}/expiry"),
            &[
                ("csrf", &csrf),
                ("etag", &etag),
                ("expiry", "date"),
                ("expires_on", &date.to_string()),
            ],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert_eq!(
        stored().await.expires_at,
        Some(date.midnight().assume_utc())
    );
    let page = alice.get(&path).await;
    assert!(
        page.body.contains(&format!("value=\"{date}\"")),
        "the date field holds the expiry"
    );
    // A date without a date, and a date in the past, are refused; nothing changes.
    let etag = page.field("etag");
    for day in [String::new(), "2001-01-01".to_owned()] {
        let refused = alice
            .post(
                &format!("{path}/expiry"),
                &[
                    ("csrf", &csrf),
                    ("etag", &etag),
                    ("expiry", "date"),
                    ("expires_on", &day),
                ],
            )
            .await;
        assert_eq!(refused.status, 400, "{day}: {}", refused.body);
        assert!(refused.body.contains("Nothing was"), "{}", refused.body);
    }
    assert_eq!(
        stored().await.expires_at,
        Some(date.midnight().assume_utc())
    );
    // "As it is" (what the page selects) changes nothing, not even the etag.
    let kept = alice
        .post(
            &format!("{path}/expiry"),
            &[("csrf", &csrf), ("etag", &etag), ("expiry", "keep")],
        )
        .await;
    assert_eq!(kept.status, 303, "{}", kept.body);
    assert_eq!(stored().await.etag, etag);
    // Never: the expiry is removed; the key still mints tokens.
    let never = alice
        .post(
            &format!("{path}/expiry"),
            &[("csrf", &csrf), ("etag", &etag), ("expiry", "")],
        )
        .await;
    assert_eq!(never.status, 303, "{}", never.body);
    assert_eq!(stored().await.expires_at, None);
    assert_eq!(app.token_status("production", &key).await, 200);
}

/// The create form offers the three kinds: keys without a secret land on their page,
/// which says how they authenticate; a bad rule creates nothing.
pub async fn keys_without_a_secret_are_made_in_the_console(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    let new = alice.get("/console/production/keys/new").await;
    assert!(new.body.contains("token.actions.githubusercontent.com"));
    let csrf = new.field("csrf");
    let created = alice
        .post(
            "/console/production/keys",
            &[
                ("csrf", &csrf),
                ("name", "deploy"),
                ("permission", "runs:read"),
                ("expiry", ""),
                ("auth", "federated"),
                ("issuer", "https://token.actions.githubusercontent.com"),
                ("subject", "repo:acme/app:environment:production"),
                ("claims", "repository_owner=acme\r\n"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = alice.get(created.location()).await;
    let body = page.body.replace("&#x2f;", "/");
    assert!(body.contains("has no secret"), "{body}");
    assert!(
        body.contains("repo:acme/app:environment:production"),
        "{body}"
    );
    assert!(body.contains("repository_owner"));
    assert!(!body.contains("/roll\""), "no secret to roll");
    // Their own keys, pasted.
    let (key, _) =
        keymint::signing::SigningKey::generate(keymint::signing::SigningAlg::Es256).unwrap();
    let jwks = serde_json::json!({"keys": [key.public_jwk()]}).to_string();
    let created = alice
        .post(
            "/console/production/keys",
            &[
                ("csrf", &csrf),
                ("expiry", ""),
                ("auth", "keys"),
                ("jwks", &jwks),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = alice.get(created.location()).await;
    assert!(page.body.contains(key.kid()), "{}", page.body);
    // A rule that would accept any token of its issuer: refused, nothing made.
    let before = key_count(&app).await;
    let refused = alice
        .post(
            "/console/production/keys",
            &[
                ("csrf", &csrf),
                ("expiry", ""),
                ("auth", "federated"),
                ("issuer", "https://token.actions.githubusercontent.com"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("subject or at least one claim"),
        "{}",
        refused.body
    );
    let after = key_count(&app).await;
    assert_eq!(before, after);
}

async fn key_count(app: &TestApp) -> usize {
    let query = keymint::store::KeyQuery {
        environment: keymint::domain::EnvironmentName::parse("production").unwrap(),
        owner: None,
        after: None,
        limit: 100,
    };
    app.state
        .store
        .list_keys(&query)
        .await
        .unwrap()
        .entries
        .len()
}

/// The allow-list typed at creation and edited on the key page (a bad network refused,
/// nothing changed), and the address of the key's last use beside its time.
pub async fn a_keys_networks_are_set_in_the_console_and_its_last_address_shown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    let key = create_in_page(
        &mut alice,
        &[("allowed_ips", "203.0.113.0/24, 2001:db8::/64")],
    )
    .await;
    let client_id = ClientId::new(key.client_id.clone());
    let stored = || async { app.state.store.get_key(&client_id).await.unwrap() };
    assert_eq!(
        stored().await.allowed_ips.to_strings(),
        ["203.0.113.0/24", "2001:db8::/64"]
    );
    let path = format!("/console/production/keys/{}", key.client_id);
    let page = alice.get(&path).await;
    // minijinja escapes `/` in HTML.
    assert!(
        page.body.contains("<code>203.0.113.0&#x2f;24</code>"),
        "{}",
        page.body
    );
    let (csrf, etag) = (page.field("csrf"), page.field("etag"));
    let bad = alice
        .post(
            &format!("{path}/networks"),
            &[
                ("csrf", &csrf),
                ("etag", &etag),
                ("allowed_ips", "10.0.0.0/33"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("10.0.0.0&#x2f;33"), "{}", bad.body);
    assert_eq!(stored().await.allowed_ips.to_strings().len(), 2);
    let saved = alice
        .post(
            &format!("{path}/networks"),
            &[("csrf", &csrf), ("etag", &etag), ("allowed_ips", "")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(saved.location().ends_with("?done=networks"));
    assert!(stored().await.allowed_ips.is_any());

    // A token from a proxy's client; the page shows where the key was last used from.
    let response = app
        .http
        .post(app.url("/production/oauth2/token"))
        .basic_auth(&key.client_id, Some(&key.secret))
        .header("x-forwarded-for", "198.51.100.23")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    keymint::sync::flush_usage(&app.state.sync_task()).await;
    let page = alice.get(&path).await;
    assert!(
        page.body.contains("from <code>198.51.100.23</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("any address"));
}
