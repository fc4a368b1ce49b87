//! Keys without a stored secret, `private_key_jwt` (RFC 7523 §2.2): a client signs an
//! assertion with its own key and gets a token that verifies through the JWKS; every
//! forgery (replay, expired, too long-lived, another audience, `iss` not the client,
//! `alg: none`, HMAC keyed with the public key, a key never registered, a secret instead)
//! is the one `401 invalid_client`, its reason only counted; a replay at a second instance
//! is refused too. Where the keys come from (a published set, GraphQL, the operator's host
//! list) is in `private_key_jwt_keys.rs`, which shares the helpers here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use keymint::clock::Clock;
use keymint::domain::{
    ClientKeys, EnvironmentName, KeyAuth, Permissions, UserId, parse_client_jwks,
};
use keymint::manage::CreateKey;
use keymint::signing::{SigningAlg, SigningKey};

use crate::app::{Backend, TestApp};

crate::both_backends!(private_key_jwt:
    a_signed_assertion_buys_a_token_and_every_forgery_is_refused,
    an_assertion_is_spent_at_every_instance_and_a_disable_reaches_them_all,
    a_burst_at_two_instances_spends_each_assertion_exactly_once,
);

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's own key pair: Keymint only ever sees the public half.
pub struct ClientKey {
    key: SigningKey,
    der: Vec<u8>,
    alg: SigningAlg,
}

impl ClientKey {
    pub fn generate(alg: SigningAlg) -> Self {
        let (key, der) = SigningKey::generate(alg).unwrap();
        Self { key, der, alg }
    }

    pub fn jwk(&self) -> Value {
        serde_json::to_value(self.key.public_jwk()).unwrap()
    }

    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// A JWT with `claims`, signed with this key and naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let (alg, key) = match self.alg {
            SigningAlg::Es256 => (
                jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::EncodingKey::from_ec_der(&self.der),
            ),
            SigningAlg::Rs256 => panic!("the tests' clients sign with ES256 or EdDSA"),
            SigningAlg::EdDsa => (
                jsonwebtoken::Algorithm::EdDSA,
                jsonwebtoken::EncodingKey::from_ed_der(&self.der),
            ),
        };
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(self.kid().to_owned());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

/// The claims of a good assertion for `client_id` at `app`'s `production`, now.
pub fn claims(app: &TestApp, client_id: &str) -> Value {
    let now = app.clock.now().unix_timestamp();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": app.url("/production"),
        "iat": now,
        "exp": now + 300,
        "jti": keymint::secrets::random_token(16),
    })
}

/// A `private_key_jwt` key of `owner` in `production` trusting `auth`, with `runs:read`
/// and `IntrospectToken`.
pub async fn client_key(app: &TestApp, owner: &str, auth: KeyAuth) -> String {
    let created = app
        .state
        .management()
        .create_key(CreateKey {
            owner_id: UserId::parse(owner).unwrap(),
            environment: EnvironmentName::parse("production").unwrap(),
            permissions: Some(Permissions::parse(["runs:read", "IntrospectToken"]).unwrap()),
            name: None,
            expires_at: None,
            auth,
            allowed_ips: keymint::domain::AllowedIps::any(),
        })
        .await
        .unwrap();
    assert!(created.secret.is_none(), "no secret is made or shown");
    created.key.client_id.to_string()
}

pub fn registered(keys: &[&ClientKey]) -> KeyAuth {
    let jwks = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    KeyAuth::ClientKeys(ClientKeys::Set(
        parse_client_jwks(&jwks.to_string()).unwrap(),
    ))
}

