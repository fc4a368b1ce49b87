//! The console in a real browser: Debian's headless Chromium driven over WebDriver
//! (fantoccini) from `cargo test`, against a real server. Sign in with a one-time link;
//! create a key and read its secret from the page; get a token with it over HTTP; roll it
//! with an overlap and see both secrets work; disable it in the page and see the token
//! endpoint refuse it; delete it; a non-admin cannot see another user's key by URL; an
//! admin finds it and disables it, and sees users, signing keys and the audit trail.
//! The GraphQL explorer loads from embedded files with every other host unresolvable,
//! and runs a query. Screenshots of each page go to `docs/console/` (shown
//! in the README). Gated by KEYMINT_TEST_BROWSER=1 (`.ci/run` installs chromium and
//! chromium-driver and sets it).

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "browser/driver.rs"]
mod driver;
#[path = "api/gateway.rs"]
#[allow(dead_code)]
mod gateway;
#[path = "oidc/provider.rs"]
#[allow(dead_code)]
mod provider;

use app::{Backend, Key, TestApp};
use driver::Browser;
use keymint::domain::UserId;

const ALICE: &[&str] = &[
    "CreateAPIKey",
    "UpdateAPIKey",
    "DeleteAPIKey",
    "runs:read",
    "runs:write",
];

async fn link(app: &TestApp, user: &str) -> String {
    let token = keymint::console::new_link_token();
    let ctx = app.state.management().context();
    app.state
        .store
        .create_console_link(
            &keymint::console::link_token_hash(&token),
            &UserId::parse(user).unwrap(),
            ctx.now + time::Duration::minutes(15),
            &ctx,
        )
        .await
        .unwrap();
    app.url(&format!("/console/link/{token}"))
}

async fn sign_in(browser: &Browser, app: &TestApp, user: &str, shot: Option<&str>) {
    browser.client.goto(&link(app, user).await).await.unwrap();
    if let Some(name) = shot {
        browser.shoot(name).await;
    }
    browser.click("form button[type=submit]").await;
    let url = browser.client.current_url().await.unwrap();
    assert!(url.path().starts_with("/console/production/keys"), "{url}");
}

