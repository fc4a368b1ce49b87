//! Signing-key rows: when an insert happens (decided in the store's transaction), dates
//! that order the keys, imports that keep theirs, rewraps guarded by the old sealing.

use std::sync::Arc;
use time::Duration;

use keymint::store::{InsertWhen, SigningKeyRecord, Store, StoreError};

use crate::fixtures::*;

fn record(kid: &str, alg: &str) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        environment: env("production"),
        alg: alg.into(),
        created_at: now(),
        encryption_key_id: "ek_a".into(),
        nonce: vec![0; 12],
        ciphertext: vec![1, 2, 3],
    }
}

pub async fn signing_keys_are_inserted_only_when_their_rule_holds(store: Arc<dyn Store>) {
    let ctx = ctx();
    let first = store
        .insert_signing_key(&record("k1", "ES256"), InsertWhen::Missing, &ctx)
        .await
        .unwrap();
    assert!(first.is_some(), "none yet: created");
    let again = store
        .insert_signing_key(&record("k2", "ES256"), InsertWhen::Missing, &ctx)
        .await
        .unwrap();
    assert!(again.is_none(), "one exists: not created");
    let eddsa = store
        .insert_signing_key(&record("k3", "EdDSA"), InsertWhen::Missing, &ctx)
        .await
        .unwrap()
        .expect("another algorithm: created");
    // Made in the same second as k1: dated a second later, so the order is certain.
    assert_eq!(
        eddsa.created_at,
        first.unwrap().created_at + Duration::seconds(1)
    );

    let not_due = store
        .insert_signing_key(
            &record("k4", "EdDSA"),
            InsertWhen::NewestBefore(now() - Duration::days(30)),
            &ctx,
        )
        .await
        .unwrap();
    assert!(not_due.is_none());
    let due = store
        .insert_signing_key(
            &record("k4", "EdDSA"),
            InsertWhen::NewestBefore(now() + Duration::days(1)),
            &ctx,
        )
        .await
        .unwrap();
    assert!(due.is_some());

    let mut old = record("k0", "ES256");
    old.created_at = now() - Duration::days(90);
    let imported = store
        .insert_signing_key(&old, InsertWhen::Import, &ctx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        imported.created_at, old.created_at,
        "imports keep their date"
    );
    let twice = store
        .insert_signing_key(&old, InsertWhen::Import, &ctx)
        .await
        .unwrap();
    assert!(twice.is_none());

    let kids: Vec<String> = store
        .signing_keys(Some(&env("production")))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k0", "k1", "k3", "k4"], "oldest first");
    assert!(
        store
            .signing_keys(Some(&env("sandbox")))
            .await
            .unwrap()
            .is_empty()
    );
    let reasons = audit_actions(&store, Default::default()).await;
    assert_eq!(
        reasons
            .iter()
            .filter(|a| *a == "signing_key.created")
            .count(),
        4
    );
}

pub async fn a_rewrap_applies_only_to_the_sealing_it_read(store: Arc<dyn Store>) {
    let ctx = ctx();
    store
        .insert_signing_key(&record("k1", "ES256"), InsertWhen::Always, &ctx)
        .await
        .unwrap();
    let mut resealed = record("k1", "ES256");
    resealed.encryption_key_id = "ek_b".into();
    resealed.ciphertext = vec![9, 9, 9];
    let stale = store
        .rewrap_signing_keys(&[(resealed.clone(), "ek_other".into())], &ctx)
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    let done = store
        .rewrap_signing_keys(&[(resealed, "ek_a".into())], &ctx)
        .await
        .unwrap();
    assert_eq!(done, 1);
    let stored = store.signing_keys(None).await.unwrap();
    assert_eq!(
        (
            stored[0].encryption_key_id.as_str(),
            stored[0].ciphertext.as_slice()
        ),
        ("ek_b", &[9, 9, 9][..])
    );
}
