//! Console sessions and forms: the CSRF token and this origin are required on every
//! form; sessions end on sign-out, after 30 idle minutes, and when the user is deactivated
//! at another instance.

use crate::app::{Backend, TestApp};
use crate::console::ALICE;
use crate::console_visitor::Visitor;

crate::both_backends!(console_sessions:
    forms_need_the_csrf_token_and_this_origin,
    sessions_end_on_sign_out_idleness_and_deactivation_anywhere,
    guessed_sign_in_links_are_limited_per_address_and_write_nothing,
);

/// Links nobody issued, posted from one address: each is refused without a write, and
/// past the per-address failure threshold the address gets 429 with `Retry-After`. A
/// real link from the same address still signs in (only failures are limited).
pub async fn guessed_sign_in_links_are_limited_per_address_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let audit_before = app.audit_count("alice", "console.signed_in").await;
    let mut guesser = Visitor::new(&app);
    let mut statuses = Vec::new();
    for i in 0..30 {
        let token = format!("{i:0>43}");
        let page = guesser.post(&format!("/console/link/{token}"), &[]).await;
        if page.status == 429 {
            assert!(
                page.headers.contains_key("retry-after"),
                "{:?}",
                page.headers
            );
        }
        statuses.push(page.status);
    }
    let limit = keymint::oauth::ADDRESS_THRESHOLD as usize;
    assert!(statuses[..limit].iter().all(|s| *s == 404), "{statuses:?}");
    assert!(
        statuses[limit + 1..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    assert_eq!(
        app.sql("SELECT CAST(count(*) AS TEXT) FROM console_sessions")
            .await
            .as_deref(),
        Some("0"),
        "no session was written"
    );
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    assert_eq!(
        app.audit_count("alice", "console.signed_in").await,
        audit_before + 1
    );
}

pub async fn forms_need_the_csrf_token_and_this_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    let csrf = alice
        .get("/console/production/keys/new")
        .await
        .field("csrf");
    let keys = || async {
        app.state
            .store
            .list_keys(&keymint::store::KeyQuery {
                environment: keymint::domain::EnvironmentName::parse("production").unwrap(),
                owner: None,
                after: None,
                limit: 10,
            })
            .await
            .unwrap()
            .total_count
    };
    let no_token = alice
        .post("/console/production/keys", &[("name", "x")])
        .await;
    assert_eq!(no_token.status, 403);
    let wrong = alice
        .post(
            "/console/production/keys",
            &[("csrf", "A".repeat(32).as_str())],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // A cross-origin form post, as another site's page would send it, with the cookie.
    let cookie = alice.cookie.clone().unwrap();
    for (origin, site) in [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", "same-site"),
    ] {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(app.url("/console/production/keys"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .form(&[("csrf", csrf.as_str()), ("name", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{origin} {site}");
    }
    assert_eq!(keys().await, 0, "a refused form created a key");
    let ok = alice
        .post(
            "/console/production/keys",
            &[("csrf", &csrf), ("permission", "runs:read")],
        )
        .await;
    assert_eq!(ok.status, 201);
    assert_eq!(keys().await, 1);
    let escalate = alice
        .post(
            "/console/production/keys",
            &[("csrf", &csrf), ("permission", "admin")],
        )
        .await;
    assert_eq!(escalate.status, 403, "a permission alice lacks");
    assert!(escalate.body.contains("admin"));
    assert_eq!(keys().await, 1);
    let sign_out = alice.post("/console/sign-out", &[]).await;
    assert_eq!(sign_out.status, 403, "sign-out needs the token too");
}

pub async fn sessions_end_on_sign_out_idleness_and_deactivation_anywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    let csrf = alice
        .get("/console/production/keys/new")
        .await
        .field("csrf");
    let out = alice.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/console/sign-in"));
    assert!(alice.cookie.is_none(), "the cookie is cleared");
    assert_eq!(app.audit_count("alice", "console.signed_out").await, 1);

    let mut idle = Visitor::new(&app);
    idle.sign_in("alice").await;
    let stolen = idle.cookie.clone();
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(
        idle.get("/console/production/keys").await.location(),
        "/console/sign-in"
    );
    // A signed-out or expired session stays ended even with the old cookie.
    alice.cookie = stolen;
    assert_eq!(alice.get("/console/production/keys").await.status, 303);

    let mut busy = Visitor::new(&app);
    busy.sign_in("alice").await;
    for _ in 0..3 {
        app.clock.advance(time::Duration::minutes(20));
        assert_eq!(
            busy.get("/console/production/keys").await.status,
            200,
            "activity keeps a session"
        );
    }
    let peer = app.spawn_peer().await;
    peer.state
        .management()
        .deactivate_user(&keymint::domain::UserId::parse("alice").unwrap())
        .await
        .unwrap();
    assert_eq!(
        busy.get("/console/production/keys").await.location(),
        "/console/sign-in",
        "deactivated at the other instance"
    );
    let link = link_for_inactive(&app).await;
    assert!(link, "a link for an inactive user is refused");
}

async fn link_for_inactive(app: &TestApp) -> bool {
    let ctx = app.state.management().context();
    matches!(
        app.state
            .store
            .create_console_link(
                "h",
                &keymint::domain::UserId::parse("alice").unwrap(),
                ctx.now,
                &ctx
            )
            .await,
        Err(keymint::store::StoreError::OwnerInactive)
    )
}
