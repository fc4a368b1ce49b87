//! Client assertions' `jti`s: new once across every writer, many in one call, pruned once
//! expired.

use std::sync::Arc;
use time::Duration;

use keymint::store::{NewAssertion, Store};

fn row<'a>(client_id: &'a str, jti: &'a str, expires_at: time::OffsetDateTime) -> NewAssertion<'a> {
    NewAssertion {
        client_id,
        jti,
        expires_at,
    }
}

pub async fn each_assertion_is_new_once_and_forgotten_after_it_expires(store: Arc<dyn Store>) {
    let t0 = time::macros::datetime!(2026-12-06 12:00 UTC);
    let soon = t0 + Duration::minutes(5);
    let later = t0 + Duration::hours(1);
    let first = [
        row("c1", "j1", soon),
        row("c1", "j2", later),
        row("c2", "j1", later),
    ];
    assert_eq!(
        store.record_client_assertions(&first).await.unwrap(),
        vec![true, true, true],
        "a jti is per client"
    );
    let again = [
        row("c1", "j3", later),
        row("c1", "j1", soon),
        row("c2", "j1", later),
    ];
    assert_eq!(
        store.record_client_assertions(&again).await.unwrap(),
        vec![true, false, false],
        "each answer is its own row's"
    );
    // Past j1's expiry the prune forgets it (its `exp` refuses a replay by then); j2 stays.
    store
        .prune(t0 + Duration::minutes(10), Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .record_client_assertions(&[row("c1", "j1", soon), row("c1", "j2", later)])
            .await
            .unwrap(),
        vec![true, false]
    );
}

pub async fn a_batch_past_one_statement_answers_every_row(store: Arc<dyn Store>) {
    let later = time::macros::datetime!(2026-12-06 13:00 UTC);
    let jtis: Vec<String> = (0..2_500).map(|i| format!("jti-{i}")).collect();
    let rows: Vec<_> = jtis.iter().map(|j| row("big", j, later)).collect();
    let new = store.record_client_assertions(&rows).await.unwrap();
    assert_eq!(new.len(), rows.len());
    assert!(new.iter().all(|&n| n), "every row was new");
    // Half seen, half new, interleaved.
    let others: Vec<String> = (0..2_500).map(|i| format!("other-{i}")).collect();
    let mixed: Vec<_> = jtis
        .iter()
        .zip(&others)
        .flat_map(|(seen, new)| [row("big", seen, later), row("big", new, later)])
        .collect();
    let answers = store.record_client_assertions(&mixed).await.unwrap();
    let expected: Vec<bool> = (0..mixed.len()).map(|i| i % 2 == 1).collect();
    assert_eq!(answers, expected);
}
