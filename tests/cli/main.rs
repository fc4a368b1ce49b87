//! The real `keymint` binary in an empty folder on the embedded defaults (SQLite file
//! `keymint.db`, keys generated in `keys/`): the README walk-through, the webhook example,
//! start-up without a database, JSON logs, HTTPS, rotating the encryption keys. This file holds what they share.

mod allowed_ips;
mod client_keys;
mod console_link;
mod encryption;
mod errors;
mod events;
mod groups;
mod https;
mod logs;
mod pipes;
mod startup;
mod walkthrough;
mod webhook_example;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keymint");

pub fn keymint(dir: &Path, args: &[&str]) -> Output {
    keymint_with(dir, args, &[])
}

/// Runs `keymint args` in `dir` with extra environment variables.
pub fn keymint_with(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "debug")
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .output()
        .expect("run keymint")
}

pub fn ok(dir: &Path, args: &[&str], logs: &Mutex<String>) -> String {
    let out = keymint(dir, args);
    logs.lock()
        .unwrap()
        .push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "keymint {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub struct Server {
    child: Child,
    base: String,
}

/// SIGTERM, then the exit status must be success (drained, flushed, exit 0).
pub fn stop_with_sigterm(server: &mut Server) {
    Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

pub fn start_server(dir: &Path, logs: Arc<Mutex<String>>) -> Server {
    start_server_with(dir, logs, &[])
}

pub fn start_server_with(dir: &Path, logs: Arc<Mutex<String>>, vars: &[(&str, &str)]) -> Server {
    start_server_until(dir, logs, vars, "keymint serving")
}

/// Starts `keymint serve` and returns once a log line containing `marker` names the address.
pub fn start_server_until(
    dir: &Path,
    logs: Arc<Mutex<String>>,
    vars: &[(&str, &str)],
    marker: &'static str,
) -> Server {
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "debug")
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keymint serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(marker) {
                // Text logs say address=IP:PORT, JSON logs "address":"IP:PORT".
                let address = line
                    .split("address=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .or_else(|| line.split("\"address\":\"").nth(1)?.split('"').next());
                if let Some(address) = address {
                    let _ = tx.send(address.to_owned());
                }
            }
            logs.lock().unwrap().push_str(&line);
            logs.lock().unwrap().push('\n');
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server announced its address");
    Server {
        child,
        base: format!("http://{address}"),
    }
}

pub fn token(
    http: &reqwest::blocking::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> reqwest::blocking::Response {
    http.post(format!("{base}/production/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
}

/// True once a token request with these credentials is refused, polled for up to 1 s.
pub fn refused_within_a_second(
    http: &reqwest::blocking::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        if token(http, base, id, secret).status() == 401 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub fn read_hash(dir: &Path, client_id: &str) -> String {
    let hash: String = sqlite_query(
        dir,
        "SELECT secret_hash FROM api_keys WHERE client_id = $1",
        client_id,
    );
    assert!(hash.starts_with("$argon2id$"));
    hash
}

/// One value from the walk-through's SQLite file.
pub fn sqlite_query<T>(dir: &Path, sql: &'static str, bind: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send + Unpin,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.join("keymint.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
}

pub fn read_revoked(dir: &Path, jti: &str) -> bool {
    sqlite_query::<i64>(
        dir,
        "SELECT COUNT(*) FROM revoked_tokens WHERE jti = $1",
        jti,
    ) == 1
}
