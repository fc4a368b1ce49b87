//! Unknown client ids must look like wrong secrets in timing, without costing argon2 CPU.
//! This is a behaviour check (relative, with wide margins), not a speed target; it runs
//! alone in its own test binary so other tests' CPU use does not blur it.

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;

use std::time::{Duration, Instant};

use app::{Backend, Key, TestApp};

/// CPU time (user + system) this process has used, from /proc/self/stat.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // Fields 14 and 15 of stat(5); after the comm they are at indexes 11 and 12.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux.
}

/// `n` failing token requests, each with a secret never tried before and from an address
/// of its own (127.0.0.`first`, ...), so that neither known-bad memory nor brute-force
/// locks answer in place of a verification.
async fn probe(app: &TestApp, key: &Key, n: usize, first: u8) -> (Duration, Duration) {
    // Clients are built before measuring: building one costs CPU of its own.
    let clients: Vec<(u8, reqwest::Client)> = (0..n)
        .map(|i| {
            let last = first + u8::try_from(i).unwrap();
            let client = reqwest::Client::builder()
                .local_address(std::net::IpAddr::from([127, 0, 0, last]))
                .build()
                .unwrap();
            (last, client)
        })
        .collect();
    let cpu = process_cpu();
    let mut times = Vec::new();
    for (last, from) in clients {
        let started = Instant::now();
        let status = from
            .post(app.url("/production/oauth2/token"))
            .basic_auth(&key.client_id, Some(format!("{}{last}", key.secret)))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status();
        times.push(started.elapsed());
        assert_eq!(status, 401);
    }
    times.sort();
    (times[n / 2], process_cpu() - cpu)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_ids_take_a_verification_time_but_no_argon2_cpu() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("alice", &["a"]).await;
    let key = app.key("alice", "production").await;
    let wrong_secret = Key {
        secret: "kms_wrong".into(),
        ..key.clone()
    };
    let unknown_id = Key {
        client_id: "kmc_unknownunknownunknow".into(),
        ..key
    };

    probe(&app, &wrong_secret, 3, 10).await; // warm up
    let (wrong_median, wrong_cpu) = probe(&app, &wrong_secret, 15, 20).await;
    let (unknown_median, unknown_cpu) = probe(&app, &unknown_id, 15, 40).await;

    eprintln!(
        "wrong secret: median {wrong_median:?}, cpu {wrong_cpu:?}; unknown id: median {unknown_median:?}, cpu {unknown_cpu:?}"
    );
    let ratio = unknown_median.as_secs_f64() / wrong_median.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown id median {unknown_median:?} vs wrong secret median {wrong_median:?}: distinguishable"
    );
    assert!(
        unknown_cpu * 3 < wrong_cpu,
        "probing unknown ids used {unknown_cpu:?} CPU against {wrong_cpu:?} for wrong secrets"
    );
}
