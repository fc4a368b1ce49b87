//! Real client libraries as `private_key_jwt` clients of Keymint, on both backends. Each
//! makes its own key pair, Keymint registers only the public half, and the library's own
//! private_key_jwt support gets tokens that verify through the published JWKS:
//! - authlib (Python, `tests/clients/authlib_private_key_jwt.py`, RSA), installed by
//!   `.ci/run` in the test virtualenv (KEYMINT_TEST_SCIM_PYTHON), enabled with the other
//!   external-tool tests (KEYMINT_TEST_GATEWAY=1);
//! - openid-client (Node, `tests/clients/openid_client_private_key_jwt.mjs`, P-256, with
//!   discovery of the environment's issuer), installed with oidc-provider
//!   (KEYMINT_TEST_OIDC_PROVIDER).
//!
//! And the gateway recipe's status-list script (`examples/status_list_check.py`, joserfc
//! from the same virtualenv) against a token before and after its key is disabled.

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use app::{Backend, TestApp};
use keymint::domain::{
    ClientKeys, EnvironmentName, KeyAuth, Permissions, UserId, parse_client_jwks,
};
use keymint::manage::CreateKey;
use serde_json::Value;

/// Runs the authlib script with `args`; its stdout, or a panic with both outputs.
async fn authlib(args: Vec<String>) -> String {
    let python = std::env::var("KEYMINT_TEST_SCIM_PYTHON").unwrap_or_else(|_| "python3".into());
    run(python, "authlib_private_key_jwt.py", args).await
}

/// Runs the openid-client script with `args`.
async fn openid_client(args: Vec<String>) -> String {
    run("node".into(), "openid_client_private_key_jwt.mjs", args).await
}

async fn run(program: String, script: &str, args: Vec<String>) -> String {
    let script = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let (success, stdout, stderr) = run_path(program, script, args).await;
    assert!(success, "{stdout}\n{stderr}");
    stdout
}

/// Runs `script` (a path) with `args`: whether it succeeded, its stdout and stderr.
async fn run_path(program: String, script: String, args: Vec<String>) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .arg(&script)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Registers `jwks` as the keys of a new `private_key_jwt` key of `ci-bot`.
async fn register(app: &TestApp, jwks: &Value) -> String {
    let created = app
        .state
        .management()
        .create_key(CreateKey {
            owner_id: UserId::parse("ci-bot").unwrap(),
            environment: EnvironmentName::parse("production").unwrap(),
            permissions: Some(Permissions::parse(["runs:read"]).unwrap()),
            name: None,
            expires_at: None,
            auth: KeyAuth::ClientKeys(ClientKeys::Set(
                parse_client_jwks(&jwks.to_string()).unwrap(),
            )),
            allowed_ips: keymint::domain::AllowedIps::any(),
        })
        .await
        .unwrap();
    created.key.client_id.to_string()
}

async fn authlib_gets_tokens_with_its_own_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("ci-bot", &["runs:read"]).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("client.pem").display().to_string();
    let jwks: Value =
        serde_json::from_str(&authlib(vec!["keygen".into(), pem.clone()]).await).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let client_id = register(&app, &jwks).await;
    let token_url = app.url("/production/oauth2/token");
    // Twice: each request is a fresh assertion (a new jti), as authlib makes them.
    for _ in 0..2 {
        let answer: Value = serde_json::from_str(
            &authlib(vec![
                "token".into(),
                pem.clone(),
                token_url.clone(),
                client_id.clone(),
                kid.clone(),
            ])
            .await,
        )
        .unwrap();
        let token = answer["access_token"].as_str().unwrap();
        let claims = app.verify("production", token).await.unwrap();
        assert_eq!(claims["sub"], "ci-bot");
        assert_eq!(claims["client_id"], client_id.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_gateway),
    ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_SCIM_PYTHON (.ci/run installs authlib)"
)]
async fn authlib_private_key_jwt_on_sqlite() {
    authlib_gets_tokens_with_its_own_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keymint_gateway, keymint_pg)),
    ignore = "set KEYMINT_TEST_GATEWAY=1, KEYMINT_TEST_SCIM_PYTHON and KEYMINT_TEST_POSTGRES_URL"
)]
async fn authlib_private_key_jwt_on_postgres() {
    authlib_gets_tokens_with_its_own_key(Backend::Postgres).await;
}

async fn openid_client_gets_tokens_with_its_own_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("ci-bot", &["runs:read"]).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.jwk").display().to_string();
    let jwks: Value =
        serde_json::from_str(&openid_client(vec!["keygen".into(), key.clone()]).await).unwrap();
    let client_id = register(&app, &jwks).await;
    for _ in 0..2 {
        let answer: Value = serde_json::from_str(
            &openid_client(vec![
                "token".into(),
                key.clone(),
                app.url("/production"),
                client_id.clone(),
            ])
            .await,
        )
        .unwrap();
        let token = answer["access_token"].as_str().unwrap();
        let claims = app.verify("production", token).await.unwrap();
        assert_eq!(claims["sub"], "ci-bot");
        assert_eq!(claims["client_id"], client_id.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_oidc),
    ignore = "set KEYMINT_TEST_OIDC_PROVIDER (.ci/run installs openid-client with oidc-provider)"
)]
async fn openid_client_private_key_jwt_on_sqlite() {
    openid_client_gets_tokens_with_its_own_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keymint_oidc, keymint_pg)),
    ignore = "set KEYMINT_TEST_OIDC_PROVIDER and KEYMINT_TEST_POSTGRES_URL"
)]
async fn openid_client_private_key_jwt_on_postgres() {
    openid_client_gets_tokens_with_its_own_key(Backend::Postgres).await;
}

/// The gateway recipe's script (`examples/status_list_check.py`, joserfc and zlib: an
/// implementation of the draft independent of Keymint's) accepts a token of a key in good
/// standing and refuses it once the key is disabled, through the status list.
async fn the_status_list_script_refuses_a_disabled_keys_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let token = app.access_token("production", &key).await;
    let python = std::env::var("KEYMINT_TEST_SCIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = format!(
        "{}/examples/status_list_check.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let issuer = app.url("/production");
    let args = vec![issuer.clone(), issuer, token];
    let (ok, stdout, stderr) = run_path(python.clone(), script.clone(), args.clone()).await;
    assert!(ok, "{stdout}\n{stderr}");
    let claims: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(claims["client_id"], key.client_id.as_str());
    app.disable(&key).await;
    let (ok, stdout, _) = run_path(python, script, args).await;
    assert!(!ok, "a disabled key's token passed: {stdout}");
    assert!(stdout.contains("status list"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_gateway),
    ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_SCIM_PYTHON (.ci/run installs joserfc with authlib)"
)]
async fn status_list_script_on_sqlite() {
    the_status_list_script_refuses_a_disabled_keys_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keymint_gateway, keymint_pg)),
    ignore = "set KEYMINT_TEST_GATEWAY=1, KEYMINT_TEST_SCIM_PYTHON and KEYMINT_TEST_POSTGRES_URL"
)]
async fn status_list_script_on_postgres() {
    the_status_list_script_refuses_a_disabled_keys_token(Backend::Postgres).await;
}
