//! Keys without a secret from the command line, with the real binary: `keys create
//! --jwks-file` (no secret printed, `tokenEndpointAuthMethod` said), a file holding a
//! private key refused, the key's client getting a token with a signed assertion,
//! `keys set-jwks` replacing its keys, `rotate-secret` refused for it.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::*;

use keymint::signing::{SigningAlg, SigningKey};

fn jwks_file(dir: &std::path::Path, name: &str, key: &SigningKey) -> String {
    let path = dir.join(name);
    std::fs::write(&path, json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
    path.display().to_string()
}

fn assertion(key: &SigningKey, der: &[u8], client_id: &str, audience: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid().to_owned());
    let claims = json!({"iss": client_id, "sub": client_id, "aud": audience,
        "iat": now, "exp": now + 120, "jti": keymint::secrets::random_token(16)});
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der),
    )
    .unwrap()
}

#[test]
fn keys_without_a_secret_are_made_and_rekeyed_at_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    ok(
        dir,
        &["users", "upsert", "alice", "--permission", "runs:read"],
        &logs,
    );
    let (first, first_der) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let file = jwks_file(dir, "first.json", &first);
    let created: Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--jwks-file",
            &file,
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    assert!(created["clientSecret"].is_null(), "{created}");
    assert_eq!(created["tokenEndpointAuthMethod"], "private_key_jwt");
    let client_id = created["clientId"].as_str().unwrap().to_owned();

    // A file holding the private key is refused, and says why.
    let private = dir.join("private.json");
    let mut jwk = serde_json::to_value(first.public_jwk()).unwrap();
    jwk["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    std::fs::write(&private, json!({"keys": [jwk]}).to_string()).unwrap();
    let out = keymint(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--jwks-file",
            private.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("private key material"), "{stderr}");

    let listed: Value = serde_json::from_str(&ok(
        dir,
        &["keys", "list", "--env", "production", "--json"],
        &logs,
    ))
    .unwrap();
    assert_eq!(
        listed[0]["tokenEndpointAuthMethod"], "private_key_jwt",
        "{listed}"
    );
    let out = keymint(dir, &["keys", "rotate-secret", &client_id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secret"));

    // Its client gets a token with a signed assertion; after set-jwks, only the new key.
    let mut server = start_server(dir, Arc::clone(&logs));
    let http = reqwest::blocking::Client::new();
    let audience = format!("{}/production", server.base);
    let exchange = |jwt: &str| {
        http.post(format!("{audience}/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", jwt),
            ])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        exchange(&assertion(&first, &first_der, &client_id, &audience)),
        200
    );
    let (second, second_der) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let file = jwks_file(dir, "second.json", &second);
    let said = ok(
        dir,
        &["keys", "set-jwks", &client_id, "--jwks-file", &file],
        &logs,
    );
    assert!(said.contains(&client_id), "{said}");
    // The running server hears of the change through the change feed (the CLI is another
    // process): within a second.
    let started = std::time::Instant::now();
    while exchange(&assertion(&second, &second_der, &client_id, &audience)) != 200 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "the new key still refused after a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        exchange(&assertion(&first, &first_der, &client_id, &audience)),
        401
    );
    stop_with_sigterm(&mut server);
    // No assertion ever reaches a log.
    let logs = logs.lock().unwrap();
    assert!(!logs.contains("eyJ"), "a JWT in the logs");
}

#[test]
fn federated_keys_are_made_at_the_command_line_and_need_a_rule() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    ok(
        dir,
        &["users", "upsert", "deployer", "--permission", "deploy"],
        &logs,
    );
    let github = "https://token.actions.githubusercontent.com";
    let created: Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "deployer",
            "--env",
            "production",
            "--federated-issuer",
            github,
            "--federated-subject",
            "repo:acme/app:environment:production",
            "--federated-claim",
            "repository_owner=acme",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    assert!(created["clientSecret"].is_null(), "{created}");
    assert_eq!(created["tokenEndpointAuthMethod"], "private_key_jwt");
    let listed: Value = serde_json::from_str(&ok(
        dir,
        &["keys", "list", "--env", "production", "--json"],
        &logs,
    ))
    .unwrap();
    assert_eq!(listed[0]["federation"]["issuer"], github, "{listed}");
    assert_eq!(
        listed[0]["federation"]["claims"],
        json!([["repository_owner", "acme"]])
    );
    // Never "any token from GitHub"; a condition is NAME=VALUE; https only.
    for (args, says) in [
        (
            vec!["--federated-issuer", github],
            "subject or at least one claim",
        ),
        (
            vec!["--federated-issuer", github, "--federated-claim", "owner"],
            "NAME=VALUE",
        ),
        (
            vec![
                "--federated-issuer",
                "http://ci.example",
                "--federated-subject",
                "x",
            ],
            "https",
        ),
    ] {
        let mut all = vec![
            "keys",
            "create",
            "--user",
            "deployer",
            "--env",
            "production",
        ];
        all.extend(args);
        let out = keymint(dir, &all);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
}
