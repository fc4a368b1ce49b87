//! The README walk-through, ending with a sweep of every log line for the secrets,
//! hashes and tokens the run produced.

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::*;

#[test]
fn quick_start_walkthrough_works_and_logs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    let http = reqwest::blocking::Client::new();

    ok(
        dir,
        &[
            "users",
            "upsert",
            "alice",
            "--email",
            "alice@example.com",
            "--permission",
            "runs:read",
            "--permission",
            "runs:write",
            "--permission",
            "CreateAPIKey",
            "--permission",
            "UpdateAPIKey",
            "--permission",
            "DeleteAPIKey",
        ],
        &logs,
    );
    let users = ok(dir, &["users", "list"], &logs);
    assert!(
        users.contains("alice") && users.contains("alice@example.com"),
        "{users}"
    );
    let catalogue = ok(dir, &["permissions"], &logs);
    for (name, _) in keymint::domain::BUILT_IN {
        assert!(catalogue.contains(name), "{name} missing from: {catalogue}");
    }
    let created: Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let fields: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "clientId",
            "clientSecret",
            "environment",
            "id",
            "permissions"
        ]
    );
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(
        created["permissions"],
        serde_json::json!([
            "CreateAPIKey",
            "DeleteAPIKey",
            "UpdateAPIKey",
            "runs:read",
            "runs:write"
        ])
    );

    let escalation = keymint(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--permission",
            "admin",
        ],
    );
    assert!(!escalation.status.success());
    assert!(String::from_utf8_lossy(&escalation.stderr).contains("does not hold: admin"));

    let scim_token = "walkthrough-scim-token-0123456789";
    let mut server = start_server_with(
        dir,
        Arc::clone(&logs),
        &[("KEYMINT_SCIM_TOKEN", scim_token)],
    );
    assert!(
        dir.join("keymint.db").exists(),
        "default database is keymint.db in the working directory"
    );
    // Signing keys live in the database, sealed; the keys folder holds only the generated
    // encryption key, private to this user.
    let keys_dir: Vec<String> = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(keys_dir, ["encryption-keys"]);
    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("keys"), mode("keys/encryption-keys")), (0o700, 0o600));
    let encryption_key = std::fs::read_to_string(dir.join("keys/encryption-keys")).unwrap();
    let encryption_key = encryption_key.trim().split_once(':').unwrap().1.to_owned();
    let stored: i64 = sqlite_query(
        dir,
        "SELECT COUNT(*) FROM signing_keys WHERE environment = $1",
        "production",
    );
    assert_eq!(stored, 1, "one signing key for production");

    let response = token(&http, &server.base, &client_id, &secret);
    assert_eq!(response.status(), 200);
    let access_token = response.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Check it against the published JWKS, as the README shows.
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(format!("{}/production/.well-known/jwks.json", server.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let header = jsonwebtoken::decode_header(&access_token).unwrap();
    let kid = header.kid.clone().unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[format!("{}/production", server.base)]);
    validation.set_audience(&[format!("{}/production", server.base)]);
    let claims = jsonwebtoken::decode::<Value>(&access_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "alice");
    assert!(ok(dir, &["signing-keys", "list", "--env", "production"], &logs).contains(&kid));
    let issuer = format!("{}/production", server.base);
    let verified = ok(
        dir,
        &["tokens", "verify", "--issuer", &issuer, &access_token],
        &logs,
    );
    assert!(
        verified.contains("valid for") && verified.contains("\"sub\": \"alice\""),
        "{verified}"
    );
    assert!(
        verified.contains("checked offline") && verified.contains("--introspect"),
        "an offline check must say what it did not check: {verified}"
    );
    let active = ok(
        dir,
        &[
            "tokens",
            "verify",
            "--introspect",
            "--issuer",
            &issuer,
            &access_token,
        ],
        &logs,
    );
    assert!(active.contains("active: valid for"), "{active}");
    let foreign = keymint(
        dir,
        &[
            "tokens",
            "verify",
            "--issuer",
            &format!("{}/sandbox", server.base),
            &access_token,
        ],
    );
    assert!(
        !foreign.status.success(),
        "a production token verified for sandbox"
    );
    assert!(String::from_utf8_lossy(&foreign.stderr).contains("NOT valid"));

    // 5. The same key manages keys through GraphQL, as the README's next section shows.
    let made: Value = http
        .post(format!("{}/production/graphql", server.base))
        .bearer_auth(&access_token)
        .json(&json!({"query": "mutation CreateAPIKey { createApiKey { apikey { clientId clientSecret } } }"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let second = &made["data"]["createApiKey"]["apikey"];
    let second_id = second["clientId"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"));
    let second_secret = second["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(
        token(&http, &server.base, second_id, &second_secret).status(),
        200,
        "the key made through GraphQL mints tokens"
    );

    // A directory provisions a user through SCIM (its token must never reach the logs).
    let provisioned = http
        .post(format!("{}/scim/v2/Users", server.base))
        .bearer_auth(scim_token)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dana"}"#)
        .send()
        .unwrap();
    assert_eq!(provisioned.status(), 201);

    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert!(
        ok(
            dir,
            &["tokens", "revoke", "--env", "production", &jti],
            &logs
        )
        .contains("revoked")
    );
    assert!(read_revoked(dir, &jti), "the CLI revocation was not stored");
    // Offline the revoked token still verifies; --introspect asks the database.
    let introspected = keymint(
        dir,
        &[
            "tokens",
            "verify",
            "--introspect",
            "--issuer",
            &issuer,
            &access_token,
        ],
    );
    assert!(
        !introspected.status.success(),
        "a revoked token introspected as active"
    );
    assert!(
        String::from_utf8_lossy(&introspected.stderr).contains("NOT active: token revoked"),
        "{}",
        String::from_utf8_lossy(&introspected.stderr)
    );
    // What is not a jti Keymint issues is refused, not "revoked".
    let nonsense = keymint(
        dir,
        &["tokens", "revoke", "--env", "production", "nonsense"],
    );
    assert!(!nonsense.status.success(), "a nonsense jti was accepted");
    assert!(String::from_utf8_lossy(&nonsense.stderr).contains("is not a token id Keymint issues"));

    assert_eq!(
        token(&http, &server.base, &client_id, "kms_wrong").status(),
        401
    );

    let listed: Value = serde_json::from_str(&ok(
        dir,
        &["keys", "list", "--env", "production", "--json"],
        &logs,
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["clientId"], client_id);
    assert!(!listed.to_string().contains(&secret) && !listed.to_string().contains("argon2"));

    let rotated: Value = serde_json::from_str(&ok(
        dir,
        &["keys", "rotate-secret", &client_id, "--json"],
        &logs,
    ))
    .unwrap();
    let new_secret = rotated["clientSecret"].as_str().unwrap().to_owned();
    // The CLI is another process: the server learns of its changes from the change feed,
    // within a second (SQLite is polled every 100 ms).
    assert!(
        refused_within_a_second(&http, &server.base, &client_id, &secret),
        "old secret still works"
    );
    assert_eq!(
        token(&http, &server.base, &client_id, &new_secret).status(),
        200
    );

    ok(
        dir,
        &["--actor", "ops-carol", "keys", "disable", &client_id],
        &logs,
    );
    assert!(refused_within_a_second(
        &http,
        &server.base,
        &client_id,
        &new_secret
    ));
    ok(dir, &["keys", "enable", &client_id], &logs);
    assert_eq!(
        token(&http, &server.base, &client_id, &new_secret).status(),
        200
    );
    let renamed = ok(
        dir,
        &["keys", "update", &client_id, "--name", "nightly export"],
        &logs,
    );
    assert!(renamed.contains("\"nightly export\""), "{renamed}");
    let new_signing_key = ok(
        dir,
        &["signing-keys", "rotate", "--env", "production"],
        &logs,
    );
    assert!(
        new_signing_key.contains("new ES256 signing key"),
        "{new_signing_key}"
    );

    let deactivated = ok(dir, &["users", "deactivate", "alice"], &logs);
    assert!(deactivated.contains("2 key(s) disabled"), "{deactivated}");
    assert!(refused_within_a_second(
        &http,
        &server.base,
        &client_id,
        &new_secret
    ));
    ok(dir, &["users", "reactivate", "alice"], &logs);
    assert_eq!(
        token(&http, &server.base, &client_id, &new_secret).status(),
        401,
        "reactivation must not re-enable keys"
    );

    // Users are visible: state, permissions and key counts.
    let users = ok(dir, &["users", "list"], &logs);
    assert!(users.contains("alice") && users.contains("0/2"), "{users}");
    let alice: Value =
        serde_json::from_str(&ok(dir, &["users", "show", "alice", "--json"], &logs)).unwrap();
    // Reactivated, with its one key still disabled by the deactivation.
    assert_eq!(
        (&alice["active"], &alice["keys"], &alice["enabledKeys"]),
        (&json!(true), &json!(2), &json!(0))
    );
    assert!(
        keymint(dir, &["users", "show", "nobody"]).status.code() != Some(0),
        "an unknown user was shown"
    );

    let audit: Value =
        serde_json::from_str(&ok(dir, &["audit", "--env", "production", "--json"], &logs)).unwrap();
    let entries = audit.as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("user.upserted", "cli"),
            ("key.created", "cli"),
            ("signing_key.created", "schedule"),
            ("key.created", "graphql"),
            ("user.upserted", "scim"),
            ("token.revoked", "cli"),
            ("key.secret_regenerated", "cli"),
            ("key.disabled", "cli"),
            ("key.enabled", "cli"),
            ("key.renamed", "cli"),
            ("signing_key.created", "cli"),
            ("key.disabled", "cli"),
            ("key.disabled", "cli"),
            ("user.deactivated", "cli"),
            ("user.reactivated", "cli")
        ]
    );
    // Who: the GraphQL caller is alice through her key; the CLI records the OS account
    // (user@host), or what --actor said.
    assert_eq!(
        entries[2]["reason"], "missing",
        "serve made the first signing key"
    );
    assert_eq!(entries[3]["actorUserId"], "alice");
    assert_eq!(entries[3]["actorClientId"], client_id.as_str());
    assert_eq!(entries[7]["operator"], "ops-carol");
    for e in entries.iter().filter(|e| e["source"] == "cli") {
        let operator = e["operator"].as_str().unwrap_or_default();
        assert!(operator == "ops-carol" || operator.contains('@'), "{e}");
    }
    // What: the revoked token's jti, the new signing key's kid.
    assert_eq!(entries[5]["target"], jti.as_str());
    let new_kid = entries[10]["target"].as_str().unwrap();
    assert!(new_signing_key.contains(new_kid), "{new_signing_key}");
    // --limit keeps the newest entries (still printed oldest first) and says what it cut.
    let out = keymint(
        dir,
        &["audit", "--env", "production", "--json", "--limit", "2"],
    );
    assert!(out.status.success());
    let newest: Value = serde_json::from_slice(&out.stdout).unwrap();
    let newest: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(newest, ["user.deactivated", "user.reactivated"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("older ones were left out"),
        "a cut listing must say so"
    );
    let all = keymint(dir, &["audit", "--env", "production", "--json"]);
    assert!(!String::from_utf8_lossy(&all.stderr).contains("left out"));
    assert!(
        ok(
            dir,
            &["audit", "--env", "production", "--client-id", &client_id],
            &logs
        )
        .contains("reason=owner_deactivated")
    );

    // SIGTERM: drain and exit 0.
    let started = Instant::now();
    stop_with_sigterm(&mut server);
    assert!(started.elapsed() < Duration::from_secs(10));

    let hash = read_hash(dir, &client_id);
    let logs = logs.lock().unwrap();
    assert!(
        logs.contains("token issued"),
        "the log capture is empty or incomplete"
    );
    for (what, value) in [
        ("secret", &secret),
        ("rotated secret", &new_secret),
        ("secret made through GraphQL", &second_secret),
        ("argon2 hash", &hash),
        ("access token", &access_token),
        ("encryption key", &encryption_key),
        ("SCIM token", &scim_token.to_owned()),
    ] {
        assert!(!logs.contains(value.as_str()), "{what} appears in the logs");
    }
    let signature = access_token.rsplit('.').next().unwrap();
    assert!(
        !logs.contains(signature),
        "token signature appears in the logs"
    );
}
