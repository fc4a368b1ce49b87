//! Secrets, hashes and webhook secrets never show in `Debug` output, whichever value
//! carries them: what a stray `{:?}` in a log line or a panic message would print.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;

use keymint::changes::ChangeFeed;
use keymint::clock::SystemClock;
use keymint::config::Config;
use keymint::domain::{EnvironmentName, Permissions, UserId, UserUpsert};
use keymint::events::WebhookSecret;
use keymint::manage::{CreateKey, Management};
use keymint::oauth::parse_token_body;
use keymint::secrets::{ClientSecret, SecretHasher};
use keymint::store::{KeyUpdate, NewSecret};

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn assert_hidden(what: &str, debug: String, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !debug.contains(secret),
            "{what} shows a secret in Debug: {debug}"
        );
    }
}

#[tokio::test]
async fn debug_output_never_shows_secrets_or_hashes() {
    let db = support::TestDb::sqlite();
    let store = db.store().await;
    let hasher = Arc::new(SecretHasher::new(1, std::time::Duration::from_secs(5)));
    let manage = Management::new(
        Arc::clone(&store),
        Arc::clone(&hasher),
        Arc::new(SystemClock),
        Arc::new(ChangeFeed::default()),
    );
    manage
        .upsert_user(&UserUpsert {
            id: UserId::parse("alice").unwrap(),
            email: None,
            service_account: false,
            permissions: Permissions::parse(["runs:read"]).unwrap(),
        })
        .await
        .unwrap();
    let created = manage
        .create_key(CreateKey {
            owner_id: UserId::parse("alice").unwrap(),
            environment: EnvironmentName::parse("production").unwrap(),
            permissions: None,
            name: None,
            expires_at: None,
            auth: keymint::domain::KeyAuth::Secret,
            allowed_ips: keymint::domain::AllowedIps::any(),
        })
        .await
        .unwrap();
    let secret = created.secret.as_ref().unwrap().expose().to_owned();
    let credentials = store
        .find_credentials(&created.key.client_id)
        .await
        .unwrap()
        .unwrap();
    let hash = credentials.secret.hash.clone();
    let tag = credentials.secret.check.clone().unwrap();
    let hidden = [
        secret.as_str(),
        hash.as_str(),
        &hash[hash.len() - 20..],
        tag.as_str(),
    ];

    assert_hidden("CreatedKey", format!("{created:?}"), &hidden);
    assert_hidden("KeyCredentials", format!("{credentials:?}"), &hidden);
    assert_hidden(
        "ClientSecret",
        format!("{:?}", ClientSecret::new(secret.clone())),
        &hidden,
    );
    let update = KeyUpdate {
        secret: Some(NewSecret {
            secret: credentials.secret.clone(),
            grace_until: None,
            hint: ClientSecret::new(secret.clone()).hint(),
        }),
        ..Default::default()
    };
    assert_hidden("KeyUpdate", format!("{update:?}"), &hidden);
    let body = format!("grant_type=client_credentials&client_id=kmc_x&client_secret={secret}");
    let params =
        parse_token_body(Some("application/x-www-form-urlencoded"), body.as_bytes()).unwrap();
    assert_hidden("TokenParams", format!("{params:?}"), &hidden);

    let webhook = WebhookSecret::parse(WEBHOOK_SECRET).unwrap();
    let key_part = &WEBHOOK_SECRET["whsec_".len()..];
    assert_hidden("WebhookSecret", format!("{webhook:?}"), &[key_part]);
    let config = Config::from_lookup(|name| {
        (name == "KEYMINT_WEBHOOK_SECRET").then(|| WEBHOOK_SECRET.to_owned())
    })
    .unwrap();
    assert_hidden("Config", format!("{config:?}"), &[key_part]);
    let with_password = Config::from_lookup(|name| {
        (name == "DATABASE_URL")
            .then(|| "postgres://keymint:hunter2@db.internal/keymint".to_owned())
    })
    .unwrap();
    let shown = format!("{with_password:?}");
    assert_hidden("Config", shown.clone(), &["hunter2"]);
    assert!(shown.contains("keymint:***@db.internal"), "{shown}");
    let issued = keymint::oauth::IssuedToken {
        access_token: "eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl".into(),
        expires_in: 600,
        scope: "runs:read".into(),
    };
    assert_hidden(
        "IssuedToken",
        format!("{issued:?}"),
        &["eyJhbGciOiJFUzI1NiJ9"],
    );
    let oidc = Config::from_lookup(|name| match name {
        "KEYMINT_CONSOLE_OIDC_ISSUER" => Some("https://login.example".to_owned()),
        "KEYMINT_CONSOLE_OIDC_CLIENT_ID" => Some("keymint-console".to_owned()),
        "KEYMINT_CONSOLE_OIDC_CLIENT_SECRET" => Some("console-secret-hunter3".to_owned()),
        _ => None,
    })
    .unwrap();
    assert_hidden("Config", format!("{oidc:?}"), &["console-secret-hunter3"]);
    let login = keymint::store::OidcLogin {
        state_hash: "ab".repeat(32),
        nonce: "nonce-value-of-a-sign-in".into(),
        code_verifier: "pkce-verifier-of-a-sign-in".into(),
        expires_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    assert_hidden(
        "OidcLogin",
        format!("{login:?}"),
        &["nonce-value-of-a-sign-in", "pkce-verifier-of-a-sign-in"],
    );
    // The redacted values still say what they are.
    assert!(format!("{created:?}").contains(created.key.client_id.as_str()));
}
