//! Signing keys in the database: sealed at rest, shared by every instance on the database
//! (each with its own empty folder), created once however many start together, rotated
//! through one and followed by all; key files of earlier versions are imported; a wrong or
//! missing encryption key refuses to start and writes nothing.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures_util::future::join_all;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use crate::app::{Backend, TestApp, build_state};

crate::both_backends!(signing_keys:
    stored_rows_hold_no_private_key_in_clear,
    key_files_of_earlier_versions_are_imported_and_their_tokens_verify,
    a_wrong_or_missing_encryption_key_refuses_to_start_and_writes_nothing,
);

async fn jwks(app: &TestApp) -> JwkSet {
    app.http
        .get(app.url("/production/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.sql(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .await
        .unwrap()
        .parse()
        .unwrap()
}

/// Every column of every stored signing key, as lowercase hex or text.
async fn stored_rows(app: &TestApp) -> String {
    let hex = if app.db_url.starts_with("sqlite:") {
        |c: &str| format!("hex({c})")
    } else {
        |c: &str| format!("encode({c}, 'hex')")
    };
    let sql = format!(
        "SELECT string_agg(kid || ' ' || environment || ' ' || alg || ' ' || encryption_key_id \
         || ' ' || {} || ' ' || {}, ' ') FROM signing_keys",
        hex("nonce"),
        hex("ciphertext")
    );
    let sql = if app.db_url.starts_with("sqlite:") {
        sql.replace("string_agg(", "group_concat(")
    } else {
        sql
    };
    app.sql(&sql).await.unwrap().to_lowercase()
}

/// The rows are sealed: neither the PEM armour, nor the PKCS#8 algorithm identifier of
/// P-256, nor the key's own public point (which a clear PKCS#8 carries) appear in them.
pub async fn stored_rows_hold_no_private_key_in_clear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rows = stored_rows(&app).await;
    assert!(!rows.is_empty());
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(!rows.contains(&hex(b"PRIVATE KEY")));
    assert!(!rows.contains("private key"));
    // id-ecPublicKey and prime256v1, as every clear P-256 PKCS#8 holds them.
    assert!(
        !rows.contains("2a8648ce3d0201"),
        "EC algorithm identifier in clear"
    );
    assert!(
        !rows.contains("2a8648ce3d030107"),
        "P-256 curve identifier in clear"
    );
    let set = jwks(&app).await;
    let jwk = serde_json::to_value(&set.keys[0]).unwrap();
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    assert!(!rows.contains(&hex(&x)), "the key's public point in clear");
}

/// A `keys/production/<created>-<kid>.pem` written as earlier versions did, and a token
/// signed with it before the upgrade: after the upgrade the key is in the store with its
/// date and the token verifies through the published JWKS.
pub async fn key_files_of_earlier_versions_are_imported_and_their_tokens_verify(backend: Backend) {
    let (key, der) =
        keymint::signing::SigningKey::generate(keymint::signing::SigningAlg::Es256).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("production");
    std::fs::create_dir_all(&dir).unwrap();
    let created = time::OffsetDateTime::now_utc().unix_timestamp() - 86_400;
    let b64 = STANDARD.encode(&der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.join("\n")
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("{created}-{}.pem", key.kid())))
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();

    let keys_dir = folder.path().display().to_string();
    let app = TestApp::spawn_with(backend, &[("KEYMINT_KEYS_DIR", &keys_dir)]).await;
    assert_eq!(kids(&jwks(&app).await), [key.kid().to_owned()]);
    let stored = app.state.store.signing_keys(None).await.unwrap();
    let imported = stored.iter().find(|k| k.kid == key.kid()).unwrap();
    assert_eq!(imported.created_at.unix_timestamp(), created, "same date");

    // The token an earlier version signed with that key.
    let issuer = app.url("/production");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": issuer, "sub": "alice", "aud": issuer, "exp": now + 600, "iat": now,
        "nbf": now, "jti": "AAAAAAAAAAAAAAAAAAAAAA", "client_id": "kmc_old",
        "scope": "runs:read", "permissions": ["runs:read"], "env": "production",
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid().to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&der),
    )
    .unwrap();
    let verified = app.verify("production", &token).await.unwrap();
    assert_eq!(verified["sub"], "alice");

    // A second start imports nothing twice.
    let again = TestApp::spawn_on(&app.db_url, &[("KEYMINT_KEYS_DIR", &keys_dir)]).await;
    let after = again.state.store.signing_keys(None).await.unwrap();
    assert_eq!(after.len(), stored.len());
}

