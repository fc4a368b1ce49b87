//! The `jti` record of client assertions, written together: each request queues its
//! `(client_id, jti)`, and one task writes whatever is queued in one statement, then
//! whatever queued meanwhile, until the queue is empty. A request learns from that
//! statement's answer whether its own `jti` was new, so the guarantee is the single
//! insert's (of two instances given one assertion, exactly one accepts it) at the cost of
//! one commit per batch rather than one per request (SQLite commits serialise; each waits
//! for its fsync).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::store::{NewAssertion, Store, StoreError};

/// One queued assertion and where its answer goes.
struct Pending {
    client_id: String,
    jti: String,
    expires_at: OffsetDateTime,
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    /// A task is writing: new arrivals wait for its next round.
    writing: bool,
}

/// Records assertions' `jti`s, concurrent ones in one statement.
pub struct ReplayLedger {
    store: Arc<dyn Store>,
    queue: Mutex<Queue>,
}

impl ReplayLedger {
    /// A ledger writing to `store`.
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Records `jti` of `client_id` until `expires_at`: `true` when no instance saw it
    /// before, `false` for a replay.
    pub async fn record(
        self: &Arc<Self>,
        client_id: &str,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (answer, reply) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.pending.push(Pending {
                client_id: client_id.to_owned(),
                jti: jti.to_owned(),
                expires_at,
                answer,
            });
            !std::mem::replace(&mut queue.writing, true)
        };
        if start {
            // Its own task: a caller that goes away must not strand the others' answers.
            tokio::spawn(Arc::clone(self).write_all());
        }
        reply
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the assertion writer stopped".into())))
    }

    /// Writes rounds until the queue is empty.
    async fn write_all(self: Arc<Self>) {
        let mut stop = StopGuard(Some(&self));
        loop {
            let batch = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.pending.is_empty() {
                    queue.writing = false;
                    stop.0 = None;
                    return;
                }
                std::mem::take(&mut queue.pending)
            };
            self.write(batch).await;
        }
    }

    /// One statement for `batch`; a pair queued twice is a replay for all but the first.
    async fn write(&self, batch: Vec<Pending>) {
        let mut seen = HashSet::new();
        let (first, again): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|p| seen.insert((p.client_id.clone(), p.jti.clone())));
        for p in again {
            let _ = p.answer.send(Ok(false));
        }
        let rows: Vec<NewAssertion<'_>> = first
            .iter()
            .map(|p| NewAssertion {
                client_id: &p.client_id,
                jti: &p.jti,
                expires_at: p.expires_at,
            })
            .collect();
        match self.store.record_client_assertions(&rows).await {
            Ok(new) => {
                for (p, new) in first.into_iter().zip(new) {
                    let _ = p.answer.send(Ok(new));
                }
            }
            Err(e) => {
                let reason = match e {
                    StoreError::Backend(reason) => reason,
                    other => other.to_string(),
                };
                for p in first {
                    let _ = p.answer.send(Err(StoreError::Backend(reason.clone())));
                }
            }
        }
    }
}

/// Should the writing task end early (a panic), lets the next request start another and
/// fails what was queued, so no caller waits forever.
struct StopGuard<'a>(Option<&'a ReplayLedger>);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if let Some(ledger) = self.0 {
            let mut queue = ledger.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.writing = false;
            queue.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    async fn ledger() -> (Arc<ReplayLedger>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (ReplayLedger::new(Arc::new(store)), dir)
    }

    /// Forty copies queued before the writer runs land in one batch: one is new.
    #[tokio::test]
    async fn copies_in_one_batch_are_one_new_and_the_rest_replays() {
        let (ledger, _dir) = ledger().await;
        let exp = time::macros::datetime!(2026-12-06 13:00 UTC);
        let answers =
            futures_util::future::join_all((0..40).map(|_| ledger.record("client", "same", exp)))
                .await;
        let new = answers.iter().filter(|a| matches!(a, Ok(true))).count();
        assert_eq!(new, 1, "{answers:?}");
        assert!(answers.iter().all(Result::is_ok));
        // Different jtis in one batch are each new, and the same ones later are not.
        let jtis: Vec<String> = (0..40).map(|i| format!("jti-{i}")).collect();
        for expected in [true, false] {
            let answers = futures_util::future::join_all(
                jtis.iter().map(|j| ledger.record("client", j, exp)),
            )
            .await;
            assert!(answers.iter().all(|a| matches!(a, Ok(n) if *n == expected)));
        }
    }
}
