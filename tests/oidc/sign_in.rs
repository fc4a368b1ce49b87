//! The sign-in dance and its refusals (see `main.rs`).

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::app::{Backend, TestApp};
use crate::provider::{CLIENT_ID, CLIENT_SECRET, OidcProvider, free_port, issuer};

/// Keymint configured for the provider on `port`, and the provider (with a client secret
/// unless `public`).
async fn setup(backend: Backend, public: bool) -> (TestApp, OidcProvider, Vec<(String, String)>) {
    let port = free_port();
    let mut vars = vec![
        ("KEYMINT_CONSOLE_OIDC_ISSUER".to_owned(), issuer(port)),
        (
            "KEYMINT_CONSOLE_OIDC_CLIENT_ID".to_owned(),
            CLIENT_ID.to_owned(),
        ),
    ];
    if !public {
        vars.push((
            "KEYMINT_CONSOLE_OIDC_CLIENT_SECRET".to_owned(),
            CLIENT_SECRET.to_owned(),
        ));
    }
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(backend, &borrowed).await;
    app.user("alice", &["CreateAPIKey", "runs:read"]).await;
    let secret = (!public).then_some(CLIENT_SECRET);
    let provider = OidcProvider::start(port, &app.url("/console/callback"), secret).await;
    (app, provider, vars)
}

/// A browser without JavaScript: keeps cookies (per host, as browsers do), follows no
/// redirect by itself.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `action` and fields of the first form of `html`, with `login` typed into a login
/// form (the provider's development login page accepts any login and password).
fn fill_form(html: &str, login: &str) -> (String, Vec<(String, String)>) {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let marker = format!("{name}=\"");
        let start = tag.find(&marker)? + marker.len();
        Some(tag[start..].split('"').next()?.replace("&amp;", "&"))
    };
    let form = html.find("<form").map(|at| &html[at..]).expect("a form");
    let action = attribute(&form[..form.find('>').unwrap()], "action").expect("an action");
    let mut fields = Vec::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        let Some(name) = attribute(tag, "name") else {
            continue;
        };
        let value = match name.as_str() {
            "login" => login.to_owned(),
            "password" => "any password".to_owned(),
            _ => attribute(tag, "value").unwrap_or_default(),
        };
        fields.push((name, value));
    }
    (action, fields)
}

/// From `start` (Keymint's `/console/oidc/start`), through the provider's login and
/// consent pages as `login`, to the answer the provider sends the browser back with:
/// the callback URL, not yet followed.
pub(crate) async fn dance(
    browser: &reqwest::Client,
    start: &str,
    login: &str,
    callback: &str,
) -> String {
    let mut url = reqwest::Url::parse(start).unwrap();
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        let request = match form.take() {
            Some(fields) => browser.post(url.clone()).form(&fields),
            None => browser.get(url.clone()),
        };
        let response = request.send().await.unwrap();
        if response.status().is_redirection() {
            let location = response.headers()[LOCATION].to_str().unwrap();
            url = url.join(location).unwrap();
            if url.as_str().starts_with(callback) {
                return url.to_string();
            }
            continue;
        }
        let status = response.status();
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{url}: {html}");
        let (action, fields) = fill_form(&html, login);
        url = url.join(&action).unwrap();
        form = Some(fields);
    }
    panic!("the dance did not come back to {callback}");
}

/// Follows the callback: the status, the page, and whether a session cookie was set.
async fn finish(browser: &reqwest::Client, callback: &str) -> (StatusCode, String, bool) {
    let response = browser.get(callback).send().await.unwrap();
    let status = response.status();
    let session = response.headers().get_all(SET_COOKIE).iter().any(|c| {
        c.to_str().unwrap().starts_with("keymint_console=")
            && !c.to_str().unwrap().contains("Max-Age=0")
    });
    (status, response.text().await.unwrap(), session)
}

/// True when `browser` is signed in to `app` as `user` (the keys page names them).
async fn signed_in_as(browser: &reqwest::Client, app: &TestApp, user: &str) -> bool {
    let response = browser
        .get(app.url("/console/production/keys"))
        .send()
        .await
        .unwrap();
    response.status() == StatusCode::OK && response.text().await.unwrap().contains(user)
}

pub async fn the_redirect_dance_signs_a_person_in_once(backend: Backend) {
    let (app, _provider, _) = setup(backend, false).await;
    let callback = app.url("/console/callback");
    let alice = browser();
    assert!(!signed_in_as(&alice, &app, "alice").await);
    let start = app.url("/console/oidc/start");
    // The sign-in page offers the provider.
    let page = alice.get(app.url("/console/sign-in")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("/console/oidc/start"));

    let answer = dance(&alice, &start, "alice", &callback).await;
    assert!(
        answer.contains("code=") && answer.contains("state="),
        "{answer}"
    );
    let (status, _, session) = finish(&alice, &answer).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(session, "a session cookie is set");
    assert!(signed_in_as(&alice, &app, "alice").await);
    assert_eq!(app.audit_count("alice", "console.signed_in").await, 1);

    // The same answer again in this browser: its sign-in cookie went with the first use.
    let (status, _, session) = finish(&alice, &answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!session);
    // And with that cookie too (someone who copied both): the state is spent in the store.
    let state_of = |url: &str| {
        reqwest::Url::parse(url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned()
    };
    let copied = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&answer)
        .header("cookie", format!("keymint_oidc={}", state_of(&answer)))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), StatusCode::BAD_REQUEST);
    assert!(
        copied
            .headers()
            .get(SET_COOKIE)
            .is_none_or(|c| !c.to_str().unwrap().starts_with("keymint_console="))
    );
    let page = copied.text().await.unwrap();
    assert!(page.contains("used already"), "{page}");

    // The code again under a fresh state of this browser: Keymint asks the provider,
    // which refuses a code it has redeemed (and a verifier it was not issued for).
    let fresh = alice.get(&start).send().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::SEE_OTHER);
    let state = state_of(fresh.headers()[LOCATION].to_str().unwrap());
    let code = reqwest::Url::parse(&answer)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let mut replay = reqwest::Url::parse(&callback).unwrap();
    replay
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state);
    let (status, page, session) = finish(&alice, replay.as_str()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("refused"), "{page}");
    assert!(!session);
    assert_eq!(app.audit_count("alice", "console.signed_in").await, 1);
}

