//! Keys without a secret end like any key, at every instance: a `private_key_jwt` key and
//! a federated key (its outside issuer's discovery and keys on loopback) are refused at a
//! second instance within a second of a delete, at once past their expiry, and within a
//! second of their owner's deactivation through each directory door (the signed webhook,
//! SCIM, and on PostgreSQL the `keymint_user_events` table). Neither an assertion nor an
//! outside token appears in the log.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use keymint::clock::Clock;
use keymint::domain::{ClientId, EnvironmentName, FederationRule, KeyAuth, Permissions, UserId};
use keymint::events::{WebhookSecret, sign};
use keymint::manage::CreateKey;
use keymint::signing::SigningAlg;

use crate::app::{Backend, TestApp};
use crate::private_key_jwt::{ClientKey, claims, exchange, registered};

crate::both_backends!(secretless_lifecycle:
    a_delete_and_an_expiry_end_both_kinds_at_every_instance,
    an_owners_deactivation_ends_both_kinds_through_every_door,
    an_outside_token_is_verified_once_and_remembered_only_until_its_exp,
    a_burst_of_first_requests_discovers_the_issuer_once,
);

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SCIM_TOKEN: &str = "scim-test-token-0123456789";

/// An outside OpenID issuer on loopback: discovery, its JWKS, and tokens it signs.
struct OutsideIssuer {
    url: String,
    key: ClientKey,
    /// Discovery documents served.
    discoveries: Arc<AtomicUsize>,
}

impl OutsideIssuer {
    async fn start() -> Self {
        let key = ClientKey::generate(SigningAlg::Es256);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks.json")});
        let jwks = json!({"keys": [key.jwk()]});
        let discoveries = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&discoveries);
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    // As slow as a real issuer across the internet.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    axum::Json(discovery)
                }),
            )
            .route("/jwks.json", get(move || async move { axum::Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            key,
            discoveries,
        }
    }

    /// A workload's token for `subject`, addressed to `app`'s production issuer.
    fn token(&self, app: &TestApp, subject: &str) -> String {
        let now = app.clock.now().unix_timestamp();
        self.key.sign(&json!({
            "iss": self.url,
            "sub": subject,
            "aud": app.url("/production"),
            "iat": now,
            "exp": now + 600,
        }))
    }
}

/// One key of each kind for `owner`.
struct Pair {
    client: ClientKey,
    private_key_jwt: String,
    federated: String,
    subject: String,
}

async fn pair(app: &TestApp, issuer: &OutsideIssuer, owner: &str, expiry: Option<i64>) -> Pair {
    let client = ClientKey::generate(SigningAlg::Es256);
    let subject = format!(
        "system:serviceaccount:ci:{owner}-{}",
        keymint::secrets::random_token(6)
    );
    let rule = FederationRule {
        issuer: issuer.url.clone(),
        subject: Some(subject.clone()),
        audience: None,
        claims: Vec::new(),
    };
    let mut ids = Vec::new();
    for auth in [registered(&[&client]), KeyAuth::Federated(rule)] {
        let expires_at = expiry.map(|minutes| app.clock.now() + time::Duration::minutes(minutes));
        let created = app
            .state
            .management()
            .create_key(CreateKey {
                owner_id: UserId::parse(owner).unwrap(),
                environment: EnvironmentName::parse("production").unwrap(),
                permissions: Some(Permissions::parse(["runs:read"]).unwrap()),
                name: None,
                expires_at,
                auth,
                allowed_ips: keymint::domain::AllowedIps::any(),
            })
            .await
            .unwrap();
        ids.push(created.key.client_id.to_string());
    }
    let federated = ids.pop().unwrap();
    Pair {
        client,
        private_key_jwt: ids.pop().unwrap(),
        federated,
        subject,
    }
}

/// The statuses `at` answers a fresh assertion and a fresh outside token of `pair` with
/// (`app` names the audience: both instances serve one public URL).
async fn statuses(at: &TestApp, app: &TestApp, issuer: &OutsideIssuer, pair: &Pair) -> [u16; 2] {
    let assertion = pair.client.sign(&claims(app, &pair.private_key_jwt));
    let outside = issuer.token(app, &pair.subject);
    [
        exchange(at, &assertion, None).await.0,
        exchange(at, &outside, Some(&pair.federated)).await.0,
    ]
}