/// POSTs a token request with `assertion` (and `client_id`, when given).
pub async fn exchange(app: &TestApp, assertion: &str, client_id: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    let response = app
        .http
        .post(app.url("/production/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn refused(outcome: &(u16, Value), what: &str) {
    assert_eq!(outcome.0, 401, "{what}: {}", outcome.1);
    assert_eq!(outcome.1["error"], "invalid_client", "{what}");
}

pub async fn a_signed_assertion_buys_a_token_and_every_forgery_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read", "runs:write", "IntrospectToken"])
        .await;
    let client = ClientKey::generate(SigningAlg::Es256);
    let client_id = client_key(&app, "alice", registered(&[&client])).await;

    // The assertion alone names the client (iss); the token verifies through the JWKS.
    let good = client.sign(&claims(&app, &client_id));
    let (status, body) = exchange(&app, &good, None).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let verified = app.verify("production", token).await.unwrap();
    assert_eq!(verified["sub"], "alice");
    assert_eq!(verified["client_id"], client_id.as_str());
    assert_eq!(
        verified["permissions"],
        json!(["IntrospectToken", "runs:read"])
    );
    assert!(
        verified.get("sv").is_none(),
        "no secret version: {verified}"
    );
    // Introspection, authenticated by an assertion too, finds it active.
    let introspected: Value = app
        .http
        .post(app.url("/production/oauth2/introspect"))
        .form(&[
            ("token", token),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &client.sign(&claims(&app, &client_id))),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    // RFC 7523 §3: the token endpoint URL is an audience too; client_id may be sent.
    let mut to_endpoint = claims(&app, &client_id);
    to_endpoint["aud"] = json!(app.url("/production/oauth2/token"));
    let (status, body) = exchange(&app, &client.sign(&to_endpoint), Some(&client_id)).await;
    assert_eq!(status, 200, "{body}");
    // authlib's default lifetime (an hour) is accepted.
    let mut hour = claims(&app, &client_id);
    hour["exp"] = json!(hour["iat"].as_i64().unwrap() + 3600);
    assert_eq!(exchange(&app, &client.sign(&hour), None).await.0, 200);

    // Replayed, at the same instance.
    refused(&exchange(&app, &good, None).await, "a replay");
    // Expired; longer than an hour; no exp.
    let mut expired = claims(&app, &client_id);
    let now = app.clock.now().unix_timestamp();
    expired["iat"] = json!(now - 900);
    expired["exp"] = json!(now - 600);
    refused(
        &exchange(&app, &client.sign(&expired), None).await,
        "expired",
    );
    let mut long = claims(&app, &client_id);
    long["exp"] = json!(now + 7200);
    refused(
        &exchange(&app, &client.sign(&long), None).await,
        "two hours",
    );
    let mut no_exp = claims(&app, &client_id);
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(&exchange(&app, &client.sign(&no_exp), None).await, "no exp");
    // Another audience (another environment's issuer).
    let mut other_aud = claims(&app, &client_id);
    other_aud["aud"] = json!(app.url("/sandbox"));
    refused(
        &exchange(&app, &client.sign(&other_aud), None).await,
        "audience",
    );
    // iss / sub not the client.
    let mut other_iss = claims(&app, &client_id);
    other_iss["sub"] = json!("kmc_AAAAAAAAAAAAAAAAAAAAAA");
    refused(&exchange(&app, &client.sign(&other_iss), None).await, "sub");
    let mut named_other = claims(&app, &client_id);
    named_other["iss"] = json!("someone");
    refused(
        &exchange(&app, &client.sign(&named_other), Some(&client_id)).await,
        "iss",
    );
    // No jti.
    let mut no_jti = claims(&app, &client_id);
    no_jti.as_object_mut().unwrap().remove("jti");
    refused(&exchange(&app, &client.sign(&no_jti), None).await, "no jti");
    // alg none.
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT"})),
        part(&claims(&app, &client_id))
    );
    refused(&exchange(&app, &unsigned, None).await, "alg none");
    // HMAC keyed with the public key (the classic algorithm confusion).
    let public = serde_json::to_vec(&client.jwk()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(client.kid().to_owned());
    let hmac = jsonwebtoken::encode(
        &header,
        &claims(&app, &client_id),
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    refused(
        &exchange(&app, &hmac, None).await,
        "HMAC with the public key",
    );
    // A key never registered, even under the registered kid.
    let stranger = ClientKey::generate(SigningAlg::Es256);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(client.kid().to_owned());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(&app, &client_id),
        &jsonwebtoken::EncodingKey::from_ec_der(&stranger.der),
    )
    .unwrap();
    refused(&exchange(&app, &forged, None).await, "unregistered key");
    // A secret for a key that has none.
    let secretless = crate::app::Key {
        client_id: client_id.clone(),
        secret: "kms_0000000000000000000000000000000000000000000".into(),
    };
    assert_eq!(app.token_status("production", &secretless).await, 401);
    // Two methods at once is a malformed request (RFC 6749 §2.3).
    let both = app
        .http
        .post(app.url("/production/oauth2/token"))
        .basic_auth(&client_id, Some("x"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &client.sign(&claims(&app, &client_id))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);

    // The reasons are counted, never told.
    let metrics = app.metrics_text().await;
    for reason in [
        "assertion_replayed",
        "assertion_expired",
        "assertion_lifetime",
        "assertion_audience",
        "assertion_issuer",
        "assertion_algorithm",
        "assertion_signature",
        "wrong_auth_method",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} not counted:\n{metrics}"
        );
    }

    // Disabled: refused at once.
    app.disable(&crate::app::Key {
        client_id: client_id.clone(),
        secret: String::new(),
    })
    .await;
    refused(
        &exchange(&app, &client.sign(&claims(&app, &client_id)), None).await,
        "disabled key",
    );
}

/// A JWKS served on 127.0.0.1 with `max-age=60`; `publish` replaces what it serves.
pub async fn an_assertion_is_spent_at_every_instance_and_a_disable_reaches_them_all(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let peer = app.spawn_peer().await;
    app.user("alice", &["runs:read", "IntrospectToken"]).await;
    let client = ClientKey::generate(SigningAlg::Es256);
    let client_id = client_key(&app, "alice", registered(&[&client])).await;
    let once = client.sign(&claims(&app, &client_id));
    let (status, body) = exchange(&peer, &once, None).await;
    assert_eq!(status, 200, "{body}");
    refused(
        &exchange(&app, &once, None).await,
        "a replay at the other instance",
    );
    refused(
        &exchange(&peer, &once, None).await,
        "a replay at the same instance",
    );
    // A disable at one instance: the other refuses the next assertion.
    app.disable(&crate::app::Key {
        client_id: client_id.clone(),
        secret: String::new(),
    })
    .await;
    refused_within_a_second(&app, &peer, &client, &client_id, "disabled elsewhere").await;
    // The owner deactivated at one instance: another key of theirs is refused at the other.
    let second = client_key(&app, "alice", registered(&[&client])).await;
    let (status, body) = exchange(&peer, &client.sign(&claims(&app, &second)), None).await;
    assert_eq!(status, 200, "{body}");
    app.state
        .management()
        .deactivate_user(&UserId::parse("alice").unwrap())
        .await
        .unwrap();
    refused_within_a_second(&app, &peer, &client, &second, "owner deactivated elsewhere").await;
}

/// Concurrent requests' `jti`s are written together: the answer each gets is its own.
pub async fn a_burst_at_two_instances_spends_each_assertion_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let peer = app.spawn_peer().await;
    app.user("alice", &["runs:read", "IntrospectToken"]).await;
    let client = ClientKey::generate(SigningAlg::Es256);
    let client_id = client_key(&app, "alice", registered(&[&client])).await;
    let at = |i: usize| if i.is_multiple_of(2) { &app } else { &peer };
    // Forty different assertions at once: every one buys a token.
    let distinct: Vec<String> = (0..40)
        .map(|_| client.sign(&claims(&app, &client_id)))
        .collect();
    let outcomes = futures_util::future::join_all(
        distinct
            .iter()
            .enumerate()
            .map(|(i, a)| exchange(at(i), a, None)),
    )
    .await;
    for (status, body) in &outcomes {
        assert_eq!(*status, 200, "a fresh assertion in a burst: {body}");
    }
    // One assertion sent forty times at once, half to each instance: one token.
    let once = client.sign(&claims(&app, &client_id));
    let outcomes =
        futures_util::future::join_all((0..40).map(|i| exchange(at(i), &once, None))).await;
    let accepted = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(accepted, 1, "{outcomes:?}");
    for outcome in outcomes.iter().filter(|(status, _)| *status != 200) {
        refused(outcome, "the same assertion again, at once");
    }
}

/// The other instance, which remembers the key, refuses fresh assertions of it within a
/// second of a change made at `app` (the change feed's reach).
async fn refused_within_a_second(
    app: &TestApp,
    peer: &TestApp,
    client: &ClientKey,
    client_id: &str,
    what: &str,
) {
    let reached = TestApp::eventually(std::time::Duration::from_secs(1), || async {
        exchange(peer, &client.sign(&claims(app, client_id)), None)
            .await
            .0
            == 401
    })
    .await;
    assert!(reached.is_some(), "{what}: still accepted after a second");
}
