//! Rotating the encryption keys with the real binary: generate a new entry, put it first,
//! `rewrap`, drop the old one; the signing keys and the tokens they signed survive. An
//! instance missing the entry the keys are stored under refuses to start and says which.

use serde_json::Value;
use std::sync::{Arc, Mutex};

use crate::*;

fn entry(dir: &std::path::Path, logs: &Mutex<String>) -> String {
    let out = ok(dir, &["encryption-keys", "generate"], logs);
    let entry = out.trim().to_owned();
    assert!(entry.starts_with("ek_") && entry.contains(':'), "{entry}");
    entry
}

fn kids(http: &reqwest::blocking::Client, base: &str) -> Vec<String> {
    let jwks: Value = http
        .get(format!("{base}/production/.well-known/jwks.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn encryption_keys_rotate_without_losing_a_signing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let logs = Arc::new(Mutex::new(String::new()));
    let http = reqwest::blocking::Client::new();
    let old = entry(dir, &logs);
    let new = entry(dir, &logs);
    let new_id = new.split_once(':').unwrap().0;

    let mut server =
        start_server_with(dir, Arc::clone(&logs), &[("KEYMINT_ENCRYPTION_KEYS", &old)]);
    let before = kids(&http, &server.base);
    assert!(
        !dir.join("keys/encryption-keys").exists(),
        "no file is generated when KEYMINT_ENCRYPTION_KEYS is set"
    );
    stop_with_sigterm(&mut server);

    let both = format!("{new},{old}");
    let vars = [("KEYMINT_ENCRYPTION_KEYS", both.as_str())];
    let out = keymint_with(dir, &["encryption-keys", "rewrap"], &vars);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // production and sandbox: one key each.
    assert!(
        stdout.contains(&format!("2 signing key(s) re-encrypted under {new_id}")),
        "{stdout}"
    );

    // Only the new entry now: the same keys are served.
    let mut server =
        start_server_with(dir, Arc::clone(&logs), &[("KEYMINT_ENCRYPTION_KEYS", &new)]);
    assert_eq!(kids(&http, &server.base), before);
    stop_with_sigterm(&mut server);

    // The old entry alone no longer opens them: refused, naming the id it lacks.
    let refused = keymint_with(dir, &["serve"], &[("KEYMINT_ENCRYPTION_KEYS", &old)]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(new_id) && stderr.contains("does not have"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(old.split_once(':').unwrap().1),
        "a key in the error"
    );
    let logs = logs.lock().unwrap();
    for secret in [&old, &new] {
        assert!(
            !logs.contains(secret.split_once(':').unwrap().1),
            "an encryption key in the logs"
        );
    }
}
