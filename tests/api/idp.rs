//! A test identity provider: serves a JWKS on 127.0.0.1:0 and signs session tokens.

use axum::Router;
use axum::routing::get;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keymint::signing::{SigningAlg, SigningKey};

pub const ISSUER: &str = "https://idp.test";
/// The audience the IdP puts in tokens meant for Keymint.
pub const AUDIENCE: &str = "keymint";

struct IdpKey {
    key: SigningKey,
    der: Vec<u8>,
}

pub struct TestIdp {
    base: String,
    current: Arc<Mutex<IdpKey>>,
    fetches: Arc<AtomicUsize>,
}

impl TestIdp {
    pub async fn start() -> Self {
        let (key, der) = SigningKey::generate(SigningAlg::Es256).unwrap();
        let current = Arc::new(Mutex::new(IdpKey { key, der }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (current.clone(), fetches.clone());
        let app = Router::new().route(
            "/jwks",
            get(move || {
                let (served, counted) = (served.clone(), counted.clone());
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let jwk = served.lock().unwrap().key.public_jwk().clone();
                    axum::Json(serde_json::json!({"keys": [jwk]}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            current,
            fetches,
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// A session token for `sub` claiming issuer `iss`, signed with the current key.
    pub fn token(&self, sub: &str, iss: &str) -> String {
        self.token_with(sub, iss, serde_json::json!({}), None)
    }

    /// A token like [`Self::token`] with `extra` claims merged in (replacing defaults)
    /// and an optional `typ` header.
    pub fn token_with(
        &self,
        sub: &str,
        iss: &str,
        extra: serde_json::Value,
        typ: Option<&str>,
    ) -> String {
        let current = self.current.lock().unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(current.key.kid().to_owned());
        header.typ = typ.map(str::to_owned);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = serde_json::json!({"iss": iss, "sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + 300});
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&current.der),
        )
        .unwrap()
    }

    /// Replaces the signing key (the JWKS then publishes only the new one).
    pub fn rotate(&self) {
        let (key, der) = SigningKey::generate(SigningAlg::Es256).unwrap();
        *self.current.lock().unwrap() = IdpKey { key, der };
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
