//! The console's admin pages: only for `admin` (404 for anyone else, so they do not
//! leak); users with key counts, service accounts and their keys (never stronger than the
//! admin), signing keys with a rotation the JWKS shows, and the audit trail with filters.

use crate::app::{Backend, Key, TestApp};
use crate::console::ALICE;
use crate::console_visitor::Visitor;

crate::both_backends!(console_admin:
    admin_pages_are_for_admins_only,
    admins_create_service_accounts_and_their_keys_within_their_own_permissions,
    admins_rotate_signing_keys_and_read_the_audit_trail,
);

const ROOT: &[&str] = &["admin", "CreateAPIKey", "runs:read"];

pub async fn admin_pages_are_for_admins_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", ALICE).await;
    let mut alice = Visitor::new(&app);
    alice.sign_in("alice").await;
    for page in ["users", "signing-keys", "audit"] {
        let found = alice.get(&format!("/console/production/{page}")).await;
        assert_eq!(found.status, 404, "{page}");
    }
    let csrf = alice
        .get("/console/production/keys/new")
        .await
        .field("csrf");
    let rotate = alice
        .post("/console/production/signing-keys", &[("csrf", &csrf)])
        .await;
    assert_eq!(rotate.status, 404);
    assert_eq!(
        app.jwks("production").await["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let svc = alice
        .post(
            "/console/production/users",
            &[("csrf", &csrf), ("id", "svc-x")],
        )
        .await;
    assert_eq!(svc.status, 404);
    assert!(
        app.state
            .store
            .get_user(&keymint::domain::UserId::parse("svc-x").unwrap())
            .await
            .is_err()
    );
}

pub async fn admins_create_service_accounts_and_their_keys_within_their_own_permissions(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    app.user("root", ROOT).await;
    app.user("alice", ALICE).await;
    app.key("alice", "production").await;
    let mut root = Visitor::new(&app);
    root.sign_in("root").await;
    let users = root.get("/console/production/users").await;
    assert_eq!(users.status, 200);
    assert!(
        users.body.contains("alice") && users.body.contains("1 / 1"),
        "{}",
        users.body
    );
    let csrf = users.field("csrf");

    let stronger = root
        .post(
            "/console/production/users",
            &[
                ("csrf", &csrf),
                ("id", "svc-export"),
                ("permission", "deploy"),
            ],
        )
        .await;
    assert_eq!(stronger.status, 403, "root does not hold deploy");
    let taken = root
        .post(
            "/console/production/users",
            &[
                ("csrf", &csrf),
                ("id", "alice"),
                ("permission", "runs:read"),
            ],
        )
        .await;
    assert_eq!(
        taken.status, 409,
        "a person is never turned into a service account"
    );
    let made = root
        .post(
            "/console/production/users",
            &[
                ("csrf", &csrf),
                ("id", "svc-export"),
                ("permission", "runs:read"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let svc = app
        .state
        .store
        .get_user(&keymint::domain::UserId::parse("svc-export").unwrap())
        .await
        .unwrap();
    assert!(svc.service_account);

    let page = root
        .post(
            "/console/production/users/svc-export/keys",
            &[("csrf", &csrf), ("name", "export")],
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.body);
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
        .split("readonly value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let key = Key { client_id, secret };
    let claims = app
        .verify("production", &app.access_token("production", &key).await)
        .await
        .unwrap();
    assert_eq!(claims["sub"], "svc-export");
    let person = root
        .post("/console/production/users/alice/keys", &[("csrf", &csrf)])
        .await;
    assert_eq!(person.status, 403, "keys of people are theirs to make");
}

pub async fn admins_rotate_signing_keys_and_read_the_audit_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", ROOT).await;
    let mut root = Visitor::new(&app);
    root.sign_in("root").await;
    let keys = root.get("/console/production/signing-keys").await;
    assert_eq!(keys.status, 200);
    assert!(keys.body.contains("active"), "{}", keys.body);
    let rotated = root
        .post(
            "/console/production/signing-keys",
            &[("csrf", &keys.field("csrf"))],
        )
        .await;
    assert_eq!(rotated.status, 303);
    let keys = root.get("/console/production/signing-keys").await;
    assert!(keys.body.contains("next"), "{}", keys.body);
    assert_eq!(
        app.jwks("production").await["keys"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "published at once"
    );
    assert_eq!(
        app.jwks("sandbox").await["keys"].as_array().unwrap().len(),
        1,
        "only this environment"
    );

    let audit = root.get("/console/production/audit").await;
    assert!(
        audit.body.contains("console.signed_in") && audit.body.contains("signing_key.created"),
        "{}",
        audit.body
    );
    let filtered = root
        .get("/console/production/audit?action=signing_key.")
        .await;
    assert!(
        !filtered.body.contains("console.signed_in"),
        "{}",
        filtered.body
    );
    assert!(filtered.body.contains("signing_key.created"));
}