/// Waits until `at` refuses both kinds of `pair`.
async fn refused_within_a_second(
    at: &TestApp,
    app: &TestApp,
    issuer: &OutsideIssuer,
    pair: &Pair,
    what: &str,
) {
    let last = Mutex::new([0, 0]);
    let reached = TestApp::eventually(Duration::from_secs(1), || async {
        let now = statuses(at, app, issuer, pair).await;
        *last.lock().unwrap() = now;
        now == [401, 401]
    })
    .await;
    assert!(
        reached.is_some(),
        "{what}: {:?} after a second",
        last.lock().unwrap()
    );
}

pub async fn a_delete_and_an_expiry_end_both_kinds_at_every_instance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let peer = app.spawn_peer().await;
    let issuer = OutsideIssuer::start().await;
    app.user("alice", &["runs:read"]).await;
    let deleted = pair(&app, &issuer, "alice", None).await;
    let expiring = pair(&app, &issuer, "alice", Some(60)).await;
    for (at, name) in [(&app, "app"), (&peer, "peer")] {
        for pair in [&deleted, &expiring] {
            assert_eq!(
                statuses(at, &app, &issuer, pair).await,
                [200, 200],
                "{name}"
            );
        }
    }
    // Deleted at the first instance: the second, which remembers both keys, refuses them.
    for id in [&deleted.private_key_jwt, &deleted.federated] {
        app.state
            .management()
            .delete_key(&ClientId::new(id.clone()), None)
            .await
            .unwrap();
    }
    refused_within_a_second(&peer, &app, &issuer, &deleted, "deleted elsewhere").await;
    // An hour later both instances refuse the keys that expired, with no change written.
    for at in [&app, &peer] {
        at.clock.advance(time::Duration::minutes(61));
    }
    assert_eq!(statuses(&peer, &app, &issuer, &expiring).await, [401, 401]);
    assert_eq!(statuses(&app, &app, &issuer, &expiring).await, [401, 401]);
}

pub async fn an_owners_deactivation_ends_both_kinds_through_every_door(backend: Backend) {
    let vars = [
        ("KEYMINT_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("KEYMINT_SCIM_TOKEN", SCIM_TOKEN),
    ];
    let log = capture_logs();
    let app = TestApp::spawn_with(backend, &vars).await;
    let peer = app.spawn_peer().await;
    let issuer = OutsideIssuer::start().await;
    let mut doors = vec!["webhook", "scim"];
    if matches!(backend, Backend::Postgres) {
        doors.push("table");
    }
    for door in doors {
        let owner = format!("owner-{door}");
        if door == "scim" {
            scim_user(&app, &owner).await;
        } else {
            app.user(&owner, &["runs:read"]).await;
        }
        let pair = pair(&app, &issuer, &owner, None).await;
        assert_eq!(
            statuses(&peer, &app, &issuer, &pair).await,
            [200, 200],
            "{door}"
        );
        deactivate(&app, door, &owner).await;
        refused_within_a_second(&peer, &app, &issuer, &pair, door).await;
        assert_eq!(
            statuses(&app, &app, &issuer, &pair).await,
            [401, 401],
            "{door}"
        );
    }
    // Neither credential was ever logged, at either instance, accepted or refused.
    let logs = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        logs.contains("client authentication refused") && logs.contains("owner-webhook"),
        "the refusals were logged: {logs}"
    );
    assert!(!logs.contains("eyJ"), "a JWT in the log");
}

