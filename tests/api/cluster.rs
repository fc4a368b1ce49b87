//! PostgreSQL only: two real instances on one database, many writers at once. Whatever
//! order concurrent transactions commit in, every committed change reaches the other
//! instance's caches.

use futures_util::future::join_all;
use serde_json::json;
use std::time::Duration;

use crate::app::{Backend, Key, TestApp};
use crate::graphql::UPDATE;

const MANAGER: &[&str] = &["CreateAPIKey", "UpdateAPIKey", "runs:read"];
const CREATE_NAMED: &str =
    "mutation($input: CreateAPIKeyInput) { createApiKey(input: $input) { apikey { clientId } } }";

mod postgres {
    use super::*;

    /// Every write takes the change-feed lock before its change rows: while another
    /// session holds it (as a writer between its change rows and its commit does), a
    /// write waits, and its rows get a higher `seq` than anything committed before it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn writes_wait_for_the_change_feed_lock() {
        use sqlx::{Connection, Executor};
        let a = TestApp::spawn(Backend::Postgres).await;
        let mut holder = sqlx::PgConnection::connect(&a.db_url).await.unwrap();
        holder.execute("BEGIN").await.unwrap();
        holder
            .execute("SELECT pg_advisory_xact_lock(7738725045533307906)")
            .await
            .unwrap();
        let write = a.user("waiter", &["runs:read"]);
        let release = async {
            a.await_lock_waiter("a write did not wait for the feed lock")
                .await;
            holder.execute("COMMIT").await.unwrap();
        };
        tokio::join!(write, release);
        let row = a
            .sql("SELECT kind || ':' || subject FROM keymint_changes ORDER BY seq DESC LIMIT 1")
            .await;
        assert_eq!(row.as_deref(), Some("user:waiter"));
    }

    /// Disables through instance A's GraphQL, interleaved with other writes at A, are all
    /// refused at instance B within a second; every key left alone still works at B.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn every_committed_disable_reaches_the_other_instance_whatever_the_commit_order() {
        let a = TestApp::spawn(Backend::Postgres).await;
        let b = a.spawn_peer().await;
        a.user("alice", MANAGER).await;
        let admin_key = a.key("alice", "production").await;
        let bearer = a.mint("production", &admin_key).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        for round in 0..4 {
            let mut keys: Vec<Key> = Vec::new();
            for _ in 0..36 {
                keys.push(a.key("alice", "production").await);
            }
            // B verifies every key once, so each sits in B's verified-secret cache: only
            // the change feed can take it out again.
            for key in &keys {
                assert_eq!(b.token_status("production", key).await, 200);
            }
            let (disabled, kept) = keys.split_at(30);
            let disables = disabled.iter().map(|key| {
                let (a, bearer) = (&a, &bearer);
                async move {
                    let input = json!({"input": {"clientId": key.client_id, "enabled": false}});
                    let (status, body) = a.graphql("production", Some(bearer), UPDATE, input).await;
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(
                        body["data"]["updateApiKey"]["apikey"]["enabled"], false,
                        "{body}"
                    );
                }
            });
            // Other writers at A at the same time: new keys and user updates.
            let creates = (0..6).map(|i| {
                let (a, bearer) = (&a, &bearer);
                async move {
                    let input = json!({"input": {"name": format!("r{round}-{i}")}});
                    let (status, body) = a
                        .graphql("production", Some(bearer), CREATE_NAMED, input)
                        .await;
                    assert_eq!(status, 200, "{body}");
                }
            });
            let upserts = (0..40).map(|i| {
                let a = &a;
                async move { a.user(&format!("bystander{i}"), &["runs:read"]).await }
            });
            tokio::join!(join_all(disables), join_all(creates), join_all(upserts));

            for key in disabled {
                let took = TestApp::eventually(Duration::from_secs(1), || async {
                    b.token_status("production", key).await == 401
                })
                .await;
                assert!(
                    took.is_some(),
                    "round {round}: a key disabled at A still gets tokens at B after 1 s"
                );
            }
            for key in kept {
                assert_eq!(b.token_status("production", key).await, 200);
            }
        }
    }
}
