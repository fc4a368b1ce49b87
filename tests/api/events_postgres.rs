//! PostgreSQL only: two instances on one database, the `keymint_user_events` table,
//! catch-up after downtime, and listener reconnects.

use serde_json::{Value, json};
use sqlx::Connection;
use std::time::Duration;

use keymint::changes::Change;
use keymint::clock::Clock;
use keymint::events::{WebhookSecret, sign};

use crate::app::{Backend, Key, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VARS: &[(&str, &str)] = &[("KEYMINT_WEBHOOK_SECRET", SECRET)];

async fn sql(app: &TestApp, statement: &str) {
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn insert_event(app: &TestApp, kind: &str, data: Value) {
    sql(
        app,
        &format!("INSERT INTO keymint_user_events (type, data) VALUES ('{kind}', '{data}')"),
    )
    .await;
}

/// Waits until `key` is refused by `app`; returns how long that took.
async fn refused_within(app: &TestApp, key: &Key, within: Duration) -> Option<Duration> {
    TestApp::eventually(within, || async {
        app.token_status("production", key).await == 401
    })
    .await
}

/// Waits until `app`'s change feed announces `user` (or a full flush).
async fn heard_of(
    feed: &mut tokio::sync::broadcast::Receiver<Change>,
    user: &str,
    within: Duration,
) -> bool {
    tokio::time::timeout(within, async {
        loop {
            match feed.recv().await {
                Ok(Change::User(id)) if id.as_str() == user => return,
                Ok(_) => {}
                Err(e) => panic!("feed error: {e}"),
            }
        }
    })
    .await
    .is_ok()
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_deactivation_at_one_instance_reaches_the_other_within_a_second() {
        let a = TestApp::spawn_with(Backend::Postgres, VARS).await;
        let b = TestApp::spawn_on(&a.db_url, VARS).await;
        a.user("alice", &["runs:read"]).await;
        a.user("bob", &["runs:read"]).await;
        let alice = a.key("alice", "production").await;
        let bob = a.key("bob", "production").await;
        assert_eq!(b.token_status("production", &alice).await, 200);
        let mut feed = b.state.changes.subscribe();

        // Webhook to instance A.
        let body = json!({"type": "user.deactivated", "data": {"id": "alice"}}).to_string();
        let ts = a.clock.now().unix_timestamp();
        let signature = sign(
            &WebhookSecret::parse(SECRET).unwrap(),
            "msg_a",
            ts,
            body.as_bytes(),
        );
        let response = a
            .http
            .post(a.url("/hooks/user-events"))
            .header("webhook-id", "msg_a")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            heard_of(&mut feed, "alice", Duration::from_secs(1)).await,
            "B's change feed missed the webhook deactivation"
        );
        assert!(
            refused_within(&b, &alice, Duration::from_secs(1))
                .await
                .is_some()
        );

        // A row in the table, picked up by one of the two.
        insert_event(&a, "user.deactivated", json!({"id": "bob"})).await;
        assert!(
            heard_of(&mut feed, "bob", Duration::from_secs(1)).await,
            "B's change feed missed the table deactivation"
        );
        assert!(
            refused_within(&b, &bob, Duration::from_secs(1))
                .await
                .is_some()
        );
        assert!(
            refused_within(&a, &bob, Duration::from_secs(1))
                .await
                .is_some()
        );

        // Applied exactly once across both instances.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(a.audit_count("bob", "user.deactivated").await, 1);
        assert_eq!(a.audit_count("bob", "key.disabled").await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn table_rows_apply_in_order_exactly_once_with_two_instances() {
        let a = TestApp::spawn(Backend::Postgres).await;
        let b = TestApp::spawn_on(&a.db_url, &[]).await;
        a.user("carol", &["runs:read"]).await;
        let carol = a.key("carol", "production").await;
        // Deactivate, reactivate, deactivate: the final state depends on the order.
        let mut statement = String::new();
        for i in 0..10 {
            let kind = if i % 2 == 0 {
                "user.deactivated"
            } else {
                "user.reactivated"
            };
            statement.push_str(&format!("INSERT INTO keymint_user_events (type, data) VALUES ('{kind}', '{{\"id\": \"carol\"}}');"));
        }
        statement.push_str("INSERT INTO keymint_user_events (type, data) VALUES ('user.deactivated', '{\"id\": \"carol\"}');");
        statement.push_str("INSERT INTO keymint_user_events (type, data) VALUES ('user.exploded', '{\"id\": \"carol\"}');");
        sql(&a, &statement).await;

        let done = TestApp::eventually(Duration::from_secs(5), || async {
            let mut conn = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
            let pending: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM keymint_user_events WHERE processed_at IS NULL",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            pending == 0
        })
        .await;
        assert!(done.is_some(), "rows were not all processed");
        assert_eq!(a.audit_count("carol", "user.deactivated").await, 6);
        assert_eq!(a.audit_count("carol", "user.reactivated").await, 5);
        let user = a
            .state
            .store
            .get_user(&keymint::domain::UserId::parse("carol").unwrap())
            .await
            .unwrap();
        assert!(!user.active, "rows were applied out of order");
        assert_eq!(b.token_status("production", &carol).await, 401);

        let mut conn = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
        let rejected: (String, Option<String>) =
            sqlx::query_as("SELECT type, error FROM keymint_user_events WHERE error IS NOT NULL")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(rejected.0, "user.exploded");
        assert!(rejected.1.unwrap().contains("unknown event type"));
        // Both instances' gauges follow the rows, whichever instance applied them, well
        // within the 1 s poll interval.
        for app in [&a, &b] {
            let cleared = TestApp::eventually(Duration::from_millis(400), || async {
                app.metric("keymint_user_events_pending").await == 0.0
            })
            .await;
            assert!(cleared.is_some(), "the pending gauge kept a stale backlog");
        }
    }

    /// A row that fails for a reason other than its content (here a trigger standing in
    /// for any database-side error) is tried a few times, then set aside with its error;
    /// the rows after it are applied.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_row_that_keeps_failing_is_set_aside_and_the_queue_goes_on() {
        let a = TestApp::spawn(Backend::Postgres).await;
        a.user("dave", &["runs:read"]).await;
        let dave = a.key("dave", "production").await;
        sql(
            &a,
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.id = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON users \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .await;
        insert_event(&a, "user.deactivated", json!({"id": "poison"})).await;
        insert_event(&a, "user.deactivated", json!({"id": "dave"})).await;
        assert!(
            refused_within(&a, &dave, Duration::from_secs(15))
                .await
                .is_some(),
            "the row after a failing one was never applied"
        );
        let mut conn = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
        let (attempts, error, processed): (i32, Option<String>, bool) = sqlx::query_as(
            "SELECT attempts, error, processed_at IS NOT NULL FROM keymint_user_events WHERE data->>'id' = 'poison'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(attempts, keymint::store::MAX_EVENT_ATTEMPTS);
        assert!(processed, "the failing row was not set aside");
        let error = error.unwrap();
        assert!(
            error.contains("set aside") && error.contains("poisoned"),
            "{error}"
        );
    }

    /// A row written earlier but committed later than another of the same user does not
    /// undo it: the table's rows are ordered per user by their time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn an_older_reactivation_row_does_not_undo_a_newer_deactivation() {
        let a = TestApp::spawn(Backend::Postgres).await;
        a.user("erin", &["runs:read"]).await;
        let erin = a.key("erin", "production").await;
        insert_event(&a, "user.deactivated", json!({"id": "erin"})).await;
        assert!(
            refused_within(&a, &erin, Duration::from_secs(2))
                .await
                .is_some()
        );
        sql(
            &a,
            "INSERT INTO keymint_user_events (type, data, created_at) \
             VALUES ('user.reactivated', '{\"id\": \"erin\"}', now() - interval '1 minute')",
        )
        .await;
        a.settle().await;
        let settled = TestApp::eventually(Duration::from_secs(5), || async {
            a.state
                .sync
                .backlog
                .load(std::sync::atomic::Ordering::Relaxed)
                == 0
                && a.metric("keymint_user_events_rejected_total").await >= 1.0
        })
        .await;
        assert!(settled.is_some(), "the late row was not handled");
        let user = a
            .state
            .store
            .get_user(&keymint::domain::UserId::parse("erin").unwrap())
            .await
            .unwrap();
        assert!(!user.active, "an older reactivation undid the deactivation");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn an_instance_catches_up_on_events_written_while_it_was_down() {
        let mut first = TestApp::spawn(Backend::Postgres).await;
        first.user("dave", &["runs:read"]).await;
        let dave = first.key("dave", "production").await;
        first.stop().await;
        // Written while no instance runs.
        insert_event(&first, "user.deactivated", json!({"id": "dave"})).await;

        let restarted = TestApp::spawn_on(&first.db_url, &[]).await;
        // Ready means caught up: the very first request is refused.
        assert_eq!(restarted.token_status("production", &dave).await, 401);
        let mut conn = sqlx::PgConnection::connect(&first.db_url).await.unwrap();
        let processed_by: Option<String> =
            sqlx::query_scalar("SELECT processed_by FROM keymint_user_events")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            processed_by.as_deref(),
            Some(restarted.state.sync.instance.as_str())
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_killed_listener_reconnects_catches_up_and_applies_nothing_twice() {
        let app = TestApp::spawn(Backend::Postgres).await;
        app.user("erin", &["runs:read"]).await;
        let erin = app.key("erin", "production").await;
        let connects = || {
            app.state
                .sync
                .connects
                .load(std::sync::atomic::Ordering::SeqCst)
        };
        assert!(
            TestApp::eventually(Duration::from_secs(3), || async { connects() >= 1 })
                .await
                .is_some()
        );
        let mut feed = app.state.changes.subscribe();
        sql(&app, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()").await;
        insert_event(&app, "user.deactivated", json!({"id": "erin"})).await;

        let flushed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(Change::All) = feed.recv().await {
                    return;
                }
            }
        })
        .await;
        assert!(
            flushed.is_ok(),
            "no full flush after the listener reconnected"
        );
        assert!(connects() >= 2, "the listener did not reconnect");
        assert!(
            refused_within(&app, &erin, Duration::from_secs(3))
                .await
                .is_some()
        );
        assert_eq!(app.metric("keymint_listener_connected").await, 1.0);
        assert_eq!(
            app.http
                .get(app.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(app.audit_count("erin", "user.deactivated").await, 1);
    }
}
