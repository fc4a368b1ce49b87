//! Routes the database's wake-ups to the loop each one concerns, without doing any I/O
//! itself: a `keymint_user_events` notification reaches the table-event loop at once, even
//! while the change-feed loop is busy with a burst of other writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Notify, mpsc};

use super::{Change, ChangeFeed, SyncStatus};
use crate::store::Wakeup;

/// What the router tells the loops. A [`Notify`] keeps one pending permit, so any number
/// of wake-ups that arrive while a loop works make exactly one more pass.
#[derive(Debug, Default)]
pub(super) struct Signals {
    /// `keymint_user_events` has new rows.
    pub table_events: Notify,
    /// The change feed has new rows (or must be re-read).
    pub changes: Notify,
    /// The notification connection came (back) up: the signing keys must be re-read.
    pub reconnected: AtomicBool,
}

/// Forwards wake-ups until the sender (the store's listener) ends.
pub(super) async fn route(
    mut wakeups: mpsc::Receiver<Wakeup>,
    signals: Arc<Signals>,
    status: Arc<SyncStatus>,
    changes: Arc<ChangeFeed>,
) {
    while let Some(wakeup) = wakeups.recv().await {
        match wakeup {
            Wakeup::UserEvents => signals.table_events.notify_one(),
            Wakeup::Changes => signals.changes.notify_one(),
            Wakeup::Connected => {
                // Anything may have happened while we were not listening.
                status.set_connected(true, None);
                status.connects.fetch_add(1, Ordering::SeqCst);
                changes.publish(Change::All);
                signals.reconnected.store(true, Ordering::SeqCst);
                signals.table_events.notify_one();
                signals.changes.notify_one();
                tracing::info!("database notifications connected");
            }
            Wakeup::Disconnected(reason) => {
                if status.connected() {
                    tracing::warn!(%reason, "database notifications lost; reconnecting");
                }
                status.set_connected(false, Some(reason));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A burst of change-feed notifications queued ahead of a `keymint_user_events` one
    /// must not delay it: the table-event loop is told at once, whatever the feed's
    /// backlog, and the burst folds into one pending pass of the feed loop.
    #[tokio::test]
    async fn a_user_event_is_not_queued_behind_feed_wakeups() {
        let (tx, rx) = mpsc::channel(64);
        for _ in 0..63 {
            tx.send(Wakeup::Changes).await.unwrap();
        }
        tx.send(Wakeup::UserEvents).await.unwrap();
        let signals = Arc::new(Signals::default());
        let status = Arc::new(SyncStatus::new(0));
        let routed = tokio::spawn(route(
            rx,
            Arc::clone(&signals),
            status,
            Arc::new(ChangeFeed::default()),
        ));
        // Nobody serves the feed loop here: the table-event loop hears of its row anyway.
        tokio::time::timeout(Duration::from_secs(5), signals.table_events.notified())
            .await
            .expect("the table-event loop was not woken");
        // Sixty-three feed wake-ups left one pass to make, not sixty-three.
        signals.changes.notified().await;
        let again = tokio::time::timeout(Duration::from_millis(50), signals.changes.notified());
        assert!(
            again.await.is_err(),
            "the feed wake-ups were not folded into one pass"
        );
        drop(tx);
        routed.await.unwrap();
    }

    #[tokio::test]
    async fn a_reconnect_forgets_everything_and_rereads_the_keys() {
        let (tx, rx) = mpsc::channel(4);
        let signals = Arc::new(Signals::default());
        let status = Arc::new(SyncStatus::new(0));
        let changes = Arc::new(ChangeFeed::default());
        let mut seen = changes.subscribe();
        tx.send(Wakeup::Disconnected("gone".into())).await.unwrap();
        tx.send(Wakeup::Connected).await.unwrap();
        drop(tx);
        route(rx, Arc::clone(&signals), Arc::clone(&status), changes).await;
        assert_eq!(seen.try_recv().unwrap(), Change::All);
        assert!(signals.reconnected.load(Ordering::SeqCst));
        assert!(status.connected());
        assert_eq!(status.connects.load(Ordering::SeqCst), 1);
    }
}