/// Keys stored under one encryption key: an instance with another id, with other bytes
/// under the same id, or with none at all refuses to start, naming the id, and changes
/// nothing; an altered row is refused too.
pub async fn a_wrong_or_missing_encryption_key_refuses_to_start_and_writes_nothing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let id = crate::app::test_encryption_keys()
        .split_once(':')
        .unwrap()
        .0
        .to_owned();
    let before = (
        count(&app, "signing_keys").await,
        count(&app, "keymint_changes").await,
        count(&app, "audit_events").await,
    );
    let other = keymint::signing::EncryptionKeys::generate_entry();
    let same_id_other_bytes = format!("{id}:{}", other.split_once(':').unwrap().1);
    let empty = tempfile::tempdir().unwrap();
    let refusals = [
        (other.as_str(), "which this instance does not have"),
        (same_id_other_bytes.as_str(), "does not decrypt"),
        ("", "does not exist"),
    ];
    for (keys, expected) in refusals {
        let error = build_state(
            &app.db_url,
            empty.path(),
            &[("KEYMINT_ENCRYPTION_KEYS", keys)],
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("started with {keys:?}"))
        .to_string();
        assert!(
            error.contains(&id) && error.contains(expected),
            "{expected}: {error}"
        );
        assert!(!error.contains(other.split_once(':').unwrap().1), "{error}");
    }
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "no encryption-keys file was generated"
    );
    let after = (
        count(&app, "signing_keys").await,
        count(&app, "keymint_changes").await,
        count(&app, "audit_events").await,
    );
    assert_eq!(before, after, "a refused start wrote something");

    // A sealed key altered in the database: refused, naming the key.
    let kid = kids(&jwks(&app).await).remove(0);
    let flip = if app.db_url.starts_with("sqlite:") {
        "UPDATE signing_keys SET nonce = zeroblob(12) WHERE kid = '{kid}'"
    } else {
        "UPDATE signing_keys SET nonce = '\\x000000000000000000000000' WHERE kid = '{kid}'"
    };
    app.sql(&flip.replace("{kid}", &kid)).await;
    let error = build_state(&app.db_url, empty.path(), &[])
        .await
        .err()
        .expect("started with an altered key")
        .to_string();
    assert!(error.contains(&kid) && error.contains("altered"), "{error}");
}

mod postgres_instances {
    use super::*;
    use keymint::clock::Clock;

