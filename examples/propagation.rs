//! Propagation benchmark: how long after a deactivation commits does the *other*
//! instance refuse the user's key? Half the deactivations go to instance A's webhook,
//! half are rows inserted into `keymint_user_events`. Run via `bench/propagation.sh`.
//!
//! `propagation A_URL B_URL DATABASE_URL WEBHOOK_SECRET [N]`

use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keymint::changes::ChangeFeed;
use keymint::clock::SystemClock;
use keymint::domain::{EnvironmentName, Permissions, UserId, UserUpsert};
use keymint::events::{WebhookSecret, sign};
use keymint::manage::{CreateKey, Management};
use keymint::secrets::SecretHasher;

struct Seeded {
    user: String,
    client_id: String,
    secret: String,
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<8} n={:<4} p50 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}",
        samples.len(),
        pick(0.5),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b, db, secret, rest @ ..] = args.as_slice() else {
        return Err("usage: propagation A_URL B_URL DATABASE_URL WEBHOOK_SECRET [N]".into());
    };
    let n: usize = rest.first().map_or(Ok(200), |s| s.parse())?;
    let secret = WebhookSecret::parse(secret).ok_or("bad webhook secret")?;

    let store = keymint::store::connect(db).await?;
    let manage = Management::new(
        store,
        Arc::new(SecretHasher::per_core()),
        Arc::new(SystemClock),
        Arc::new(ChangeFeed::default()),
    );
    let run = keymint::secrets::random_token(4);
    let mut seeded = Vec::with_capacity(n);
    for i in 0..n {
        let user = format!("bench-{run}-{i}");
        let id = UserId::parse(&user).ok_or("user id")?;
        manage
            .upsert_user(&UserUpsert {
                id: id.clone(),
                email: None,
                service_account: false,
                permissions: Permissions::parse(["runs:read"])?,
            })
            .await?;
        let created = manage
            .create_key(CreateKey {
                owner_id: id,
                environment: EnvironmentName::parse("production")?,
                permissions: None,
                name: None,
                expires_at: None,
                auth: keymint::domain::KeyAuth::Secret,
                allowed_ips: keymint::domain::AllowedIps::any(),
            })
            .await?;
        seeded.push(Seeded {
            user,
            client_id: created.key.client_id.to_string(),
            secret: created.secret.as_ref().unwrap().expose().to_owned(),
        });
    }

    let http = reqwest::Client::new();
    let mut pg = sqlx::PgConnection::connect(db).await?;
    let (mut webhook, mut table) = (Vec::new(), Vec::new());
    for (i, s) in seeded.iter().enumerate() {
        let token = || {
            http.post(format!("{b}/production/oauth2/token"))
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
        };
        assert_eq!(
            token().await?.status(),
            200,
            "key must work on B before the deactivation"
        );
        let body = format!(
            r#"{{"type":"user.deactivated","data":{{"id":"{}"}}}}"#,
            s.user
        );
        let committed = if i % 2 == 0 {
            let id = format!("msg-{run}-{i}");
            let ts = time::OffsetDateTime::now_utc().unix_timestamp();
            let response = http
                .post(format!("{a}/hooks/user-events"))
                .header("webhook-id", &id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sign(&secret, &id, ts, body.as_bytes()))
                .body(body.clone())
                .send()
                .await?;
            assert_eq!(response.status(), 200);
            // A answers only after the commit; timing from here overstates the delay.
            Instant::now()
        } else {
            sqlx::query("INSERT INTO keymint_user_events (type, data) VALUES ('user.deactivated', CAST($1 AS jsonb))")
                .bind(format!(r#"{{"id":"{}"}}"#, s.user))
                .execute(&mut pg)
                .await?;
            Instant::now()
        };
        loop {
            if token().await?.status() == 401 {
                break;
            }
            if committed.elapsed() > Duration::from_secs(10) {
                return Err(format!("{} still works on B after 10 s", s.user).into());
            }
        }
        let took = committed.elapsed();
        if i % 2 == 0 {
            webhook.push(took)
        } else {
            table.push(took)
        }
    }
    let all: Vec<Duration> = webhook.iter().chain(table.iter()).copied().collect();
    summary("webhook", webhook);
    summary("table", table);
    summary("all", all);
    Ok(())
}
