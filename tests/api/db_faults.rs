//! The database lost while serving, through a TCP proxy in front of the real PostgreSQL:
//! token requests answer 503 `temporarily_unavailable` with `Retry-After` in bounded time
//! (never a 500, never a hang), `/readyz` says why, and service resumes by itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::app::TestApp;
use crate::support::TestDb;
use crate::support::proxy::{CuttableProxy, via};

fn upstream(url: &str) -> SocketAddr {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    host_port
        .parse()
        .expect("KEYMINT_TEST_POSTGRES_URL names host:port as an IP address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_pg),
    ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
)]
async fn losing_the_database_gives_503s_and_service_resumes_by_itself() {
    let db = TestDb::postgres().await;
    let proxy = CuttableProxy::start(upstream(&db.url)).await;
    let app = TestApp::spawn_on(&via(&db.url, proxy.address), &[]).await;
    app.user("alice", &["runs:read", "IntrospectToken"]).await;
    let warm = app.key("alice", "production").await;
    let cold = app.key("alice", "production").await;
    let token = app.mint("production", &warm).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    proxy.cut();
    let started = Instant::now();
    let response = app
        .token_basic("production", &cold, &[("grant_type", "client_credentials")])
        .await;
    let took = started.elapsed();
    assert_eq!(
        response.status(),
        503,
        "a cold token request without a database"
    );
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert!(
        ready["problems"]
            .to_string()
            .contains("database unreachable"),
        "{ready}"
    );
    // A client whose secret was verified moments ago keeps getting tokens: the warm path
    // needs no database.
    assert_eq!(app.token_status("production", &warm).await, 200);
    // Introspection cannot know whether the token is still good: 503, never "inactive".
    let introspection = app
        .http
        .post(app.url("/production/oauth2/introspect"))
        .basic_auth(&warm.client_id, Some(&warm.secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(introspection.status(), 503);
    assert!(introspection.headers().contains_key("retry-after"));
    // Management calls say "unavailable", not "unauthenticated".
    let gql = app
        .http
        .post(app.url("/production/graphql"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"query": "{ apiKeys(first: 5) { totalCount } }"}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = gql.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{body}"
    );

    proxy.restore();
    let resumed = TestApp::eventually(Duration::from_secs(15), || async {
        app.token_status("production", &cold).await == 200
    })
    .await;
    assert!(
        resumed.is_some(),
        "service did not resume when the database came back"
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// Two instances on one database; B's link goes dark (connections open, nothing
/// forwarded: a partition as B sees it) and a key is disabled at A. B trusts what it holds
/// in memory for at most `KEYMINT_MAX_STALENESS` (2 s here): then the key is refused at B
/// (503: B cannot reach the database to learn more), its token is no longer `active`,
/// every answer comes within 5 s, and `/readyz` says why. When the link returns, B
/// applies what it missed before trusting its caches again: the key is 401, others 200.
/// Its status list answers 503 past the bound and shows the disable once back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(keymint_pg),
    ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
)]
async fn a_cut_off_instance_stops_trusting_its_memory_within_the_bound() {
    let a = TestApp::spawn(crate::app::Backend::Postgres).await;
    let relay = CuttableProxy::start(upstream(&a.db_url)).await;
    let b = a
        .spawn_peer_via(
            &via(&a.db_url, relay.address),
            &[("KEYMINT_MAX_STALENESS", "2")],
        )
        .await;
    a.user("alice", &["runs:read"]).await;
    a.user("gateway", &["IntrospectToken"]).await;
    let doomed = a.key("alice", "production").await;
    let kept = a.key("alice", "production").await;
    let gateway = a.key("gateway", "production").await;
    let doomed_token = b.access_token("production", &doomed).await;
    // B holds all three keys' verifications and the doomed token's introspection.
    for key in [&doomed, &kept, &gateway] {
        assert_eq!(b.token_status("production", key).await, 200);
    }
    let introspect = |token: String| {
        let (b, gateway) = (&b, &gateway);
        async move {
            let started = Instant::now();
            let response = b
                .http
                .post(b.url("/production/oauth2/introspect"))
                .basic_auth(&gateway.client_id, Some(&gateway.secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap();
            let took = started.elapsed();
            assert!(took < Duration::from_secs(5), "introspection took {took:?}");
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    for _ in 0..2 {
        let (status, body) = introspect(doomed_token.clone()).await;
        assert_eq!((status, &body["active"]), (200, &serde_json::json!(true)));
    }
    b.settle().await;
    // B serves the status list from what it holds; the doomed token's bit is 0.
    let doomed_claims = a.verify("production", &doomed_token).await.unwrap();
    assert!(!crate::status_list::bit(&b, "production", &doomed_claims).await);

    relay.darken();
    a.disable(&doomed).await;
    let disabled_at = Instant::now();
    // B answers from memory until the bound, then stops: the doomed key's requests go
    // to the database, which B cannot reach.
    let (refused, sent) = loop {
        let started = Instant::now();
        let response = b
            .token_basic(
                "production",
                &doomed,
                &[("grant_type", "client_credentials")],
            )
            .await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "a token answer took {took:?}"
        );
        if response.status() != 200 {
            break (response, started - disabled_at);
        }
        assert!(
            disabled_at.elapsed() < Duration::from_secs(4),
            "B kept minting for a disabled key {:?} after the change, past its 2 s bound",
            disabled_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let answered = disabled_at.elapsed();
    assert_eq!(refused.status(), 503, "B cannot reach the database");
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    eprintln!(
        "disable at A -> first request the cut-off B refuses: sent after {sent:?}, answered after {answered:?}"
    );
    // The doomed key's token is no longer answered active (B cannot check it: 503).
    let (status, body) = introspect(doomed_token.clone()).await;
    assert_eq!(status, 503, "{body}");
    let started = Instant::now();
    let ready = b.http.get(b.url("/readyz")).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert!(
        ready["problems"]
            .to_string()
            .contains("change feed not confirmed"),
        "{ready}"
    );
    let staleness = b.metric("keymint_feed_staleness_seconds").await;
    assert!(staleness > 2.0, "staleness gauge {staleness}");
    assert_eq!(b.metric("keymint_feed_trusted").await, 0.0);
    // Its status list too stops being served from memory: 503, readers keep their copy
    // until their own bound (and then fail closed).
    let started = Instant::now();
    let list = b
        .http
        .get(b.url("/production/statuslists/1"))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(list.status(), 503);
    assert!(list.headers().contains_key("retry-after"));

    relay.restore();
    let caught_up = TestApp::eventually(Duration::from_secs(15), || async {
        b.token_status("production", &doomed).await == 401
    })
    .await;
    assert!(
        caught_up.is_some(),
        "B did not learn of the disable when the link returned"
    );
    assert_eq!(b.token_status("production", &kept).await, 200);
    let listed = TestApp::eventually(Duration::from_secs(5), || async {
        b.http
            .get(b.url("/production/statuslists/1"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    assert!(listed.is_some(), "B's status list did not come back");
    assert!(crate::status_list::bit(&b, "production", &doomed_claims).await);
    let (status, body) = introspect(doomed_token).await;
    assert_eq!(
        (status, &body),
        (200, &serde_json::json!({"active": false}))
    );
    let trusted = TestApp::eventually(Duration::from_secs(5), || async {
        b.metric("keymint_feed_trusted").await == 1.0
    })
    .await;
    assert!(trusted.is_some(), "B does not trust its memory again");
    let ready = b.http.get(b.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