pub async fn a_state_this_browser_did_not_start_is_refused(backend: Backend) {
    let (app, _provider, _) = setup(backend, false).await;
    let callback = app.url("/console/callback");
    let alice = browser();
    let answer = dance(&alice, &app.url("/console/oidc/start"), "alice", &callback).await;

    // Planted in another browser (login CSRF): that browser started no sign-in.
    let victim = browser();
    let (status, page, session) = finish(&victim, &answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("did not start here"), "{page}");
    assert!(!session);
    assert!(!signed_in_as(&victim, &app, "alice").await);

    // A state changed on the way back, in the browser that started.
    let mut tampered = reqwest::Url::parse(&answer).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "A".repeat(43)
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(&pairs);
    let (status, _, session) = finish(&alice, tampered.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!session);
    assert_eq!(app.audit_count("alice", "console.signed_in").await, 0);
}

pub async fn an_id_token_for_another_sign_in_is_refused(backend: Backend) {
    let (app, _provider, _) = setup(backend, false).await;
    let callback = app.url("/console/callback");
    let alice = browser();
    let answer = dance(&alice, &app.url("/console/oidc/start"), "alice", &callback).await;
    // As if the ID token had been minted for another sign-in: the stored nonce differs
    // from the one the provider put in the token.
    app.sql("UPDATE console_oidc_logins SET nonce = 'another-sign-ins-nonce'")
        .await;
    let (status, page, session) = finish(&alice, &answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("nonce"), "{page}");
    assert!(!session);
    assert!(!signed_in_as(&alice, &app, "alice").await);
}

pub async fn inactive_and_unknown_users_are_refused(backend: Backend) {
    let (app, _provider, _) = setup(backend, false).await;
    let callback = app.url("/console/callback");
    app.user("carol", &["runs:read"]).await;
    app.state
        .management()
        .deactivate_user(&keymint::domain::UserId::parse("carol").unwrap())
        .await
        .unwrap();
    let carol = browser();
    let answer = dance(&carol, &app.url("/console/oidc/start"), "carol", &callback).await;
    let (status, page, session) = finish(&carol, &answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("inactive"), "{page}");
    assert!(!session);
    assert!(!signed_in_as(&carol, &app, "carol").await);

    let stranger = browser();
    let answer = dance(
        &stranger,
        &app.url("/console/oidc/start"),
        "mallory",
        &callback,
    )
    .await;
    let (status, page, session) = finish(&stranger, &answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("no Keymint account"), "{page}");
    assert!(!session);
}

pub async fn a_public_client_signs_in_with_pkce_alone(backend: Backend) {
    let (app, _provider, _) = setup(backend, true).await;
    let alice = browser();
    let answer = dance(
        &alice,
        &app.url("/console/oidc/start"),
        "alice",
        &app.url("/console/callback"),
    )
    .await;
    let (status, _, session) = finish(&alice, &answer).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(session);
    assert!(signed_in_as(&alice, &app, "alice").await);
}

pub async fn a_sign_in_started_at_one_instance_finishes_at_another(backend: Backend) {
    let (a, _provider, vars) = setup(backend, false).await;
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = a.spawn_peer_with(&borrowed).await;
    let alice = browser();
    let answer = dance(
        &alice,
        &a.url("/console/oidc/start"),
        "alice",
        &a.url("/console/callback"),
    )
    .await;
    // A balancer sends the answer to the other instance.
    let at_b = answer.replacen(&a.base, &b.base, 1);
    let (status, page, session) = finish(&alice, &at_b).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(session);
    assert!(signed_in_as(&alice, &a, "alice").await);
    assert!(signed_in_as(&alice, &b, "alice").await);
}

/// 5,000 sign-in starts from one address: each start before anyone is signed in writes
/// a row, so the address may start a bounded number per window (then 429 with
/// `Retry-After`, nothing written); the table stays bounded, and a deactivation meanwhile
/// goes through.
pub async fn a_flood_of_sign_in_starts_leaves_a_bounded_table(backend: Backend) {
    let (app, _provider, _) = setup(backend, false).await;
    let started = browser()
        .get(app.url("/console/oidc/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let flood = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut refused = 0;
    for _ in 0..5_000 {
        let response = flood
            .get(app.url("/console/oidc/start"))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::SEE_OTHER => {}
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("a start answered {other}"),
        }
    }
    let rows: usize = app
        .sql("SELECT CAST(count(*) AS TEXT) FROM console_oidc_logins")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let threshold = keymint::oauth::SIGN_IN_THRESHOLD as usize;
    // One window, or two when the flood straddles a window's end.
    assert!(rows <= 2 * threshold, "{rows} sign-in rows after the flood");
    assert!(
        refused >= 5_000 - 2 * threshold,
        "only {refused} starts refused"
    );
    // Writes that matter still go through meanwhile.
    app.state
        .management()
        .deactivate_user(&keymint::domain::UserId::parse("alice").unwrap())
        .await
        .unwrap();
    assert!(
        !app.state
            .store
            .get_user(&keymint::domain::UserId::parse("alice").unwrap())
            .await
            .unwrap()
            .active
    );
}
