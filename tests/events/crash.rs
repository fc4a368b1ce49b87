//! `kill -9` with events in the outbox, on the real binary: changes made through the CLI
//! (another process than the server) while the receiver is down, the server killed after
//! its first failed delivery, the receiver and a new server started: every event arrives,
//! in order per key.

use serde_json::Value;
use std::path::Path;
use std::time::Duration;

use crate::receiver::{Receiver, SECRET};
use crate::support::TestDb;
use crate::support::binary::{self, cli};

/// `keymint serve` delivering to `receiver`; its base URL.
async fn serve(dir: &Path, url: &str, receiver: &Receiver) -> (binary::Served, String) {
    binary::serve(
        dir,
        url,
        &[
            ("KEYMINT_EVENTS_URL", &receiver.url),
            ("KEYMINT_EVENTS_SECRET", SECRET),
        ],
    )
    .await
}

async fn failed_deliveries(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("keymint_events_failed_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn kill_9_loses_no_event(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut receiver = Receiver::start();
    receiver.stop();
    let (mut server, base) = serve(dir, &db.url, &receiver).await;
    cli(
        dir,
        &db.url,
        &["users", "upsert", "carol", "--permission", "runs:read"],
    );
    let mut client_ids = Vec::new();
    for _ in 0..3 {
        let created: Value = serde_json::from_str(&cli(
            dir,
            &db.url,
            &[
                "keys",
                "create",
                "--user",
                "carol",
                "--env",
                "production",
                "--json",
            ],
        ))
        .unwrap();
        let client_id = created["clientId"].as_str().unwrap().to_owned();
        cli(dir, &db.url, &["keys", "disable", &client_id]);
        client_ids.push(client_id);
    }
    let mut failed = false;
    for _ in 0..100 {
        if failed_deliveries(&base).await >= 1.0 {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "the server tried the dead receiver");
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    receiver.restart();
    let (mut server, _) = serve(dir, &db.url, &receiver).await;
    let received = receiver.wait_for(6).await;
    server.kill().unwrap();
    let _ = server.wait();
    // At least once: a send cut by the kill may arrive twice; order per key holds.
    let mut seen = std::collections::HashSet::new();
    let first_arrivals: Vec<&(String, Value)> = received
        .iter()
        .filter(|(id, _)| seen.insert(id.clone()))
        .collect();
    for client_id in &client_ids {
        let types: Vec<&str> = first_arrivals
            .iter()
            .filter(|(_, e)| e["data"]["clientId"] == client_id.as_str())
            .map(|(_, e)| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["key.created", "key.disabled"], "{client_id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_gateway),
    ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_SCIM_PYTHON (.ci/run installs standardwebhooks)"
)]
async fn sqlite_kill_9_loses_no_event() {
    kill_9_loses_no_event(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keymint_gateway, keymint_pg)),
    ignore = "set KEYMINT_TEST_GATEWAY=1, KEYMINT_TEST_SCIM_PYTHON and KEYMINT_TEST_POSTGRES_URL"
)]
async fn postgres_kill_9_loses_no_event() {
    kill_9_loses_no_event(TestDb::postgres().await).await;
}
