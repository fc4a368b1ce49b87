//! The README's way into the console with the real binary: `keymint console link --user
//! alice` prints a one-time URL; opening it (the page's button posts it) signs alice in
//! and her keys page lists the key the CLI made; the URL works once.

use std::sync::{Arc, Mutex};

use crate::*;

#[test]
fn a_printed_link_signs_in_once_and_shows_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    let mut server = start_server(dir, Arc::clone(&logs));
    ok(
        dir,
        &["users", "upsert", "alice", "--permission", "CreateAPIKey"],
        &logs,
    );
    let created = ok(
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
    );
    let client_id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = keymint(
        dir,
        &["console", "link", "--user", "alice", "--minutes", "5"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    let path = url
        .trim()
        .split_once("/console/")
        .map(|(_, p)| format!("/console/{p}"))
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("works once"));

    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(format!("{}{path}", server.base)).send().unwrap();
    assert_eq!(page.status(), 200);
    let signed = http
        .post(format!("{}{path}", server.base))
        .header("origin", &server.base)
        .send()
        .unwrap();
    assert_eq!(signed.status(), 303);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let keys = http
        .get(format!("{}/console/production/keys", server.base))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(keys.status(), 200);
    assert!(keys.text().unwrap().contains(&client_id));
    let again = http.post(format!("{}{path}", server.base)).send().unwrap();
    assert_eq!(again.status(), 404, "the link works once");

    let unknown = keymint(dir, &["console", "link", "--user", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("keymint users upsert nobody"));
    let long = keymint(
        dir,
        &["console", "link", "--user", "alice", "--minutes", "5000"],
    );
    assert!(!long.status.success());
    stop_with_sigterm(&mut server);
}