async fn secret_on_page(browser: &Browser) -> Key {
    let text = browser.text().await;
    assert!(text.contains("shown only on this page"), "{text}");
    Key {
        client_id: browser.value("#client-id").await,
        secret: browser.value("#client-secret").await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_browser),
    ignore = "set KEYMINT_TEST_BROWSER=1 (.ci/run installs chromium and chromium-driver)"
)]
async fn people_manage_their_keys_in_a_real_browser() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("alice", ALICE).await;
    app.user("bob", &["runs:read"]).await;
    app.user("root", &["admin", "UpdateAPIKey", "runs:read"])
        .await;
    let bobs = app.key("bob", "production").await;
    let browser = Browser::start().await;

    sign_in(&browser, &app, "alice", Some("sign-in")).await;
    assert!(browser.text().await.contains("No keys"));
    browser
        .click("a[href='/console/production/keys/new']")
        .await;
    browser
        .client
        .find(fantoccini::Locator::Id("name"))
        .await
        .unwrap()
        .send_keys("nightly export")
        .await
        .unwrap();
    // The expiry date field shows only for "on a date".
    assert!(!browser.displayed("#expires_on").await);
    let expiry = browser
        .client
        .find(fantoccini::Locator::Id("expiry"))
        .await
        .unwrap();
    expiry.clone().select_by_value("date").await.unwrap();
    assert!(browser.displayed("#expires_on").await);
    browser.shoot("create").await;
    expiry.select_by_value("90").await.unwrap();
    assert!(!browser.displayed("#expires_on").await);
    github_actions_helper_fills_the_rule(&browser).await;
    browser.click("form button.primary").await;
    let key = secret_on_page(&browser).await;
    browser.shoot("secret").await;
    assert!(key.secret.starts_with("kms_"), "{}", key.secret);
    let claims = app
        .verify("production", &app.access_token("production", &key).await)
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice");

    browser.click("a.button").await;
    browser
        .client
        .find(fantoccini::Locator::Id("grace"))
        .await
        .unwrap()
        .select_by_value("3600")
        .await
        .unwrap();
    browser.click("form[action$='/roll'] button").await;
    let rolled = secret_on_page(&browser).await;
    assert_ne!(rolled.secret, key.secret);
    assert!(browser.text().await.contains("keeps working until"));
    assert_eq!(app.token_status("production", &rolled).await, 200);
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "the overlap"
    );

    browser.click("a.button").await;
    key_page_shows_zones_hint_and_copies(&browser, &rolled).await;
    browser.shoot("key").await;
    browser.click("form[action$='/disable'] button").await;
    assert!(browser.text().await.contains("The key is disabled"));
    assert_eq!(app.token_status("production", &rolled).await, 401);
    browser.tick("form.danger-zone input[name=confirm]").await;
    browser.click("form.danger-zone button").await;
    assert!(browser.text().await.contains("The key was deleted"));
    assert_eq!(app.token_status("production", &key).await, 401);

    let second = app.key("alice", "production").await;
    browser
        .client
        .goto(&app.url("/console/production/keys"))
        .await
        .unwrap();
    browser.shoot("keys").await;
    // On a phone-sized screen the list is cards: nothing scrolls sideways.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.refresh().await.unwrap();
    let overflow = browser
        .eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert_eq!(overflow, 0, "the page scrolls sideways on a narrow screen");
    assert!(browser.text().await.contains(&second.client_id));
    browser.shoot("keys-narrow").await;
    browser.client.set_window_size(1280, 860).await.unwrap();
    // Another environment than production says so at the top.
    browser
        .client
        .goto(&app.url("/console/sandbox/keys"))
        .await
        .unwrap();
    assert!(browser.text().await.contains("sandbox is not production"));
    browser.shoot("sandbox").await;
    // By URL guessing: bob's key does not exist for alice, and his token still works.
    browser
        .client
        .goto(&app.url(&format!("/console/production/keys/{}", bobs.client_id)))
        .await
        .unwrap();
    assert!(browser.text().await.contains("No such API key"));
    assert_eq!(app.token_status("production", &bobs).await, 200);
    browser
        .client
        .goto(&app.url("/console/production/keys"))
        .await
        .unwrap();
    browser
        .click("form[action='/console/sign-out'] button")
        .await;
    assert!(
        browser
            .client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/sign-in")
    );

    sign_in(&browser, &app, "root", None).await;
    browser
        .client
        .goto(&app.url("/console/production/keys?owner=bob"))
        .await
        .unwrap();
    browser
        .click(&format!(
            "a[href='/console/production/keys/{}']",
            bobs.client_id
        ))
        .await;
    browser.click("form[action$='/disable'] button").await;
    assert_eq!(app.token_status("production", &bobs).await, 401);
    browser
        .client
        .goto(&app.url("/console/production/keys"))
        .await
        .unwrap();
    browser.shoot("admin-keys").await;
    assert!(
        browser.text().await.contains(&second.client_id),
        "root sees alice's keys"
    );
    for (page, expect) in [
        ("users", "Create a service account"),
        ("signing-keys", "active"),
        ("audit", "key.disabled"),
    ] {
        let url = app.url(&format!("/console/production/{page}"));
        browser.client.goto(&url).await.unwrap();
        assert!(browser.text().await.contains(expect), "{page}");
        browser.shoot(page).await;
    }

    // The explorer, from embedded files only (no other host resolves in this browser).
    let token = app
        .access_token("production", &app.key("root", "production").await)
        .await;
    let headers = format!("{{\"Authorization\": \"Bearer {token}\"}}");
    let query = "{ apiKeys(first: 5) { totalCount } }";
    let fragment = format!("headers={}&query={}", percent(&headers), percent(query));
    browser
        .client
        .goto(&app.url(&format!("/production/graphql#{fragment}")))
        .await
        .unwrap();
    browser.wait_text(".graphiql-container", "").await;
    browser.tick(".graphiql-execute-button").await;
    let result = browser.wait_text(".result-window", "totalCount").await;
    assert!(result.contains("\"totalCount\""), "{result}");
    // The Docs panel: the schema, loaded by GraphiQL's own introspection query.
    // The sidebar's first button opens the Documentation Explorer plugin.
    browser.tick(".graphiql-sidebar button").await;
    browser
        .wait_text(".graphiql-doc-explorer", "Root Types")
        .await;
    browser
        .tick(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name")
        .await;
    let docs = browser.wait_text(".graphiql-doc-explorer", "APIKey").await;
    assert!(!docs.contains("Error fetching schema"), "{docs}");
    browser.shoot("explorer").await;
    browser.stop().await;
}

