//! A full disk under the SQLite database, for real: a small filesystem of its own
//! (`KEYMINT_TEST_DISK_FULL_DIR`; `.ci/run` mounts a 16 MiB tmpfs there) holds the
//! database and the instance's folder, and is filled while the instance serves. The
//! guarantee: warm keys keep minting tokens that verify through the JWKS; every write is
//! refused as temporarily unavailable (GraphQL `UNAVAILABLE`, the CLI's error) and leaves
//! nothing behind; once space is freed, every write succeeds again, without a restart.

#[path = "support/mod.rs"]
mod support;

use serde_json::{Value, json};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use keymint::verifier::Verifier;
use support::binary::{BIN, cli, serve};

/// Larger than a test filesystem needs to be: past it, the test refuses to fill it.
const MAX_FILL_BYTES: u64 = 256 * 1024 * 1024;

/// The tests share the filesystem: one fills it at a time.
static DISK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_disk_full),
    ignore = "set KEYMINT_TEST_DISK_FULL_DIR to a small filesystem of its own (.ci/run mounts a tmpfs) to run the disk-full test"
)]
async fn sqlite_on_a_full_disk_refuses_writes_keeps_minting_and_recovers() {
    let _disk = DISK.lock().await;
    let work = work_dir();
    let dir = work.path();
    let url = format!("sqlite://{}", dir.join("keymint.db").display());
    cli(
        dir,
        &url,
        &[
            "users",
            "upsert",
            "ops",
            "--permission",
            "CreateAPIKey",
            "--permission",
            "UpdateAPIKey",
            "--permission",
            "admin",
            "--permission",
            "parts:read",
        ],
    );
    let create = [
        "keys",
        "create",
        "--user",
        "ops",
        "--env",
        "production",
        "--json",
    ];
    let admin: Value = serde_json::from_str(&cli(dir, &url, &create)).unwrap();
    let bystander: Value = serde_json::from_str(&cli(dir, &url, &create)).unwrap();
    // First used while the disk is full.
    let quiet: Value = serde_json::from_str(&cli(dir, &url, &create)).unwrap();
    let (mut server, base_url) = serve(dir, &url, &[]).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let verifier = Verifier::discover(&format!("{base_url}/production"), None)
        .await
        .unwrap();
    let (status, body) = token(&http, &base_url, &admin).await;
    assert_eq!(status, 200, "{body}");
    let bearer = body["access_token"].as_str().unwrap().to_owned();
    let (status, _) = token(&http, &base_url, &bystander).await;
    assert_eq!(status, 200);

    let filler = dir.join("filler");
    fill(&filler);
    assert!(available_bytes(dir) < 64 * 1024, "the filesystem is full");

    // Warm keys keep minting, and their tokens verify as a gateway checks them.
    for key in [&admin, &bystander, &quiet] {
        let (status, body) = token(&http, &base_url, key).await;
        assert_eq!(status, 200, "minting on a full disk: {body}");
        let minted = body["access_token"].as_str().unwrap();
        let claims = verifier.verify(minted).await.unwrap();
        assert_eq!(claims.client_id, key["clientId"].as_str().unwrap());
    }
    // Writes are refused as temporarily unavailable, whichever way they come.
    for _ in 0..3 {
        let answer = graphql(&http, &base_url, &bearer, CREATE, json!({})).await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "UNAVAILABLE",
            "{answer}"
        );
    }
    let disable = json!({"input": {"clientId": bystander["clientId"], "enabled": false}});
    let answer = graphql(&http, &base_url, &bearer, UPDATE, disable.clone()).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{answer}"
    );
    let out = Command::new(BIN)
        .args(create)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("temporarily unavailable"), "{stderr}");
    assert!(stderr.contains("disk is full"), "{stderr}");

    // Space comes back: every write succeeds again, on the same instance.
    std::fs::remove_file(&filler).unwrap();
    let mut created = Vec::new();
    for n in 0..10 {
        let answer = graphql(&http, &base_url, &bearer, CREATE, json!({})).await;
        let id = answer["data"]["createApiKey"]["apikey"]["clientId"].as_str();
        created.push(
            id.unwrap_or_else(|| panic!("write {n} after space came back: {answer}"))
                .to_owned(),
        );
    }
    let answer = graphql(&http, &base_url, &bearer, UPDATE, disable).await;
    assert_eq!(
        answer["data"]["updateApiKey"]["apikey"]["enabled"], false,
        "{answer}"
    );
    let (status, body) = token(&http, &base_url, &bystander).await;
    assert_eq!(status, 401, "a disabled key: {body}");
    // A clean stop writes the last uses noted meanwhile, the full disk's among them.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.wait().unwrap().success());
    // Nothing of the refused writes was left behind.
    let keys: Value = serde_json::from_str(&cli(
        dir,
        &url,
        &["keys", "list", "--env", "production", "--json"],
    ))
    .unwrap();
    let listed = keys.as_array().unwrap();
    assert_eq!(listed.len(), 3 + created.len(), "{keys}");
    for id in &created {
        assert!(listed.iter().any(|k| k["clientId"] == id.as_str()));
    }
    let quiet = listed
        .iter()
        .find(|k| k["clientId"] == quiet["clientId"])
        .unwrap();
    assert!(quiet["lastUsedAt"].is_string(), "{quiet}");
}

