//! IP allow-lists from the command line, with the real binary: `keys create
//! --allowed-ip` (IPv4 and IPv6, repeated), `keys update --allowed-ip` replacing the list
//! and `--any-ip` removing it, a bad network refused with the entry named and nothing
//! changed, and `keys list` showing the list (JSON) and the address of last use.

use serde_json::Value;
use std::sync::Mutex;

use crate::*;

fn listed(dir: &std::path::Path, logs: &Mutex<String>) -> Value {
    let out = ok(
        dir,
        &["keys", "list", "--env", "production", "--json"],
        logs,
    );
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

#[test]
fn allow_lists_are_set_replaced_and_removed_at_the_command_line() {
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
            "--allowed-ip",
            "203.0.113.0/24",
            "--allowed-ip",
            "2001:db8::/64",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    assert_eq!(
        listed(dir, &logs)["allowedIps"],
        serde_json::json!(["203.0.113.0/24", "2001:db8::/64"])
    );

    let bad = keymint(
        dir,
        &["keys", "update", &client_id, "--allowed-ip", "10.0.0.0/33"],
    );
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
    assert_eq!(
        listed(dir, &logs)["allowedIps"].as_array().unwrap().len(),
        2
    );

    let both = keymint(
        dir,
        &[
            "keys",
            "update",
            &client_id,
            "--allowed-ip",
            "192.0.2.1",
            "--any-ip",
        ],
    );
    assert!(!both.status.success(), "a list and --any-ip at once");

    let updated = ok(
        dir,
        &["keys", "update", &client_id, "--allowed-ip", "192.0.2.1"],
        &logs,
    );
    assert!(updated.contains("allowed from 192.0.2.1/32"), "{updated}");
    assert_eq!(
        listed(dir, &logs)["allowedIps"],
        serde_json::json!(["192.0.2.1/32"])
    );
    let any = ok(dir, &["keys", "update", &client_id, "--any-ip"], &logs);
    assert!(any.contains("allowed from any address"), "{any}");
    assert_eq!(listed(dir, &logs)["allowedIps"], serde_json::json!([]));

    // The address of last use, as the sync task records it, in both listings.
    let db = format!("sqlite://{}", dir.join("keymint.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query("UPDATE api_keys SET last_used_at = created_at, last_used_ip = '2001:db8::7'")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    assert_eq!(listed(dir, &logs)["lastUsedIp"], "2001:db8::7");
    let table = ok(dir, &["keys", "list", "--env", "production"], &logs);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("last used") && header.contains("from"),
        "{header}"
    );
    assert!(table.contains("2001:db8::7"), "{table}");
}
