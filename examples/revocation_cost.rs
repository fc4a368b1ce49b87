//! What one revocation costs an instance whose introspection cache is full: 300,000
//! cached tokens of 3,000 keys. A revocation (`Change::Token`), a key change
//! (`Change::Key`) and a user change (`Change::User`) go through the cache's indexes; a
//! change of an environment's signing keys still walks every entry, which is what every
//! revocation and key change cost before the indexes. Run via `bench/revocations.sh`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keymint::changes::Change;
use keymint::domain::{
    ApiKey, ClientId, EnvironmentName, KeyCredentials, Permissions, StoredSecret, UserId,
};
use keymint::oauth::{CachedToken, TokenCache, TokenClaims};

const TOKENS: usize = 300_000;
const KEYS: usize = 3_000;

fn creds(key: usize) -> KeyCredentials {
    let at = time::OffsetDateTime::now_utc();
    KeyCredentials {
        key: ApiKey {
            id: format!("key_{key}"),
            client_id: ClientId::new(format!("kmc_{key:022}")),
            environment: EnvironmentName::parse("production").unwrap(),
            owner_id: UserId::parse(&format!("user{}", key % 1_000)).unwrap(),
            permissions: Permissions::parse(["runs:read"]).unwrap(),
            enabled: true,
            disabled_reason: None,
            name: None,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            etag: "e".into(),
            created_at: at,
            updated_at: at,
            secret_hint: None,
            auth: keymint::domain::KeyAuth::Secret,
            allowed_ips: keymint::domain::AllowedIps::any(),
            status_index: 0,
        },
        secret: StoredSecret {
            hash: "h".into(),
            check: None,
        },
        previous_secret: None,
        previous_status_index: None,
        owner_active: true,
    }
}

fn fill() -> (TokenCache, Vec<String>) {
    let cache = TokenCache::new(TOKENS, Duration::from_secs(3_600));
    let env = EnvironmentName::parse("production").unwrap();
    let answer: Arc<[u8]> = Arc::from(&b"{\"active\":true}"[..]);
    let mut jtis = Vec::with_capacity(TOKENS);
    for i in 0..TOKENS {
        let key = i % KEYS;
        let jti = format!("jti-{i:012}");
        let claims: TokenClaims = serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": format!("user{}", key % 1_000), "aud": "a", "exp": i64::MAX,
            "iat": 1, "nbf": 1, "jti": jti, "client_id": format!("kmc_{key:022}"),
            "env": "production",
        }))
        .unwrap();
        let hash = keymint::oauth::token_hash(&jti);
        let token = CachedToken {
            environment: env.clone(),
            kid: "kid".into(),
            claims,
            creds: creds(key),
            answer: Arc::clone(&answer),
        };
        cache.insert(hash, token, 0, || 0);
        jtis.push(jti);
    }
    (cache, jtis)
}

fn per_change(label: &str, changes: &[Change], cache: &TokenCache) {
    let started = Instant::now();
    for change in changes {
        cache.invalidate(change);
    }
    let each = started.elapsed() / changes.len() as u32;
    println!(
        "{label:<44} {:>10.2} us each ({} changes, {} tokens left)",
        each.as_secs_f64() * 1e6,
        changes.len(),
        cache.len()
    );
}

fn main() {
    let (cache, jtis) = fill();
    println!("{} tokens cached ({} keys)", cache.len(), KEYS);
    let revocations: Vec<Change> = jtis
        .iter()
        .step_by(30)
        .map(|j| Change::Token(j.clone()))
        .collect();
    per_change("revocation (Change::Token, indexed)", &revocations, &cache);
    let keys: Vec<Change> = (0..100)
        .map(|k| Change::Key(ClientId::new(format!("kmc_{k:022}"))))
        .collect();
    per_change("key change (Change::Key, indexed)", &keys, &cache);
    let users: Vec<Change> = (500..550)
        .map(|u| Change::User(UserId::parse(&format!("user{u}")).unwrap()))
        .collect();
    per_change("user change (Change::User, indexed)", &users, &cache);
    let walks: Vec<Change> = (0..20)
        .map(|_| Change::SigningKeys(EnvironmentName::parse("sandbox").unwrap()))
        .collect();
    per_change(
        "full walk (what each revocation cost before)",
        &walks,
        &cache,
    );
}