    /// Instances each with their own empty folder and the same encryption keys, started
    /// at the same moment on an empty database.
    async fn racing(n: usize) {
        let db = Backend::Postgres.db().await;
        let apps = join_all((0..n).map(|_| TestApp::spawn_on(&db.url, &[]))).await;
        for env in ["production", "sandbox"] {
            let stored = apps[0]
                .sql(&format!(
                    "SELECT CAST(COUNT(*) AS TEXT) FROM signing_keys WHERE environment = '{env}'"
                ))
                .await;
            assert_eq!(stored.as_deref(), Some("1"), "{n} instances, {env}");
        }
        let sets = join_all(apps.iter().map(jwks)).await;
        assert!(
            sets.iter().all(|s| kids(s) == kids(&sets[0])),
            "JWKS differ"
        );

        apps[0].user("alice", &["runs:read"]).await;
        let key = apps[0].key("alice", "production").await;
        for (m, minter) in apps.iter().enumerate() {
            let token = minter.access_token("production", &key).await;
            let issuer = minter.url("/production");
            for (o, other) in apps.iter().enumerate().filter(|(o, _)| *o != m) {
                let set = jwks(other).await;
                crate::gateway::check(&set, &issuer, &issuer, "production", &token)
                    .unwrap_or_else(|e| panic!("minted at {m}, JWKS of {o}: {e}"));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn two_instances_starting_at_once_share_one_key_per_environment() {
        racing(2).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn three_instances_starting_at_once_share_one_key_per_environment() {
        racing(3).await;
    }

    /// A key stored under encryption keys this instance lacks (another instance was given
    /// a new first entry too early): the instance keeps its current keys, says so in
    /// `/metrics`, and keeps issuing tokens that verify.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_key_an_instance_cannot_open_leaves_its_current_keys_in_use() {
        let app = TestApp::spawn(Backend::Postgres).await;
        app.user("alice", &["runs:read"]).await;
        let key = app.key("alice", "production").await;
        let before = kids(&jwks(&app).await);
        // Sealed under encryption keys this instance does not have, stored as another
        // instance would.
        let other = keymint::signing::EncryptionKeys::parse(
            &keymint::signing::EncryptionKeys::generate_entry(),
        )
        .unwrap();
        let (signing, der) =
            keymint::signing::SigningKey::generate(keymint::signing::SigningAlg::Es256).unwrap();
        let env = keymint::domain::EnvironmentName::parse("production").unwrap();
        let record = keymint::signing::seal_record(&other, &env, &signing, &der, app.clock.now());
        let ctx = keymint::store::WriteContext {
            now: app.clock.now(),
            ..app.state.management().context()
        };
        let stored = app
            .state
            .store
            .insert_signing_key(&record, keymint::store::InsertWhen::Always, &ctx)
            .await
            .unwrap();
        assert!(stored.is_some());
        let noticed = TestApp::eventually(Duration::from_secs(2), || async {
            app.metric("keymint_signing_key_reload_failures_total")
                .await
                >= 1.0
        })
        .await;
        assert!(noticed.is_some(), "the failed reload is not in /metrics");
        assert_eq!(kids(&jwks(&app).await), before, "the keys in use changed");
        let token = app.access_token("production", &key).await;
        assert_eq!(
            app.verify("production", &token).await.unwrap()["sub"],
            "alice"
        );
    }

    /// A rotation through one instance is published by every instance within a second;
    /// once the publish delay passed (on the instances' clocks) every one signs with it,
    /// and tokens of each verify with the JWKS of the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_rotation_at_one_instance_reaches_every_instance_within_a_second() {
        let db = Backend::Postgres.db().await;
        // A 20 s publish delay: tokens minted after the instances' clocks moved past it
        // are still within a gateway's usual 60 s leeway for `nbf` on the real clock.
        let vars = [("KEYMINT_SIGNING_KEY_PUBLISH_DELAY", "20")];
        let apps = join_all((0..3).map(|_| TestApp::spawn_on(&db.url, &vars))).await;
        apps[0].user("alice", &["runs:read"]).await;
        let key = apps[0].key("alice", "production").await;
        let old = kids(&jwks(&apps[0]).await).remove(0);

        let new = apps[1].rotate_signing_key("production").await;
        for (i, app) in apps.iter().enumerate() {
            let seen = TestApp::eventually(Duration::from_secs(1), || async {
                kids(&jwks(app).await) == [new.clone(), old.clone()]
            })
            .await;
            assert!(seen.is_some(), "instance {i} did not publish {new}");
            let token = app.access_token("production", &key).await;
            assert_eq!(kid_of(&token), old, "signs with the new key too early");
        }
        for app in &apps {
            app.clock.advance(time::Duration::seconds(21));
            app.state.refresh_signing_keys().await;
        }
        let tokens = join_all(apps.iter().map(|a| a.access_token("production", &key))).await;
        for (m, token) in tokens.iter().enumerate() {
            assert_eq!(
                kid_of(token),
                new,
                "instance {m} still signs with the old key"
            );
            let issuer = apps[m].url("/production");
            for other in &apps {
                let set = jwks(other).await;
                let claims: Value =
                    crate::gateway::check(&set, &issuer, &issuer, "production", token).unwrap();
                assert_eq!(claims["sub"], "alice");
            }
        }
    }

    fn kid_of(token: &str) -> String {
        jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
    }
}
