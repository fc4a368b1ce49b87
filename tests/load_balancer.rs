//! The balancer of `docker-compose.yml`, for real: Debian's HAProxy running
//! `deploy/haproxy.cfg` (only its addresses rewritten to this machine) in front of two
//! Keymint instances on one PostgreSQL database, each with its own empty folder. Tokens
//! from either verify through the balancer's JWKS; a key disabled through one instance is
//! refused through the balancer within a second. `.ci/run` installs HAProxy and enables
//! this with the gateway test (KEYMINT_TEST_GATEWAY=1, plus the PostgreSQL suite).

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use jsonwebtoken::jwk::JwkSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::{Backend, Key, TestApp};

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `deploy/haproxy.cfg` with the compose service addresses replaced by real ones.
fn config(listen: u16, replicas: [&str; 2]) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg");
    let original = std::fs::read_to_string(path).unwrap();
    let mut config = original.clone();
    for (from, to) in [
        ("bind :8080", format!("bind 127.0.0.1:{listen}")),
        ("keymint-1:8080", replicas[0].to_owned()),
        ("keymint-2:8080", replicas[1].to_owned()),
    ] {
        assert!(config.contains(from), "{path} no longer has {from:?}");
        config = config.replace(from, &to);
    }
    config
}

/// Tokens answered by `app` so far (every outcome).
async fn token_requests(app: &TestApp) -> f64 {
    app.metrics_text()
        .await
        .lines()
        .filter(|l| l.starts_with("keymint_token_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn token_status(http: &reqwest::Client, balancer: &str, key: &Key) -> (u16, String) {
    let response = http
        .post(format!("{balancer}/production/oauth2/token"))
        .basic_auth(&key.client_id, Some(&key.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["access_token"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(all(keymint_gateway, keymint_pg)),
    ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_POSTGRES_URL (.ci/run installs HAProxy)"
)]
async fn two_replicas_behind_haproxy_are_one_issuer() {
    let port = free_port();
    let balancer = format!("http://127.0.0.1:{port}");
    let db = Backend::Postgres.db().await;
    let vars = [("KEYMINT_PUBLIC_URL", balancer.as_str())];
    let a = TestApp::spawn_on(&db.url, &vars).await;
    let b = TestApp::spawn_on(&db.url, &vars).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("haproxy.cfg");
    let replicas = [
        a.base.trim_start_matches("http://"),
        b.base.trim_start_matches("http://"),
    ];
    std::fs::write(&cfg, config(port, replicas)).unwrap();
    let _haproxy = Haproxy(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy is installed (apt-get install haproxy)"),
    );
    let http = reqwest::Client::new();
    let up = TestApp::eventually(Duration::from_secs(10), || async {
        let ready = http.get(format!("{balancer}/readyz")).send().await;
        ready.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(up.is_some(), "the balancer did not come up");

    a.user("alice", &["runs:read"]).await;
    let key = a.key("alice", "production").await;
    let (before_a, before_b) = (token_requests(&a).await, token_requests(&b).await);
    let issuer = format!("{balancer}/production");
    // Round robin over both replicas once their health checks pass.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut served_a, mut served_b) = (0.0, 0.0);
    while (served_a < 1.0 || served_b < 1.0) && Instant::now() < deadline {
        let (status, token) = token_status(&http, &balancer, &key).await;
        assert_eq!(status, 200);
        // A gateway configured with the balancer's URL, fetching the JWKS through it:
        // twice, so that each token meets the JWKS of both replicas (and, three requests
        // per round, the next token goes to the other replica).
        for _ in 0..2 {
            let jwks: JwkSet = http
                .get(format!("{issuer}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let claims = gateway::check(&jwks, &issuer, &issuer, "production", &token).unwrap();
            assert_eq!(claims["sub"], "alice");
        }
        served_a = token_requests(&a).await - before_a;
        served_b = token_requests(&b).await - before_b;
    }
    assert!(
        served_a >= 1.0 && served_b >= 1.0,
        "both replicas served tokens ({served_a}, {served_b})"
    );

    // Disabled through instance A; refused through the balancer (so by B too) within a second.
    a.disable(&key).await;
    let started = Instant::now();
    loop {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(token_status(&http, &balancer, &key).await.0);
        }
        if statuses.iter().all(|s| *s == 401) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still issued through the balancer: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
