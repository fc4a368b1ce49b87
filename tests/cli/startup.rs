//! Start-up: waiting for an unreachable database and saying why; refusing plain HTTP on
//! a public address.

use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::*;

#[test]
fn serve_waits_for_an_unreachable_database_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // SQLite cannot create a file in a folder that does not exist (yet).
    let url = format!("sqlite://{}", dir.join("later/keymint.db").display());
    let logs = Arc::new(Mutex::new(String::new()));
    let mut server = start_server_until(
        dir,
        Arc::clone(&logs),
        &[("DATABASE_URL", &url)],
        "keymint listening",
    );
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send().unwrap();

    assert_eq!(get("/healthz").status(), 200, "alive while waiting");
    let ready = get("/readyz");
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().unwrap();
    assert!(
        ready["problems"].to_string().contains("database"),
        "readyz says why: {ready}"
    );
    let refused = token(&http, &server.base, "kmc_x", "kms_x");
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let refused: Value = refused.json().unwrap();
    assert_eq!(refused["error"], "temporarily_unavailable");

    // The database becomes reachable: Keymint finds it by itself (back-off 1, 2, 4 s ...).
    std::fs::create_dir(dir.join("later")).unwrap();
    let started = Instant::now();
    while get("/readyz").status() != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never became ready: {}",
            logs.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        token(&http, &server.base, "kmc_x", "kms_x").status(),
        401,
        "the token endpoint now answers for real"
    );
    assert!(logs.lock().unwrap().contains("retrying"));

    stop_with_sigterm(&mut server);
}

#[test]
fn plain_http_on_a_public_address_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(tmp.path())
        .env_clear()
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .env("KEYMINT_PUBLIC_URL", "http://keymint.example.com")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KEYMINT_BEHIND_TLS_PROXY=1"), "{stderr}");
}
