//! `examples/webhook_sender.py` against the real binary: the user's keys stop working.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::*;

/// The README's Python sender (standard library only) is a real Standard Webhooks client.
#[test]
fn the_python_webhook_example_deactivates_a_user() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    let http = reqwest::blocking::Client::new();
    let mut server = start_server_with(
        dir,
        Arc::clone(&logs),
        &[("KEYMINT_WEBHOOK_SECRET", SECRET)],
    );
    let url = format!("{}/hooks/user-events", server.base);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webhook_sender.py");
    let python = |args: &[&str]| {
        let out = Command::new("python3")
            .arg(&script)
            .arg(&url)
            .arg(SECRET)
            .args(args)
            .output()
            .expect("python3 is installed");
        assert!(
            out.status.success(),
            "sender failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(python(&["user.upserted", "frank", "runs:read"]).contains("applied"));
    let created: Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "frank",
            "--env",
            "production",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let (id, secret) = (
        created["clientId"].as_str().unwrap(),
        created["clientSecret"].as_str().unwrap(),
    );
    assert_eq!(created["permissions"], serde_json::json!(["runs:read"]));
    assert_eq!(token(&http, &server.base, id, secret).status(), 200);
    assert!(python(&["user.deactivated", "frank"]).contains("applied"));
    // The webhook is served by the same process: refused at once.
    assert_eq!(token(&http, &server.base, id, secret).status(), 401);
    stop_with_sigterm(&mut server);
    assert!(
        !logs.lock().unwrap().contains(SECRET),
        "webhook secret in the logs"
    );
    assert!(
        !logs
            .lock()
            .unwrap()
            .contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "webhook secret in the logs"
    );
}
