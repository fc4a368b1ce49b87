//! Slow and idle connections: a client dripping its headers, or holding a keep-alive
//! connection idle, is closed after `KEYMINT_HEADER_TIMEOUT`; honest clients are served
//! meanwhile. The server loop does not depend on the store, so SQLite alone suffices.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::{Backend, TestApp};

/// Holds a connection that sends a request line and then one header byte every 100 ms;
/// returns how long until the server closed it (`None`: still open after `give_up`).
async fn drip(addr: String, give_up: Duration) -> Option<Duration> {
    let mut stream = TcpStream::connect(&addr).await.ok()?;
    let started = Instant::now();
    stream
        .write_all(b"POST /production/oauth2/token HTTP/1.1\r\nHost: keymint\r\nX-Slow: ")
        .await
        .ok()?;
    let mut buf = [0u8; 512];
    while started.elapsed() < give_up {
        if stream.write_all(b"a").await.is_err() {
            return Some(started.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            // A 408 or similar answer before closing is fine too.
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_while_honest_clients_are_served() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KEYMINT_HEADER_TIMEOUT", "1")]).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    let slow: Vec<_> = (0..1_000)
        .map(|_| tokio::spawn(drip(addr.clone(), Duration::from_secs(8))))
        .collect();
    // Honest clients while the slow ones hold their sockets.
    let mut served = 0;
    for _ in 0..200 {
        if app.token_status("production", &key).await == 200 {
            served += 1;
        }
    }
    assert!(
        served >= 198,
        "only {served} of 200 honest requests were served"
    );
    let mut closed = 0;
    for handle in slow {
        if handle.await.unwrap().is_some() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 1_000,
        "slow connections left open past the header timeout"
    );

    // A keep-alive connection left idle after a complete request is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: keymint\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "an idle keep-alive connection stayed open");
}

/// HTTP/2 without TLS (h2c, prior knowledge): connections that made one request and then
/// sit idle, answering the server's pings as every HTTP/2 client does, are closed after
/// `KEYMINT_HEADER_TIMEOUT` like idle HTTP/1 ones, so more of them than
/// `KEYMINT_MAX_CONNECTIONS` cannot lock honest clients out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_closed_and_cannot_hold_every_slot() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("KEYMINT_HEADER_TIMEOUT", "1"),
            ("KEYMINT_MAX_CONNECTIONS", "8"),
        ],
    )
    .await;
    let h2c = || {
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .http2_keep_alive_interval(Duration::from_millis(200))
            .http2_keep_alive_while_idle(true)
            .pool_idle_timeout(None)
            .build()
            .unwrap()
    };
    // Twelve clients, each keeping its own connection: eight take every slot, four wait
    // in the accept queue until idle ones are closed.
    let idle: Vec<_> = (0..12)
        .map(|_| {
            let (client, url) = (h2c(), app.url("/healthz"));
            tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                assert_eq!(response.version(), reqwest::Version::HTTP_2);
                assert_eq!(response.status(), 200);
                client // kept alive, idle
            })
        })
        .collect();
    let started = Instant::now();
    let mut clients = Vec::new();
    for handle in idle {
        let client = tokio::time::timeout(Duration::from_secs(10), handle)
            .await
            .expect("an h2c client waited past the idle limit for a slot")
            .unwrap();
        clients.push(client);
    }
    // An honest client after them is served.
    let honest = tokio::time::timeout(
        Duration::from_secs(10),
        h2c().get(app.url("/healthz")).send(),
    )
    .await
    .expect("an honest client was locked out by idle HTTP/2 connections")
    .unwrap();
    assert_eq!(honest.status(), 200);
    eprintln!(
        "12 idle h2c clients and an honest one served in {:?}",
        started.elapsed()
    );
    drop(clients);
}
