//! Token status lists as an offline gateway reads them: the `status` claim of a token,
//! the list at its `uri`, the list's signature checked through the published JWKS with an
//! independent JOSE library, and its bits decoded here with zlib alone (draft-ietf-oauth-
//! status-list §4.1, §5.1), never with Keymint's encoder. A bit is set by a disable, a
//! delete, a secret replaced (after its grace), an expiry and the owner's deactivation,
//! at a second instance within a second, and cleared by a re-enable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::read::ZlibDecoder;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

use keymint::clock::Clock;
use keymint::domain::{ClientId, UserId};

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(status_list:
    a_fresh_tokens_bit_is_zero_and_every_end_of_its_key_sets_it_at_every_instance,
    a_list_is_served_as_the_draft_says_and_refuses_what_is_not_a_list,
);

/// Where a token's bit is: `(uri, idx)` from its `status` claim.
pub fn reference(claims: &Value) -> (String, usize) {
    let list = &claims["status"]["status_list"];
    let uri = list["uri"]
        .as_str()
        .expect("status.status_list.uri")
        .to_owned();
    let idx = list["idx"].as_u64().expect("status.status_list.idx") as usize;
    (uri, idx)
}

/// Fetches the list at `uri` from `at` (instances share one public URL: the path is
/// asked of `at`), checks it as the draft says and returns its decompressed bytes.
pub async fn fetch_list(at: &TestApp, env: &str, uri: &str) -> Vec<u8> {
    let path = reqwest::Url::parse(uri).unwrap().path().to_owned();
    let response = at.http.get(at.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{uri}");
    assert_eq!(
        response.headers()["content-type"],
        "application/statuslist+jwt"
    );
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let token = response.text().await.unwrap();
    let jwks: JwkSet = serde_json::from_value(at.jwks(env).await).unwrap();
    let header = decode_header(&token).unwrap();
    // §5.1: typ MUST be statuslist+jwt.
    assert_eq!(header.typ.as_deref(), Some("statuslist+jwt"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in the JWKS");
    let mut validation = Validation::new(header.alg);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["sub", "iat", "exp"]);
    let claims = decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the list verifies through the JWKS")
        .claims;
    // §5.1: sub MUST equal the uri the token names; ttl is how long it may be cached.
    assert_eq!(claims["sub"], uri);
    let ttl = claims["ttl"].as_u64().expect("ttl");
    assert!((1..=60).contains(&ttl), "ttl {ttl}");
    assert_eq!(cache, format!("public, max-age={ttl}"));
    assert_eq!(claims["status_list"]["bits"], 1);
    let compressed = URL_SAFE_NO_PAD
        .decode(claims["status_list"]["lst"].as_str().unwrap())
        .unwrap();
    let mut bytes = Vec::new();
    ZlibDecoder::new(&compressed[..])
        .read_to_end(&mut bytes)
        .expect("lst is zlib");
    bytes
}

/// The bit of `claims`' credential in the list `at` serves (§4.1: status `i` is bit
/// `i % 8`, least significant first, of byte `i / 8`).
pub async fn bit(at: &TestApp, env: &str, claims: &Value) -> bool {
    let (uri, idx) = reference(claims);
    let bytes = fetch_list(at, env, &uri).await;
    assert!(idx / 8 < bytes.len(), "index {idx} within the list");
    bytes[idx / 8] & (1 << (idx % 8)) != 0
}

async fn minted(app: &TestApp, key: &Key) -> Value {
    let token = app.access_token("production", key).await;
    app.verify("production", &token).await.unwrap()
}

async fn set_within_a_second(at: &TestApp, claims: &Value, what: &str) {
    let reached = TestApp::eventually(Duration::from_secs(1), || async {
        bit(at, "production", claims).await
    })
    .await;
    assert!(reached.is_some(), "{what}: bit still 0 after a second");
}

pub async fn a_fresh_tokens_bit_is_zero_and_every_end_of_its_key_sets_it_at_every_instance(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let peer = app.spawn_peer().await;
    app.user("alice", &["runs:read"]).await;
    app.user("bob", &["runs:read"]).await;
    let expiry = app.clock.now() + time::Duration::minutes(30);
    let disabled = app.key("alice", "production").await;
    let deleted = app.key("alice", "production").await;
    let rotated = app.key("alice", "production").await;
    let graced = app.key("alice", "production").await;
    let expiring = app
        .key_with("alice", "production", None, Some(expiry))
        .await;
    let owned = app.key("bob", "production").await;
    let keys = [&disabled, &deleted, &rotated, &graced, &expiring, &owned];
    let mut tokens = Vec::new();
    for key in keys {
        let claims = minted(&app, key).await;
        // Fresh: 0 at both instances (the peer has not seen these keys before).
        assert!(!bit(&app, "production", &claims).await);
        assert!(!bit(&peer, "production", &claims).await);
        tokens.push(claims);
    }
    let indexes: std::collections::HashSet<_> = tokens.iter().map(reference).collect();
    assert_eq!(indexes.len(), keys.len(), "every key its own index");
    let id = |k: &Key| ClientId::new(k.client_id.clone());
    let manage = app.state.management();

    app.disable(&disabled).await;
    set_within_a_second(&peer, &tokens[0], "disabled").await;
    manage.delete_key(&id(&deleted), None).await.unwrap();
    set_within_a_second(&peer, &tokens[1], "deleted").await;
    let replaced = manage
        .rotate_secret(&id(&rotated), None, None)
        .await
        .unwrap();
    set_within_a_second(&peer, &tokens[2], "secret replaced").await;
    // The new secret's tokens name a new index, at 0.
    let new_key = Key {
        client_id: rotated.client_id.clone(),
        secret: replaced.secret.unwrap().expose().to_owned(),
    };
    let fresh = minted(&app, &new_key).await;
    assert_ne!(reference(&fresh), reference(&tokens[2]));
    assert!(!bit(&peer, "production", &fresh).await);
    // With a grace period the old secret's bit stays 0 until it ends.
    manage
        .rotate_secret(&id(&graced), None, Some(time::Duration::minutes(10)))
        .await
        .unwrap();
    let old_secret_token = minted(&app, &graced).await;
    assert_eq!(reference(&old_secret_token), reference(&tokens[3]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!bit(&peer, "production", &tokens[3]).await);
    manage
        .deactivate_user(&UserId::parse("bob").unwrap())
        .await
        .unwrap();
    set_within_a_second(&peer, &tokens[5], "owner deactivated").await;
    // Time alone: past the grace period and the expiry, no change written.
    assert!(!bit(&peer, "production", &tokens[4]).await);
    for at in [&app, &peer] {
        at.clock.advance(time::Duration::minutes(31));
    }
    assert!(bit(&peer, "production", &tokens[3]).await, "grace ended");
    assert!(bit(&peer, "production", &tokens[4]).await, "expired");
    assert!(bit(&app, "production", &tokens[4]).await, "expired");
    // Re-enabled: 0 again, at the other instance too.
    manage
        .set_key_enabled(&id(&disabled), true, None)
        .await
        .unwrap();
    let cleared = TestApp::eventually(Duration::from_secs(1), || async {
        !bit(&peer, "production", &tokens[0]).await
    })
    .await;
    assert!(cleared.is_some(), "re-enabled: bit still 1 after a second");
    // Others untouched throughout.
    assert!(!bit(&peer, "production", &fresh).await);
}

pub async fn a_list_is_served_as_the_draft_says_and_refuses_what_is_not_a_list(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("KEYMINT_STATUS_LIST_TTL", "30")]).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "sandbox").await;
    let token = app.access_token("sandbox", &key).await;
    let claims = app.verify("sandbox", &token).await.unwrap();
    let (uri, _) = reference(&claims);
    assert_eq!(uri, app.url("/sandbox/statuslists/1"));
    // fetch_list checks the media type, typ, signature, sub and max-age = ttl.
    let bytes = fetch_list(&app, "sandbox", &uri).await;
    assert_eq!(bytes.len(), keymint::status_list::LIST_SIZE as usize / 8);
    for path in [
        "/sandbox/statuslists/2",
        "/sandbox/statuslists/0",
        "/sandbox/statuslists/01",
        "/sandbox/statuslists/+1",
        "/sandbox/statuslists/x",
        "/sandbox/statuslists/99999999999999999999",
        "/nowhere/statuslists/1",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
    }
}
