//! Signing-key rotation without breaking a validator that caches the JWKS as told.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::time::Duration;

use keymint::clock::Clock;

use crate::app::{Backend, TestApp};

/// A gateway that caches the JWKS for the advertised max-age (on the test's clock) and
/// refetches only when a token names an unknown kid and its copy is stale.
struct CachingValidator {
    jwks: JwkSet,
    fetched_at: time::OffsetDateTime,
    max_age: time::Duration,
    fetches: usize,
}

impl CachingValidator {
    async fn new(app: &TestApp) -> Self {
        let mut v = Self {
            jwks: JwkSet { keys: vec![] },
            fetched_at: app.clock.now(),
            max_age: time::Duration::ZERO,
            fetches: 0,
        };
        v.fetch(app).await;
        v
    }

    async fn fetch(&mut self, app: &TestApp) {
        let response = app
            .http
            .get(app.url("/production/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        let cache_control = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        let secs: i64 = cache_control
            .split("max-age=")
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        self.max_age = time::Duration::seconds(secs);
        self.jwks = response.json().await.unwrap();
        self.fetched_at = app.clock.now();
        self.fetches += 1;
    }

    async fn validate(&mut self, app: &TestApp, token: &str) -> Result<String, String> {
        let header = decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.clone().ok_or("no kid")?;
        if self.jwks.find(&kid).is_none() && app.clock.now() - self.fetched_at >= self.max_age {
            self.fetch(app).await;
        }
        let jwk = self
            .jwks
            .find(&kid)
            .ok_or_else(|| format!("kid {kid} unknown to the cached JWKS"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[app.url("/production")]);
        // Signature and audience; time is not what this test is about.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .map_err(|e| e.to_string())?;
        Ok(kid)
    }
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.jwks("production").await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caching_validator_keeps_validating_through_a_rotation() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let mint = || async {
        app.mint("production", &key).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut validator = CachingValidator::new(&app).await;
    assert_eq!(
        validator.max_age,
        time::Duration::seconds(300),
        "JWKS max-age is the publish delay"
    );
    let old_kid = jwks_kids(&app).await[0].clone();
    let before = mint().await;
    assert_eq!(validator.validate(&app, &before).await.unwrap(), old_kid);

    // Rotate: the next key is published at once but does not sign yet.
    let next = app.rotate_signing_key("production").await;
    app.state.refresh_signing_keys().await;
    assert_eq!(jwks_kids(&app).await, [next.clone(), old_kid.clone()]);
    let during = mint().await;
    assert_eq!(
        validator.validate(&app, &during).await.unwrap(),
        old_kid,
        "signed with the next key before the delay"
    );
    assert_eq!(validator.fetches, 1);

    // The publish delay passes: the new key signs; the old one stays published.
    app.clock.advance(time::Duration::seconds(301));
    app.state.refresh_signing_keys().await;
    let after = mint().await;
    assert_eq!(
        validator.validate(&app, &after).await.unwrap(),
        next,
        "the validator could not follow"
    );
    for token in [&before, &during] {
        assert_eq!(
            validator.validate(&app, token).await.unwrap(),
            old_kid,
            "a token of the old key broke"
        );
    }

    // Every token of the old key has expired: it drops out of the JWKS.
    app.clock.advance(time::Duration::seconds(600));
    app.state.refresh_signing_keys().await;
    assert_eq!(jwks_kids(&app).await, [next]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_instances_pick_up_a_new_key_without_a_restart() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // As `keymint signing-keys rotate` does, from outside the serving process.
    let next = app.rotate_signing_key_elsewhere("production").await;
    let seen = TestApp::eventually(Duration::from_secs(3), || async {
        jwks_kids(&app).await.contains(&next)
    })
    .await;
    assert!(seen.is_some(), "the change feed did not bring the new key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_creates_one_key_when_due() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("KEYMINT_SIGNING_KEY_ROTATE_DAYS", "30")],
    )
    .await;
    app.state.refresh_signing_keys().await;
    assert_eq!(jwks_kids(&app).await.len(), 1, "rotated before it was due");
    app.clock.advance(time::Duration::days(30));
    app.state.refresh_signing_keys().await;
    app.state.refresh_signing_keys().await;
    let kids = jwks_kids(&app).await;
    assert_eq!(kids.len(), 2, "one new key, published");
    let query = keymint::store::AuditQuery {
        environment: Some("production".into()),
        limit: 100,
        ..Default::default()
    };
    let (entries, _) = app.state.store.list_audit(&query).await.unwrap();
    let created: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "signing_key.created" && e.reason.as_deref() == Some("scheduled"))
        .collect();
    assert_eq!(
        created.len(),
        1,
        "one entry for the one rotation: {entries:?}"
    );
    assert_eq!(created[0].source, "schedule");
    let kid = created[0].target.as_deref().unwrap();
    assert!(kids.iter().any(|k| k == kid), "{kid} not in {kids:?}");
}

/// A reload that read the clock before a slow database read (the sync task's, after the
/// change feed) must not undo a key transition applied meanwhile at a later time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reload_never_moves_the_schedule_back() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = app.clock.now();
    let next = app.rotate_signing_key("production").await;
    app.clock.advance(time::Duration::seconds(301));
    app.state.refresh_signing_keys().await;
    let env = keymint::domain::EnvironmentName::parse("production").unwrap();
    assert_eq!(app.state.keys.get(&env).unwrap().active.kid(), next);
    // The reload that started before the clock moved finishes now.
    app.state.keys.reload(&env, before).await.unwrap();
    assert_eq!(
        app.state.keys.get(&env).unwrap().active.kid(),
        next,
        "a stale reload brought the old key back"
    );
}
