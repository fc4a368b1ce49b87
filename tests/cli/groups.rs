//! `keymint groups set-permissions|list` with the real binary: a group the directory
//! pushed over SCIM is mapped by name, its member holds the mapped permissions (shown by
//! `users show`), and removing the mapping takes them away.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::*;

const SCIM_TOKEN: &str = "cli-groups-scim-token-0123456789";

#[test]
fn ops_map_a_pushed_group_to_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    let http = reqwest::blocking::Client::new();
    let mut server = start_server_with(
        dir,
        Arc::clone(&logs),
        &[("KEYMINT_SCIM_TOKEN", SCIM_TOKEN)],
    );
    ok(
        dir,
        &["users", "upsert", "pat", "--permission", "runs:read"],
        &logs,
    );
    let pushed = http
        .post(format!("{}/scim/v2/Groups", server.base))
        .bearer_auth(SCIM_TOKEN)
        .header("content-type", "application/scim+json")
        .body(json!({"displayName": "Deployers", "members": [{"value": "pat"}]}).to_string())
        .send()
        .unwrap();
    assert_eq!(pushed.status(), 201);

    let out = ok(
        dir,
        &[
            "groups",
            "set-permissions",
            "deployers",
            "--permission",
            "deploy",
        ],
        &logs,
    );
    assert!(
        out.contains("members hold [deploy]; 1 user(s) changed"),
        "{out}"
    );
    let user: Value =
        serde_json::from_str(&ok(dir, &["users", "show", "pat", "--json"], &logs)).unwrap();
    assert_eq!(user["permissions"], json!(["deploy", "runs:read"]));
    assert_eq!(user["groupPermissions"], json!(["deploy"]));
    let listed: Value =
        serde_json::from_str(&ok(dir, &["groups", "list", "--json"], &logs)).unwrap();
    assert_eq!(listed["mappings"][0]["name"], "deployers");
    assert_eq!(listed["groups"][0]["displayName"], "Deployers");
    assert_eq!(listed["groups"][0]["members"], 1);
    let table = ok(dir, &["groups", "list"], &logs);
    assert!(
        table.contains("Deployers") && table.contains("yes"),
        "{table}"
    );

    // Neither a permission nor --none: refused, nothing changes.
    let refused = keymint(dir, &["groups", "set-permissions", "deployers"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--permission"));
    let bad = keymint(
        dir,
        &[
            "groups",
            "set-permissions",
            "deployers",
            "--permission",
            "a b",
        ],
    );
    assert!(!bad.status.success());
    let user: Value =
        serde_json::from_str(&ok(dir, &["users", "show", "pat", "--json"], &logs)).unwrap();
    assert_eq!(user["groupPermissions"], json!(["deploy"]));

    let out = ok(
        dir,
        &["groups", "set-permissions", "Deployers", "--none"],
        &logs,
    );
    assert!(out.contains("mapping removed; 1 user(s) changed"), "{out}");
    let user: Value =
        serde_json::from_str(&ok(dir, &["users", "show", "pat", "--json"], &logs)).unwrap();
    assert_eq!(user["permissions"], json!(["runs:read"]));
    let audit = ok(dir, &["audit", "--env", "production", "--json"], &logs);
    assert_eq!(audit.matches("group.permissions_set").count(), 2, "{audit}");
    stop_with_sigterm(&mut server);
}
