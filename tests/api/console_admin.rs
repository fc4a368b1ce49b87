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

    // The outbox: a key's events waiting, then set aside (as 24 h of failures would).
    app.user("dana", &["runs:read"]).await;
    let key = app.key("dana", "production").await;
    let audit = root.get("/console/production/audit").await;
    assert!(
        audit.body.contains("1 waiting to be delivered") && audit.body.contains("0 set aside"),
        "{}",
        audit.body
    );
    app.sql("UPDATE key_events SET state = 'set_aside', last_error = 'the endpoint answered 503'")
        .await;
    let audit = root.get("/console/production/audit").await;
    assert!(audit.body.contains("1 set aside"), "{}", audit.body);
    assert!(
        audit.body.contains(&key.client_id) && audit.body.contains("the endpoint answered 503")
    );
    let sandbox = root.get("/console/sandbox/audit").await;
    assert!(
        !sandbox.body.contains(&key.client_id),
        "another environment's event"
    );
}

/// PostgreSQL only: the admin pages decide in the transaction that writes. A test
/// transaction holds a directory's write open (uncommitted) while the console acts, so
/// the console's reads see the old state and its write must wait: whatever the console
/// checked before must still be what it writes.
mod postgres_races {
    use super::*;
    use sqlx::{Connection, Executor, PgConnection};

    /// A connection with an open transaction that has run `statement`.
    async fn open_write(app: &TestApp, statement: &'static str) -> PgConnection {
        let mut conn = PgConnection::connect(&app.db_url).await.unwrap();
        conn.execute("BEGIN").await.unwrap();
        conn.execute(statement).await.unwrap();
        conn
    }

    /// Commits `conn` once another session of this database waits for its locks.
    async fn commit_once_blocking(app: &TestApp, mut conn: PgConnection) {
        app.await_lock_waiter("the console never waited for the open write")
            .await;
        conn.execute("COMMIT").await.unwrap();
    }

    async fn signed_in_root(app: &TestApp) -> (Visitor<'_>, String) {
        app.user("root", ROOT).await;
        let mut root = Visitor::new(app);
        root.sign_in("root").await;
        let csrf = root.get("/console/production/users").await.field("csrf");
        (root, csrf)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_person_provisioned_meanwhile_never_becomes_a_service_account() {
        let app = TestApp::spawn(Backend::Postgres).await;
        let (mut root, csrf) = signed_in_root(&app).await;
        // The directory provisions dana, a person, right now.
        let directory = open_write(
            &app,
            "INSERT INTO users (id, email, service_account, active, permissions, created_at, updated_at) \
             VALUES ('dana', 'dana@example.com', FALSE, TRUE, '[\"runs:read\"]', now(), now())",
        )
        .await;
        let form = [
            ("csrf", csrf.as_str()),
            ("id", "dana"),
            ("permission", "runs:read"),
        ];
        let (made, ()) = tokio::join!(
            root.post("/console/production/users", &form),
            commit_once_blocking(&app, directory),
        );
        assert_eq!(made.status, 409, "{}", made.body);
        let dana = app
            .state
            .store
            .get_user(&keymint::domain::UserId::parse("dana").unwrap())
            .await
            .unwrap();
        assert!(!dana.service_account, "a person became a service account");
        assert_eq!(dana.email.as_deref(), Some("dana@example.com"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_grant_raised_meanwhile_is_not_frozen_into_the_admins_key() {
        let app = TestApp::spawn(Backend::Postgres).await;
        let (mut root, csrf) = signed_in_root(&app).await;
        let made = root
            .post(
                "/console/production/users",
                &[
                    ("csrf", &csrf),
                    ("id", "svc-x"),
                    ("permission", "runs:read"),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        // Someone grants svc-x `deploy` (which root does not hold) right now.
        let grant = open_write(
            &app,
            "UPDATE users SET permissions = '[\"deploy\",\"runs:read\"]' WHERE id = 'svc-x'",
        )
        .await;
        let form = [("csrf", csrf.as_str()), ("name", "race")];
        let (page, ()) = tokio::join!(
            root.post("/console/production/users/svc-x/keys", &form),
            commit_once_blocking(&app, grant),
        );
        assert_eq!(page.status, 201, "{}", page.body);
        let keys = app
            .sql("SELECT permissions FROM api_keys WHERE name = 'race'")
            .await
            .unwrap();
        assert_eq!(
            keys, "[\"runs:read\"]",
            "the key holds more than the admin checked (and holds)"
        );
    }
}
