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

/// A closed port is named with its cause, and Keymint says it retries.
#[test]
fn a_closed_port_is_named_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let mut server = start_server_until(
        tmp.path(),
        Arc::clone(&logs),
        &[(
            "DATABASE_URL",
            "postgres://keymint:secret@127.0.0.1:1/keymint",
        )],
        "keymint listening",
    );
    let started = Instant::now();
    loop {
        let seen = logs.lock().unwrap().clone();
        if seen.contains("cannot reach PostgreSQL at 127.0.0.1:1: connection refused")
            && seen.contains("retrying in")
        {
            assert!(!seen.contains("secret"), "the password was logged: {seen}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no clear message: {seen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop_with_sigterm(&mut server);
}

/// A wrong password will not fix itself: `serve` says so and exits instead of retrying.
#[test]
#[cfg_attr(
    not(keymint_pg),
    ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
)]
fn a_wrong_password_ends_start_up_with_the_reason() {
    let url = std::env::var("KEYMINT_TEST_POSTGRES_URL").unwrap();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, place) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    let wrong = format!("{scheme}://{user}:not-the-password@{place}");
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(tmp.path())
        .env_clear()
        .env("DATABASE_URL", &wrong)
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("serve kept retrying a wrong password");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("refused the login of user") && stderr.contains("not retrying"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-password"),
        "the password was shown: {stderr}"
    );
}
