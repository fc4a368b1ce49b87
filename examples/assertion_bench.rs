//! Bench helper for keys without a secret (`bench/assertions.sh`).
//!
//! ```text
//! assertion_bench setup DATABASE_URL BASE N DIR ISSUER_PORT ISSUER_KEY
//!     a private_key_jwt key (an ES256 key it makes) and a federated key trusting the
//!     issuer on ISSUER_PORT, both of the user `bench-nosecret`; writes DIR/assertions.txt
//!     (N token-request bodies, each a fresh assertion for BASE/production) and
//!     DIR/federated.txt (one body whose outside token lives 50 minutes), signed with the
//!     issuer's key in ISSUER_KEY (made when missing)
//! assertion_bench issuer PORT ISSUER_KEY
//!     serves that issuer's discovery document and JWKS on 127.0.0.1:PORT until killed
//! ```

use axum::Router;
use axum::routing::get;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

use keymint::changes::ChangeFeed;
use keymint::clock::SystemClock;
use keymint::domain::{
    ClientKeys, EnvironmentName, FederationRule, KeyAuth, Permissions, UserId, UserUpsert,
    parse_client_jwks,
};
use keymint::manage::{CreateKey, Management};
use keymint::secrets::{SecretHasher, random_token};
use keymint::signing::{SigningAlg, SigningKey};

type Error = Box<dyn std::error::Error>;

const JWT_BEARER: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["setup", url, base, n, dir, port, key] => {
            setup(url, base, n.parse()?, dir, port, key).await
        }
        ["issuer", port, key] => issuer(port, key).await,
        _ => Err("usage: assertion_bench setup URL BASE N DIR PORT KEY | issuer PORT KEY".into()),
    }
}

fn sign(key: &SigningKey, der: &[u8], claims: &serde_json::Value) -> Result<String, Error> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid().to_owned());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der),
    )?)
}

async fn setup(
    url: &str,
    base: &str,
    n: usize,
    dir: &str,
    port: &str,
    issuer_key: &str,
) -> Result<(), Error> {
    let store = keymint::store::connect(url).await?;
    store.migrate().await?;
    let manage = Management::new(
        store,
        Arc::new(SecretHasher::per_core()),
        Arc::new(SystemClock),
        Arc::new(ChangeFeed::default()),
    );
    let owner = UserId::parse("bench-nosecret").ok_or("id")?;
    manage
        .upsert_user(&UserUpsert {
            id: owner.clone(),
            email: None,
            service_account: true,
            permissions: Permissions::parse(["runs:read"])?,
        })
        .await?;
    let create = |auth| CreateKey {
        owner_id: owner.clone(),
        environment: EnvironmentName::parse("production").expect("name"),
        permissions: None,
        name: None,
        expires_at: None,
        auth,
        allowed_ips: keymint::domain::AllowedIps::any(),
    };
    // The client's own key: only its public half is registered.
    let (client, client_der) = SigningKey::generate(SigningAlg::Es256).map_err(|_| "key")?;
    let jwks = json!({"keys": [client.public_jwk()]}).to_string();
    let auth = KeyAuth::ClientKeys(ClientKeys::Set(parse_client_jwks(&jwks)?));
    let pkj = manage.create_key(create(auth)).await?.key.client_id;
    let audience = format!("{base}/production");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut out = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/assertions.txt"))?);
    for _ in 0..n {
        let claims = json!({"iss": pkj.as_str(), "sub": pkj.as_str(), "aud": audience,
            "iat": now, "exp": now + 3000, "jti": random_token(16)});
        let jwt = sign(&client, &client_der, &claims)?;
        writeln!(
            out,
            "grant_type=client_credentials&client_assertion_type={JWT_BEARER}&client_assertion={jwt}"
        )?;
    }
    out.flush()?;

    // The federated key's issuer: a key of its own, kept for `issuer`.
    let outside_der = match std::fs::read(issuer_key) {
        Ok(der) => der,
        Err(_) => {
            let (_, der) = SigningKey::generate(SigningAlg::Es256).map_err(|_| "key")?;
            std::fs::write(issuer_key, &der)?;
            der
        }
    };
    let outside = SigningKey::from_pkcs8(&outside_der).map_err(|_| "key")?;
    let issuer = format!("http://127.0.0.1:{port}");
    let rule = FederationRule {
        issuer: issuer.clone(),
        subject: Some("repo:acme/app:environment:production".into()),
        audience: None,
        claims: vec![("repository_owner".into(), "acme".into())],
    };
    let federated = manage
        .create_key(create(KeyAuth::Federated(rule)))
        .await?
        .key
        .client_id;
    let token = sign(
        &outside,
        &outside_der,
        &json!({"iss": issuer, "sub": "repo:acme/app:environment:production",
            "repository_owner": "acme", "aud": audience, "iat": now, "exp": now + 3000,
            "jti": random_token(16)}),
    )?;
    std::fs::write(
        format!("{dir}/federated.txt"),
        format!(
            "grant_type=client_credentials&client_id={federated}&client_assertion_type={JWT_BEARER}&client_assertion={token}\n"
        ),
    )?;
    Ok(())
}

async fn issuer(port: &str, issuer_key: &str) -> Result<(), Error> {
    let der = std::fs::read(issuer_key)?;
    let key = SigningKey::from_pkcs8(&der).map_err(|_| "key")?;
    let issuer = format!("http://127.0.0.1:{port}");
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}).to_string();
    let jwks = json!({"keys": [key.public_jwk()]}).to_string();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let body = discovery.clone();
                async move { body }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let body = jwks.clone();
                async move { ([("cache-control", "max-age=3600")], body) }
            }),
        );
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