/// A first start whose keys folder is on a full disk fails with the reason and leaves no
/// half-written encryption-key file behind, so the next start, once there is space,
/// generates one. (The database is elsewhere: on a full disk it would not open at all,
/// and start-up would wait for it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_disk_full),
    ignore = "set KEYMINT_TEST_DISK_FULL_DIR to a small filesystem of its own (.ci/run mounts a tmpfs) to run the disk-full test"
)]
async fn a_first_start_on_a_full_disk_leaves_no_broken_key_file() {
    let _disk = DISK.lock().await;
    let work = work_dir();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path();
    let url = format!("sqlite://{}", dir.join("keymint.db").display());
    let keys_dir = work.path().join("keys");
    let keys = keys_dir.display().to_string();
    let vars = [("KEYMINT_KEYS_DIR", keys.as_str())];
    let filler = work.path().join("filler");
    fill(&filler);
    let mut start = Command::new(BIN);
    start
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", &url)
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .envs(vars);
    let (code, stderr) = run_to_end(start, Duration::from_secs(30)).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let key_file = keys_dir.join("encryption-keys");
    assert!(!key_file.exists(), "a key file was left behind: {stderr}");

    std::fs::remove_file(&filler).unwrap();
    let (_server, base_url) = serve(dir, &url, &vars).await;
    let ready = reqwest::get(format!("{base_url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert!(text.starts_with("ek_"), "the generated key file");
    assert_eq!(std::fs::read_dir(&keys_dir).unwrap().count(), 1);
}

/// Runs `command` to its end (killed past `limit`): its exit code and standard error.
async fn run_to_end(mut command: Command, limit: Duration) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + limit;
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// A fresh folder on the small filesystem of `KEYMINT_TEST_DISK_FULL_DIR`.
fn work_dir() -> tempfile::TempDir {
    let base = std::env::var("KEYMINT_TEST_DISK_FULL_DIR")
        .expect("KEYMINT_TEST_DISK_FULL_DIR names a small filesystem of its own");
    let free = available_bytes(Path::new(&base));
    assert!(
        free < MAX_FILL_BYTES,
        "{base} has {free} bytes free: give the test a small filesystem of its own"
    );
    tempfile::tempdir_in(&base).unwrap()
}

const CREATE: &str = "mutation { createApiKey { apikey { clientId } } }";
const UPDATE: &str = "mutation($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { clientId enabled } } }";

async fn token(http: &reqwest::Client, base: &str, key: &Value) -> (u16, Value) {
    let response = http
        .post(format!("{base}/production/oauth2/token"))
        .basic_auth(
            key["clientId"].as_str().unwrap(),
            key["clientSecret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn graphql(
    http: &reqwest::Client,
    base: &str,
    bearer: &str,
    query: &str,
    variables: Value,
) -> Value {
    let response = http
        .post(format!("{base}/production/graphql"))
        .bearer_auth(bearer)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Writes zeros to `path` until the filesystem refuses (ENOSPC): large blocks, then
/// small ones for what is left.
fn fill(path: &Path) {
    let mut file = File::create(path).unwrap();
    for size in [1 << 16, 512] {
        let block = vec![0u8; size];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
}

/// Bytes available to this user on the filesystem of `dir` (from `df`).
fn available_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df prints the available bytes")
}
