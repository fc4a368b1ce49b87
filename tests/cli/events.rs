//! The outbox from the command line, with the real binary: every change writes its
//! lifecycle event whether or not this process delivers (`events list`), and set-aside
//! events are made due again (`events retry`), one or all; an unknown id is an error.

use serde_json::Value;
use std::sync::Mutex;

use crate::*;

fn sql(dir: &std::path::Path, statement: &str) {
    let db = format!("sqlite://{}", dir.join("keymint.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

#[test]
fn the_outbox_is_listed_and_set_aside_events_retried() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Mutex::new(String::new());
    ok(
        dir,
        &["users", "upsert", "alice", "--permission", "runs:read"],
        &logs,
    );
    let created: Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let client_id = created["clientId"].as_str().unwrap();
    ok(dir, &["keys", "disable", client_id], &logs);
    let listed: Value =
        serde_json::from_str(&ok(dir, &["events", "list", "--json"], &logs)).unwrap();
    let types: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["key.created", "key.disabled"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["subject"] == client_id && e["state"] == "pending")
    );
    let table = ok(dir, &["events", "list"], &logs);
    assert!(table.contains("2 pending, 0 set aside"), "{table}");

    // Both set aside (as 24 hours of failures would), then one retried, then all.
    sql(
        dir,
        "UPDATE key_events SET state = 'set_aside', last_error = 'the endpoint answered 503'",
    );
    let aside: Value = serde_json::from_str(&ok(
        dir,
        &["events", "list", "--set-aside", "--json"],
        &logs,
    ))
    .unwrap();
    assert_eq!(aside.as_array().unwrap().len(), 2);
    assert_eq!(aside[0]["lastError"], "the endpoint answered 503");
    let first = aside[0]["id"].as_str().unwrap();
    let one = ok(dir, &["events", "retry", first], &logs);
    assert!(one.contains("1 event(s) due again"), "{one}");
    let unknown = keymint(dir, &["events", "retry", "evt_nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("evt_nope"));
    let all = ok(dir, &["events", "retry", "--all"], &logs);
    assert!(all.contains("1 event(s) due again"), "{all}");
    let table = ok(dir, &["events", "list"], &logs);
    assert!(table.contains("2 pending, 0 set aside"), "{table}");
}
