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
    assert!(took < Duration::from_secs(11), "answered after {took:?}");
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