/// The OpenID Connect sign-in, the whole redirect dance in the browser, against a real
/// OpenID Provider (panva's `oidc-provider`; its development login page takes any login).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keymint_browser, keymint_oidc)),
    ignore = "set KEYMINT_TEST_BROWSER=1 and KEYMINT_TEST_OIDC_PROVIDER (.ci/run installs them)"
)]
async fn people_sign_in_with_their_identity_provider_in_a_real_browser() {
    let port = provider::free_port();
    let issuer = provider::issuer(port);
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("KEYMINT_CONSOLE_OIDC_ISSUER", issuer.as_str()),
            ("KEYMINT_CONSOLE_OIDC_CLIENT_ID", provider::CLIENT_ID),
            (
                "KEYMINT_CONSOLE_OIDC_CLIENT_SECRET",
                provider::CLIENT_SECRET,
            ),
        ],
    )
    .await;
    app.user("alice", ALICE).await;
    let _provider = provider::OidcProvider::start(
        port,
        &app.url("/console/callback"),
        Some(provider::CLIENT_SECRET),
    )
    .await;
    let browser = Browser::start().await;
    browser.client.goto(&app.url("/console/")).await.unwrap();
    browser.shoot("sign-in-oidc").await;
    browser.click("a[href='/console/oidc/start']").await;
    let at = browser.client.current_url().await.unwrap();
    assert!(at.as_str().starts_with(&issuer), "at the provider: {at}");
    browser
        .client
        .find(fantoccini::Locator::Css("input[name=login]"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    browser
        .client
        .find(fantoccini::Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("any password")
        .await
        .unwrap();
    browser.click("button[type=submit]").await;
    // The provider asks for consent once, then sends the browser back to Keymint.
    if browser
        .client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .starts_with(&issuer)
    {
        browser.click("button[type=submit]").await;
    }
    let url = browser.client.current_url().await.unwrap();
    assert!(
        url.as_str()
            .starts_with(&app.url("/console/production/keys")),
        "{url}"
    );
    let text = browser.text().await;
    assert!(text.contains("alice"), "{text}");
    assert_eq!(app.audit_count("alice", "console.signed_in").await, 1);
    browser.stop().await;
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The key page in the browser: times in the reader's zone (the driver runs Chromium in
/// Asia/Kolkata, UTC+05:30) with the UTC time kept in the title; the secret's hint; a copy
/// button beside the client id that the script revealed.
async fn key_page_shows_zones_hint_and_copies(browser: &Browser, key: &Key) {
    let created = browser
        .client
        .find(fantoccini::Locator::Css("dd time[datetime]"))
        .await
        .unwrap();
    let iso = created.attr("datetime").await.unwrap().unwrap();
    let at = time::OffsetDateTime::parse(&iso, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .to_offset(time::macros::offset!(+5:30));
    let shown = created.text().await.unwrap();
    let expected = format!(
        "{}-{:02}-{:02} {:02}:{:02} GMT+5:30",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    );
    assert_eq!(shown, expected, "{iso}");
    let title = created.attr("title").await.unwrap().unwrap();
    assert!(title.ends_with(" UTC"), "{title}");
    let hint = &key.secret[key.secret.len() - 4..];
    assert!(browser.text().await.contains(&format!("kms_…{hint}")));
    let copy = "dd .id button.copy";
    assert!(
        browser.displayed(copy).await,
        "the script reveals the copy button"
    );
    browser.tick(copy).await;
    browser.wait_text(copy, "Copied").await;
}

/// The create form's third kind: only its part shows, and the GitHub Actions helper turns
/// a repository and an environment into GitHub's issuer and subject. Back to a secret after.
async fn github_actions_helper_fills_the_rule(browser: &Browser) {
    assert!(
        !browser.displayed("#auth-federated").await,
        "hidden until chosen"
    );
    browser.tick("input[name=auth][value=federated]").await;
    assert!(browser.displayed("#auth-federated").await);
    assert!(!browser.displayed("#auth-keys").await);
    for (id, text) in [("gh-repo", "acme/app"), ("gh-value", "production")] {
        browser
            .client
            .find(fantoccini::Locator::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    browser.tick("#gh-fill").await;
    assert_eq!(
        browser.value("#subject").await,
        "repo:acme/app:environment:production"
    );
    assert_eq!(
        browser.value("#issuer").await,
        "https://token.actions.githubusercontent.com"
    );
    browser.shoot("create-federated").await;
    browser.tick("input[name=auth][value=secret]").await;
    assert!(!browser.displayed("#auth-federated").await);
}
