//! `kill -9` during a mixed write load (key creation and updates through GraphQL, user
//! upserts and deactivations through the webhook) on both backends: every acknowledged
//! change is in the database afterwards, nothing is half-written, and the instance starts
//! again on the same database.

#[path = "support/mod.rs"]
mod support;

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keymint::domain::{ClientId, EnvironmentName, UserId};
use keymint::events::{WebhookSecret, sign};
use keymint::store::{AuditQuery, KeyQuery, Store};
use support::TestDb;
use support::binary::{cli, serve};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OWNERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_loses_no_acknowledged_change() {
    kill_9_under_load(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_pg),
    ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
)]
async fn postgres_kill_9_loses_no_acknowledged_change() {
    kill_9_under_load(TestDb::postgres().await).await;
}

/// What the server acknowledged.
#[derive(Default)]
struct Acked {
    created: Vec<(String, String)>,
    disabled: Vec<String>,
    upserted: Vec<String>,
    deactivated: Vec<String>,
}

async fn graphql(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Option<Value> {
    let response = http
        .post(format!("{base}/production/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body.get("errors").is_none().then_some(body["data"].clone())
}

async fn webhook(http: &reqwest::Client, base: &str, id: &str, body: Value) -> bool {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let body = body.to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let response = http
        .post(format!("{base}/hooks/user-events"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sign(&secret, id, now, body.as_bytes()))
        .body(body)
        .send()
        .await;
    matches!(response, Ok(r) if r.status().is_success())
}

async fn kill_9_under_load(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    let mut seeds = Vec::new();
    for i in 0..OWNERS {
        let user = format!("owner{i}");
        cli(
            dir.path(),
            &url,
            &[
                "users",
                "upsert",
                &user,
                "--permission",
                "CreateAPIKey",
                "--permission",
                "UpdateAPIKey",
                "--permission",
                "runs:read",
            ],
        );
        let key: Value = serde_json::from_str(&cli(
            dir.path(),
            &url,
            &[
                "keys",
                "create",
                "--user",
                &user,
                "--env",
                "production",
                "--json",
            ],
        ))
        .unwrap();
        seeds.push((
            user,
            key["clientId"].as_str().unwrap().to_owned(),
            key["clientSecret"].as_str().unwrap().to_owned(),
        ));
    }
    let (mut server, base) = serve(dir.path(), &url, &[("KEYMINT_WEBHOOK_SECRET", SECRET)]).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut tokens = Vec::new();
    for (_, id, secret) in &seeds {
        let body: Value = http
            .post(format!("{base}/production/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }

    let acked = Arc::new(Mutex::new(Acked::default()));
    let running = Arc::new(AtomicBool::new(true));
    let mut workers = Vec::new();
    // Key writers: create, and disable every other key created.
    for (i, token) in tokens.iter().enumerate() {
        let (http, base, token, acked, running) = (
            http.clone(),
            base.clone(),
            token.clone(),
            Arc::clone(&acked),
            Arc::clone(&running),
        );
        let owner = seeds[i].0.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                let created = graphql(&http, &base, &token, "mutation CreateAPIKey { createApiKey { apikey { clientId clientSecret } } }", json!({})).await;
                let Some(data) = created else { continue };
                let client_id = data["createApiKey"]["apikey"]["clientId"].as_str().unwrap().to_owned();
                acked.lock().unwrap().created.push((owner.clone(), client_id.clone()));
                n += 1;
                if n % 2 == 0 {
                    let update = "mutation UpdateAPIKey($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { clientId clientSecret enabled } } }";
                    if let Some(data) = graphql(&http, &base, &token, update, json!({"input": {"clientId": client_id, "enabled": false}})).await {
                        assert_eq!(data["updateApiKey"]["apikey"]["enabled"], false);
                        acked.lock().unwrap().disabled.push(client_id);
                    }
                }
            }
        }));
    }
    // Directory events: new users, and deactivations of half the owners mid-load.
    {
        let (http, base, acked, running) = (
            http.clone(),
            base.clone(),
            Arc::clone(&acked),
            Arc::clone(&running),
        );
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                let user = format!("newcomer{n}");
                let event = json!({"type": "user.upserted", "data": {"id": user, "email": format!("{user}@example.com"), "serviceAccount": false, "permissions": ["runs:read"]}});
                if webhook(&http, &base, &format!("msg_up_{n}"), event).await {
                    acked.lock().unwrap().upserted.push(user);
                }
                if n % 5 == 4 && n / 5 < OWNERS / 2 {
                    let user = format!("owner{}", n / 5);
                    let event = json!({"type": "user.deactivated", "data": {"id": user}});
                    if webhook(&http, &base, &format!("msg_down_{n}"), event).await {
                        acked.lock().unwrap().deactivated.push(user);
                    }
                }
                n += 1;
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.kill().unwrap(); // SIGKILL: no drain, no flush, no goodbye
    server.wait().unwrap();
    running.store(false, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.created.len() >= 10,
        "too little load to prove anything: {} keys",
        acked.created.len()
    );
    assert!(
        !acked.disabled.is_empty() && !acked.upserted.is_empty() && !acked.deactivated.is_empty(),
        "every kind of write was acknowledged at least once"
    );
    eprintln!(
        "acknowledged before kill -9: {} keys created, {} disabled, {} users upserted, {} deactivated",
        acked.created.len(),
        acked.disabled.len(),
        acked.upserted.len(),
        acked.deactivated.len()
    );

    let store = db.store().await;
    for (owner, client_id) in &acked.created {
        let key = store
            .get_key(&ClientId::new(client_id.clone()))
            .await
            .unwrap_or_else(|e| panic!("acknowledged key {client_id} lost: {e}"));
        assert_eq!(key.owner_id.as_str(), owner);
    }
    for client_id in &acked.disabled {
        let key = store
            .get_key(&ClientId::new(client_id.clone()))
            .await
            .unwrap();
        assert!(!key.enabled, "acknowledged disable of {client_id} lost");
    }
    for user in &acked.upserted {
        store
            .get_user(&UserId::parse(user).unwrap())
            .await
            .unwrap_or_else(|e| panic!("acknowledged upsert of {user} lost: {e}"));
    }
    for user in &acked.deactivated {
        assert!(
            !store
                .get_user(&UserId::parse(user).unwrap())
                .await
                .unwrap()
                .active,
            "acknowledged deactivation of {user} lost"
        );
    }
    assert_consistent(store.as_ref()).await;

    // The same database serves again, and a surviving key mints.
    let (mut server, base) = serve(dir.path(), &url, &[("KEYMINT_WEBHOOK_SECRET", SECRET)]).await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let (_, id, secret) = &seeds[OWNERS - 1];
    let minted = http
        .post(format!("{base}/production/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 200);
    server.kill().unwrap();
    server.wait().unwrap();
}

/// No half-written state: every key has its creation audit entry (same transaction), and
/// no key of an inactive owner is enabled (deactivation is one transaction).
async fn assert_consistent(store: &dyn Store) {
    let query = KeyQuery {
        environment: EnvironmentName::parse("production").unwrap(),
        owner: None,
        after: None,
        limit: 10_000,
    };
    let keys = store.list_keys(&query).await.unwrap().entries;
    let mut audited = std::collections::HashSet::new();
    let mut after = None;
    loop {
        let (entries, more) = store
            .list_audit(&AuditQuery {
                after,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        for e in &entries {
            if e.action == "key.created" {
                audited.insert(e.client_id.clone().unwrap());
            }
        }
        after = entries.last().map(|e| e.seq);
        if !more {
            break;
        }
    }
    for (_, key) in &keys {
        assert!(
            audited.contains(key.client_id.as_str()),
            "key {} has no creation audit entry",
            key.client_id
        );
        let owner = store.get_user(&key.owner_id).await.unwrap();
        assert!(
            owner.active || !key.enabled,
            "key {} is enabled but its owner {} is inactive",
            key.client_id,
            key.owner_id
        );
    }
}
