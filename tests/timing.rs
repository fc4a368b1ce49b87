//! Every `invalid_client` takes the same path: unknown client ids, wrong secrets and the
//! right secret of a disabled key must not be told apart by timing, and none of them may
//! cost argon2. This is a behaviour check (relative, with wide margins), not a speed
//! target; it runs alone in its own test binary so other tests' CPU use does not blur it.

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use std::time::{Duration, Instant};

use app::{Backend, Key, TestApp};

/// `n` rounds of refused token requests, one per key in `keys` per round, interleaved so
/// that the machine's drift (a checkpoint, another process) falls on every kind alike.
/// Each request comes from an address of its own (127.0.0.`first`, ...) so no
/// brute-force back-off answers in place of the check. Returns each key's median time.
async fn probe(app: &TestApp, keys: &[&Key], n: usize, first: u8) -> Vec<Duration> {
    // Clients are built before measuring: building one costs time of its own.
    let clients: Vec<reqwest::Client> = (0..n * keys.len())
        .map(|i| {
            let last = first + u8::try_from(i).unwrap();
            reqwest::Client::builder()
                .local_address(std::net::IpAddr::from([127, 0, 0, last]))
                .build()
                .unwrap()
        })
        .collect();
    let mut times = vec![Vec::new(); keys.len()];
    for (i, from) in clients.into_iter().enumerate() {
        let (kind, key) = (i % keys.len(), keys[i % keys.len()]);
        let started = Instant::now();
        let status = from
            .post(app.url("/production/oauth2/token"))
            .basic_auth(&key.client_id, Some(&key.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status();
        times[kind].push(started.elapsed());
        assert_eq!(status, 401);
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_takes_the_same_fast_path_without_argon2() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("alice", &["a"]).await;
    let key = app.key("alice", "production").await;
    let disabled = app.key("alice", "production").await;
    app.disable(&disabled).await;
    let wrong_secret = Key {
        secret: format!("{}x", key.secret),
        ..key.clone()
    };
    let unknown_id = Key {
        client_id: "kmc_unknownunknownunknow".into(),
        ..key
    };

    let jobs_before = app.metric("keymint_argon2_jobs_total").await;
    probe(&app, &[&wrong_secret, &unknown_id, &disabled], 1, 10).await; // warm up
    let medians = probe(&app, &[&wrong_secret, &unknown_id, &disabled], 15, 20).await;
    let (wrong, unknown, off) = (medians[0], medians[1], medians[2]);
    eprintln!("medians: wrong secret {wrong:?}, unknown id {unknown:?}, disabled key {off:?}");
    assert_eq!(
        app.metric("keymint_argon2_jobs_total").await,
        jobs_before,
        "a refusal ran argon2"
    );
    for (what, median) in [("unknown id", unknown), ("disabled key", off)] {
        let ratio = median.as_secs_f64() / wrong.as_secs_f64();
        assert!(
            (0.5..2.0).contains(&ratio),
            "{what} median {median:?} vs wrong secret median {wrong:?}: distinguishable"
        );
    }
}
