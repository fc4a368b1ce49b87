//! The README walk-through, run with the real `keymint` binary in an empty folder on the
//! embedded defaults (SQLite file `keymint.db`, keys generated in `keys/`), ending with a
//! sweep of every log line for the secrets, hashes and tokens the run produced.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_keymint");

fn keymint(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "debug")
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .output()
        .expect("run keymint")
}

fn ok(dir: &Path, args: &[&str], logs: &Mutex<String>) -> String {
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

struct Server {
    child: Child,
    base: String,
}

/// SIGTERM, then the exit status must be success (drained, flushed, exit 0).
fn stop_with_sigterm(server: &mut Server) {
    Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

fn start_server(dir: &Path, logs: Arc<Mutex<String>>) -> Server {
    start_server_with(dir, logs, &[])
}

fn start_server_with(dir: &Path, logs: Arc<Mutex<String>>, vars: &[(&str, &str)]) -> Server {
    start_server_until(dir, logs, vars, "keymint serving")
}

/// Starts `keymint serve` and returns once a log line containing `marker` names the address.
fn start_server_until(
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

fn token(
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
fn refused_within_a_second(
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

#[test]
fn quick_start_walkthrough_works_and_logs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let logs = Arc::new(Mutex::new(String::new()));
    let http = reqwest::blocking::Client::new();

    ok(
        dir,
        &[
            "users",
            "upsert",
            "alice",
            "--email",
            "alice@example.com",
            "--permission",
            "runs:read",
            "--permission",
            "runs:write",
        ],
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
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let fields: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "clientId",
            "clientSecret",
            "environment",
            "id",
            "permissions"
        ]
    );
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(
        created["permissions"],
        serde_json::json!(["runs:read", "runs:write"])
    );

    let escalation = keymint(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--permission",
            "admin",
        ],
    );
    assert!(!escalation.status.success());
    assert!(String::from_utf8_lossy(&escalation.stderr).contains("does not hold: admin"));

    let mut server = start_server(dir, Arc::clone(&logs));
    assert!(
        dir.join("keymint.db").exists(),
        "default database is keymint.db in the working directory"
    );
    let key_files: Vec<_> = std::fs::read_dir(dir.join("keys/production"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(key_files.len(), 1);
    assert_eq!(
        std::fs::metadata(&key_files[0])
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let response = token(&http, &server.base, &client_id, &secret);
    assert_eq!(response.status(), 200);
    let access_token = response.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Check it against the published JWKS, as the README shows.
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(format!("{}/production/.well-known/jwks.json", server.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let header = jsonwebtoken::decode_header(&access_token).unwrap();
    let kid = header.kid.clone().unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[format!("{}/production", server.base)]);
    validation.set_audience(&[format!("{}/production", server.base)]);
    let claims = jsonwebtoken::decode::<Value>(&access_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "alice");
    assert!(ok(dir, &["signing-keys", "list", "--env", "production"], &logs).contains(&kid));
    let issuer = format!("{}/production", server.base);
    let verified = ok(
        dir,
        &["tokens", "verify", "--issuer", &issuer, &access_token],
        &logs,
    );
    assert!(
        verified.contains("valid for") && verified.contains("\"sub\": \"alice\""),
        "{verified}"
    );
    let foreign = keymint(
        dir,
        &[
            "tokens",
            "verify",
            "--issuer",
            &format!("{}/sandbox", server.base),
            &access_token,
        ],
    );
    assert!(
        !foreign.status.success(),
        "a production token verified for sandbox"
    );
    assert!(String::from_utf8_lossy(&foreign.stderr).contains("NOT valid"));
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert!(
        ok(
            dir,
            &["tokens", "revoke", "--env", "production", &jti],
            &logs
        )
        .contains("revoked")
    );
    assert!(read_revoked(dir, &jti), "the CLI revocation was not stored");

    assert_eq!(
        token(&http, &server.base, &client_id, "kms_wrong").status(),
        401
    );

    let listed: Value = serde_json::from_str(&ok(
        dir,
        &["keys", "list", "--env", "production", "--json"],
        &logs,
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["clientId"], client_id);
    assert!(!listed.to_string().contains(&secret) && !listed.to_string().contains("argon2"));

    let rotated: Value = serde_json::from_str(&ok(
        dir,
        &["keys", "rotate-secret", &client_id, "--json"],
        &logs,
    ))
    .unwrap();
    let new_secret = rotated["clientSecret"].as_str().unwrap().to_owned();
    // The CLI is another process: the server learns of its changes from the change feed,
    // within a second (SQLite is polled every 100 ms).
    assert!(
        refused_within_a_second(&http, &server.base, &client_id, &secret),
        "old secret still works"
    );
    assert_eq!(
        token(&http, &server.base, &client_id, &new_secret).status(),
        200
    );

    ok(dir, &["keys", "disable", &client_id], &logs);
    assert!(refused_within_a_second(
        &http,
        &server.base,
        &client_id,
        &new_secret
    ));
    ok(dir, &["keys", "enable", &client_id], &logs);
    assert_eq!(
        token(&http, &server.base, &client_id, &new_secret).status(),
        200
    );

    let deactivated = ok(dir, &["users", "deactivate", "alice"], &logs);
    assert!(deactivated.contains("1 key(s) disabled"), "{deactivated}");
    assert!(refused_within_a_second(
        &http,
        &server.base,
        &client_id,
        &new_secret
    ));
    ok(dir, &["users", "reactivate", "alice"], &logs);
    assert_eq!(
        token(&http, &server.base, &client_id, &new_secret).status(),
        401,
        "reactivation must not re-enable keys"
    );

    let audit: Value =
        serde_json::from_str(&ok(dir, &["audit", "--env", "production", "--json"], &logs)).unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.upserted",
            "key.created",
            "key.secret_regenerated",
            "key.disabled",
            "key.enabled",
            "key.disabled",
            "user.deactivated",
            "user.reactivated"
        ]
    );
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["source"] == "cli")
    );
    assert!(
        ok(
            dir,
            &["audit", "--env", "production", "--client-id", &client_id],
            &logs
        )
        .contains("reason=owner_deactivated")
    );

    // SIGTERM: drain and exit 0.
    let started = Instant::now();
    stop_with_sigterm(&mut server);
    assert!(started.elapsed() < Duration::from_secs(10));

    let hash = read_hash(dir, &client_id);
    let logs = logs.lock().unwrap();
    assert!(
        logs.contains("token issued"),
        "the log capture is empty or incomplete"
    );
    for (what, value) in [
        ("secret", &secret),
        ("rotated secret", &new_secret),
        ("argon2 hash", &hash),
        ("access token", &access_token),
    ] {
        assert!(!logs.contains(value.as_str()), "{what} appears in the logs");
    }
    let signature = access_token.rsplit('.').next().unwrap();
    assert!(
        !logs.contains(signature),
        "token signature appears in the logs"
    );
}

fn read_hash(dir: &Path, client_id: &str) -> String {
    let hash: String = sqlite_query(
        dir,
        "SELECT secret_hash FROM api_keys WHERE client_id = $1",
        client_id,
    );
    assert!(hash.starts_with("$argon2id$"));
    hash
}

/// One value from the walk-through's SQLite file.
fn sqlite_query<T>(dir: &Path, sql: &'static str, bind: &str) -> T
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

fn read_revoked(dir: &Path, jti: &str) -> bool {
    sqlite_query::<i64>(
        dir,
        "SELECT COUNT(*) FROM revoked_tokens WHERE jti = $1",
        jti,
    ) == 1
}

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
fn json_logs_carry_the_request_id() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let mut server = start_server_with(
        tmp.path(),
        Arc::clone(&logs),
        &[("KEYMINT_LOG_FORMAT", "json")],
    );
    let http = reqwest::blocking::Client::new();
    let response = http
        .post(format!("{}/production/oauth2/token", server.base))
        .header("x-request-id", "trace-4711")
        .basic_auth("kmc_nobody", Some("kms_nothing"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-request-id"], "trace-4711");
    // A caller's id that could forge log lines is replaced by a fresh one.
    let response = http
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "a\"b")
        .send()
        .unwrap();
    let fresh = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(fresh.starts_with("req_"), "{fresh}");

    stop_with_sigterm(&mut server);
    let logs = logs.lock().unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let refusal = lines
        .iter()
        .find(|l| l["fields"]["message"] == "client authentication refused")
        .expect("the refusal is logged");
    assert_eq!(refusal["span"]["request_id"], "trace-4711", "{refusal}");
    assert_eq!(refusal["span"]["path"], "/production/oauth2/token");
}

/// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI.
fn self_signed(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A leaf, not a CA: clients refuse a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command makes the test certificates (apt install openssl)");
    assert!(status.success());
    (cert, key)
}

/// A client that trusts only `cert`, opening a new connection per request.
fn trusting(cert: &Path) -> reqwest::blocking::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

#[test]
fn https_is_served_and_a_renewed_certificate_is_picked_up_without_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (old_cert, old_key) = self_signed(dir, "old");
    let (new_cert, new_key) = self_signed(dir, "new");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::copy(&old_cert, &cert).unwrap();
    std::fs::copy(&old_key, &key).unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let cert_var = cert.display().to_string();
    let key_var = key.display().to_string();
    let mut server = start_server_with(
        dir,
        Arc::clone(&logs),
        &[
            ("KEYMINT_TLS_CERT", &cert_var),
            ("KEYMINT_TLS_KEY", &key_var),
        ],
    );
    let base = server.base.replace("http://", "https://");
    let metadata = |client: &reqwest::blocking::Client| {
        client
            .get(format!(
                "{base}/production/.well-known/oauth-authorization-server"
            ))
            .send()
    };

    let served: Value = metadata(&trusting(&old_cert)).unwrap().json().unwrap();
    assert!(
        served["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{served}"
    );
    assert!(
        metadata(&trusting(&new_cert)).is_err(),
        "the new certificate is not out yet"
    );
    // Plain HTTP on the TLS port gets nowhere.
    assert!(reqwest::blocking::get(format!("{}/healthz", server.base)).is_err());

    // Renewal: the key first, then the certificate (a half-renewed pair is not loaded).
    std::fs::copy(&new_key, &key).unwrap();
    std::fs::copy(&new_cert, &cert).unwrap();
    let started = Instant::now();
    while metadata(&trusting(&new_cert)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the renewed certificate was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        metadata(&trusting(&old_cert)).is_err(),
        "the old certificate is gone"
    );
    assert!(logs.lock().unwrap().contains("TLS certificate reloaded"));

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
