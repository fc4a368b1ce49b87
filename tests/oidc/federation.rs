//! Workload identity federation against a real OpenID Provider (panva's `oidc-provider`):
//! its ID tokens, for logins shaped like GitHub Actions subjects and carrying GitHub's
//! claims (`repository`, `repository_owner`, `ref`, `environment`, `job_workflow_ref`),
//! buy Keymint tokens for federated keys whose rule they match, and only those.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use keymint::domain::{EnvironmentName, FederationRule, KeyAuth, Permissions, UserId};
use keymint::manage::CreateKey;

use crate::app::{Backend, TestApp};
use crate::provider::{CLIENT_ID, CLIENT_SECRET, OidcProvider, free_port, issuer};
use crate::sign_in::{browser, dance};

/// Where the provider sends the code; never followed.
const CALLBACK: &str = "http://127.0.0.1:9/callback";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An ID token of the provider on `port` for `login`: the authorization-code flow with
/// PKCE, through its login and consent pages, then its token endpoint.
async fn id_token(port: u16, login: &str) -> String {
    let browser = browser();
    let verifier = keymint::secrets::random_token(32);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(digest.as_ref());
    let mut start = reqwest::Url::parse(&format!("{}/auth", issuer(port))).unwrap();
    start
        .query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid github")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "federation-test")
        .append_pair("nonce", "federation-test");
    let back =
        reqwest::Url::parse(&dance(&browser, start.as_str(), login, CALLBACK).await).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/token", issuer(port)))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token: {answer}"))
        .to_owned()
}

/// A federated key of `deployer` in `production` with `rule`.
async fn federated_key(app: &TestApp, rule: FederationRule) -> String {
    rule.check().unwrap();
    app.state
        .management()
        .create_key(CreateKey {
            owner_id: UserId::parse("deployer").unwrap(),
            environment: EnvironmentName::parse("production").unwrap(),
            permissions: Some(Permissions::parse(["deploy"]).unwrap()),
            name: None,
            expires_at: None,
            auth: KeyAuth::Federated(rule),
            allowed_ips: keymint::domain::AllowedIps::any(),
        })
        .await
        .unwrap()
        .key
        .client_id
        .to_string()
}

/// The token request with `token` as the client assertion of `client_id`: the status
/// and the body.
async fn exchange(app: &TestApp, client_id: Option<&str>, token: &str) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", token),
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

pub async fn an_outside_token_buys_a_token_only_for_the_rule_it_matches(backend: Backend) {
    let port = free_port();
    let _provider = OidcProvider::start(port, CALLBACK, Some(CLIENT_SECRET)).await;
    let app = TestApp::spawn(backend).await;
    app.user("deployer", &["deploy"]).await;
    let rule = |subject: Option<&str>, claims: &[(&str, &str)]| FederationRule {
        issuer: issuer(port),
        subject: subject.map(str::to_owned),
        // An ID token's audience is the client it was issued to.
        audience: Some(CLIENT_ID.to_owned()),
        claims: claims
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let main_branch =
        federated_key(&app, rule(Some("repo:acme/app:ref:refs/heads/main"), &[])).await;
    let production = federated_key(
        &app,
        rule(
            None,
            &[("repository_owner", "acme"), ("environment", "production")],
        ),
    )
    .await;

    // The branch's token buys a token for the branch's key, verified through the JWKS.
    let from_main = id_token(port, "repo:acme/app:ref:refs/heads/main").await;
    let (status, body) = exchange(&app, Some(&main_branch), &from_main).await;
    assert_eq!(status, 200, "{body}");
    let claims = app
        .verify("production", body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["sub"], "deployer", "on behalf of the key's owner");
    assert_eq!(claims["client_id"], main_branch.as_str());
    assert_eq!(claims["permissions"], serde_json::json!(["deploy"]));
    // It may buy another while it lives (a pod's token is reused until rotated).
    assert_eq!(exchange(&app, Some(&main_branch), &from_main).await.0, 200);
    // But not the production environment's key: it has no `environment` claim.
    assert_eq!(exchange(&app, Some(&production), &from_main).await.0, 401);
    // Without client_id, nothing names the key.
    assert_eq!(exchange(&app, None, &from_main).await.0, 401);

    // The production environment's token matches the claims rule, not the branch's subject.
    let from_production = id_token(port, "repo:acme/app:environment:production").await;
    let (status, body) = exchange(&app, Some(&production), &from_production).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        exchange(&app, Some(&main_branch), &from_production).await.0,
        401
    );
    // Another owner's repository, same environment: refused.
    let from_fork = id_token(port, "repo:evil/app:environment:production").await;
    assert_eq!(exchange(&app, Some(&production), &from_fork).await.0, 401);

    // The default audience is the environment's issuer URL, which the provider's token
    // does not name.
    let default_audience = federated_key(
        &app,
        FederationRule {
            audience: None,
            ..rule(Some("repo:acme/app:ref:refs/heads/main"), &[])
        },
    )
    .await;
    assert_eq!(
        exchange(&app, Some(&default_audience), &from_main).await.0,
        401
    );
    // A key trusting another issuer refuses it.
    let elsewhere = federated_key(
        &app,
        FederationRule {
            issuer: "https://token.actions.githubusercontent.com".into(),
            ..rule(Some("repo:acme/app:ref:refs/heads/main"), &[])
        },
    )
    .await;
    assert_eq!(exchange(&app, Some(&elsewhere), &from_main).await.0, 401);

    // Disabled: refused at once.
    app.state
        .management()
        .set_key_enabled(
            &keymint::domain::ClientId::new(main_branch.clone()),
            false,
            None,
        )
        .await
        .unwrap();
    assert_eq!(exchange(&app, Some(&main_branch), &from_main).await.0, 401);

    let metrics = app.metrics_text().await;
    for reason in ["federation_mismatch", "assertion_audience", "key_disabled"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} not counted"
        );
    }
}