/// Every log line of this test binary from now on, at `debug` for Keymint: installed once
/// as the global subscriber (no other test installs one).
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("keymint=debug,info")
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        log
    }))
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A workload reuses its token: the second request skips the signature, but never for
/// another key, never past the token's `exp`, never for a key disabled meanwhile.
pub async fn an_outside_token_is_verified_once_and_remembered_only_until_its_exp(backend: Backend) {
    const HITS: &str = "keymint_outside_token_cache_hits_total";
    let app = TestApp::spawn(backend).await;
    let issuer = OutsideIssuer::start().await;
    app.user("alice", &["runs:read"]).await;
    let first = pair(&app, &issuer, "alice", None).await;
    let second = pair(&app, &issuer, "alice", None).await;
    let token = issuer.token(&app, &first.subject);
    assert_eq!(exchange(&app, &token, Some(&first.federated)).await.0, 200);
    assert_eq!(app.metric(HITS).await, 0.0);
    let (status, body) = exchange(&app, &token, Some(&first.federated)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.metric(HITS).await,
        1.0,
        "the second request was remembered"
    );
    app.verify("production", body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    // Another key (another subject) is not answered from the first key's memory.
    assert_eq!(exchange(&app, &token, Some(&second.federated)).await.0, 401);
    // Past its exp (600 s, plus the 60 s leeway of every time check), refused.
    app.clock.advance(time::Duration::seconds(661));
    assert_eq!(exchange(&app, &token, Some(&first.federated)).await.0, 401);
    assert_eq!(app.metric(HITS).await, 1.0);
    // A fresh token, remembered, then the key disabled: refused.
    let fresh = issuer.token(&app, &first.subject);
    for _ in 0..2 {
        assert_eq!(exchange(&app, &fresh, Some(&first.federated)).await.0, 200);
    }
    app.state
        .management()
        .set_key_enabled(&ClientId::new(first.federated.clone()), false, None)
        .await
        .unwrap();
    assert_eq!(exchange(&app, &fresh, Some(&first.federated)).await.0, 401);
}

/// Twenty workloads start at once against an issuer never used: one discovery, every
/// request answered.
pub async fn a_burst_of_first_requests_discovers_the_issuer_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let issuer = OutsideIssuer::start().await;
    app.user("alice", &["runs:read"]).await;
    let pair = pair(&app, &issuer, "alice", None).await;
    let tokens: Vec<String> = (0..20).map(|_| issuer.token(&app, &pair.subject)).collect();
    let outcomes = futures_util::future::join_all(
        tokens
            .iter()
            .map(|t| exchange(&app, t, Some(&pair.federated))),
    )
    .await;
    assert!(outcomes.iter().all(|(s, _)| *s == 200), "{outcomes:?}");
    assert_eq!(issuer.discoveries.load(Ordering::SeqCst), 1);
}

/// Provisions `owner` through SCIM with the role `runs:read` (SCIM knows only the users
/// it provisioned).
async fn scim_user(app: &TestApp, owner: &str) {
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": owner,
        "roles": [{"value": "runs:read"}],
    });
    let response = app
        .http
        .post(app.url("/scim/v2/Users"))
        .bearer_auth(SCIM_TOKEN)
        .header("content-type", "application/scim+json")
        .body(user.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// Deactivates `owner` the way the directory behind `door` would.
async fn deactivate(app: &TestApp, door: &str, owner: &str) {
    match door {
        "webhook" => {
            let body = json!({"type": "user.deactivated", "data": {"id": owner}}).to_string();
            let id = format!("msg_{owner}");
            let at = app.clock.now().unix_timestamp();
            let secret = WebhookSecret::parse(WEBHOOK_SECRET).unwrap();
            let response = app
                .http
                .post(app.url("/hooks/user-events"))
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", at.to_string())
                .header("webhook-signature", sign(&secret, &id, at, body.as_bytes()))
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.status());
        }
        "scim" => {
            let patch = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": false}}],
            });
            let response = app
                .http
                .patch(app.url(&format!("/scim/v2/Users/{owner}")))
                .bearer_auth(SCIM_TOKEN)
                .header("content-type", "application/scim+json")
                .body(patch.to_string())
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 200, "{body}");
        }
        _ => {
            app.sql(&format!(
                "INSERT INTO keymint_user_events (type, data) \
                 VALUES ('user.deactivated', '{{\"id\": \"{owner}\"}}')"
            ))
            .await;
        }
    }
}
