//! Helpers for `bench/tokens.sh` (not part of Keymint):
//!
//! - `seed DATABASE_URL N [FROM]` — creates user `bench` and N keys `kmc_bench{FROM+1:08}`...
//!   sharing one secret (cloned from one real key in SQL, so seeding a million keys does
//!   not take a million argon2 hashes); prints the secret.
//! - `seed DATABASE_URL N FROM cheap` — the same, but the shared secret's stored hash uses
//!   the smallest argon2id parameters (8 KiB, one pass), so warming 100,000 keys takes
//!   seconds: for measuring what the cache holds per key, never the hashing cost.
//!   With `SEED_ALLOWED_IPS=CIDR,CIDR...`, every key gets that IP allow-list.
//! - `warm BASE_URL SECRET N [FROM]` — one token request per key `FROM+1..=FROM+N`
//!   (fills the cache).
//! - `ceiling SECONDS` — argon2id verifications per second on all cores.
//! - `flood BASE_URL RATE SECONDS [distributed]` — wrong-secret requests at RATE per
//!   second, each guess new; prints answers by status and the slowest answer. From one
//!   `X-Forwarded-For` address, or with `distributed` from a new one per request (a
//!   botnet); the header is believed because the tool connects from loopback, which
//!   `KEYMINT_TRUSTED_PROXIES` trusts by default.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keymint::changes::ChangeFeed;
use keymint::clock::SystemClock;
use keymint::domain::{EnvironmentName, Permissions, UserId, UserUpsert};
use keymint::manage::{CreateKey, Management};
use keymint::secrets::{SecretHasher, new_client_secret};
use sqlx::Connection;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", url, n] => seed(url, n.parse()?, 0, false).await,
        ["seed", url, n, from] => seed(url, n.parse()?, from.parse()?, false).await,
        ["seed", url, n, from, "cheap"] => seed(url, n.parse()?, from.parse()?, true).await,
        ["warm", base, secret, n] => warm(base, secret, n.parse()?, 0).await,
        ["warm", base, secret, n, from] => warm(base, secret, n.parse()?, from.parse()?).await,
        ["ceiling", secs] => ceiling(secs.parse()?).await,
        ["flood", base, rate, secs] => flood(base, rate.parse()?, secs.parse()?, false).await,
        ["flood", base, rate, secs, "distributed"] => {
            flood(base, rate.parse()?, secs.parse()?, true).await
        }
        _ => Err("usage: bench_tool seed|warm|ceiling|flood ...".into()),
    }
}

fn client_id(i: u64) -> String {
    format!("kmc_bench{i:08}")
}

async fn seed(url: &str, n: u64, from: u64, cheap: bool) -> Result<(), Error> {
    let store = keymint::store::connect(url).await?;
    store.migrate().await?;
    let manage = Management::new(
        store,
        Arc::new(SecretHasher::per_core()),
        Arc::new(SystemClock),
        Arc::new(ChangeFeed::default()),
    );
    // Extra keys belong to another user, so seeding them does not touch (and invalidate
    // the cached entries of) the keys already being measured.
    let owner = if from == 0 {
        "bench".to_owned()
    } else {
        format!("bench-from-{from}")
    };
    let user = UserId::parse(&owner).ok_or("id")?;
    manage
        .upsert_user(&UserUpsert {
            id: user.clone(),
            email: None,
            service_account: true,
            permissions: Permissions::parse(["runs:read"])?,
        })
        .await?;
    let template = manage
        .create_key(CreateKey {
            owner_id: user,
            environment: EnvironmentName::parse("production")?,
            permissions: None,
            name: None,
            expires_at: None,
            auth: keymint::domain::KeyAuth::Secret,
            allowed_ips: keymint::domain::AllowedIps::any(),
        })
        .await?;
    // The shared secret's hash, re-made with the smallest argon2id parameters.
    let cheap_hash = if cheap {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(8, 1, 1, None)?;
        let argon2 =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"keymint-bench-cheap")?;
        let phc = argon2
            .hash_password(template.secret.as_ref().unwrap().expose().as_bytes(), &salt)
            .map_err(|e| e.to_string())?;
        Some(phc.to_string())
    } else {
        None
    };
    const CHEAPEN: &str = "UPDATE api_keys SET secret_hash = $1 WHERE client_id = $2";
    const ALLOW: &str = "UPDATE api_keys SET allowed_ips = $1";
    let allowed = match std::env::var("SEED_ALLOWED_IPS") {
        Ok(list) => {
            let nets: Vec<&str> = list.split(',').collect();
            keymint::domain::AllowedIps::parse(&nets)?.to_stored()
        }
        Err(_) => None,
    };
    let columns = "id, client_id, secret_hash, secret_check, environment, owner_id, permissions, enabled, etag, created_at, updated_at, status_index";
    // Seeded keys take the next status indexes of the environment, as created ones would.
    const STATUS: &str = "(SELECT next_index FROM status_list_counters c WHERE c.environment = api_keys.environment) - 1";
    const RESERVE: &str = "UPDATE status_list_counters SET next_index = next_index + $1 WHERE environment = (SELECT environment FROM api_keys WHERE client_id = $2)";
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        if let Some(hash) = &cheap_hash {
            sqlx::query(CHEAPEN)
                .bind(hash)
                .bind(template.key.client_id.as_str())
                .execute(&mut conn)
                .await?;
        }
        let sql = format!(
            "INSERT INTO api_keys ({columns}) SELECT 'key_bench' || g, 'kmc_bench' || lpad(g::text, 8, '0'), secret_hash, secret_check, environment, owner_id, permissions, enabled, etag, created_at, updated_at, {STATUS} + g - $3 FROM api_keys, generate_series($3 + 1, $3 + $1) g WHERE client_id = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(n as i64)
            .bind(template.key.client_id.as_str())
            .bind(from as i64)
            .execute(&mut conn)
            .await?;
        sqlx::query(RESERVE)
            .bind(n as i64)
            .bind(template.key.client_id.as_str())
            .execute(&mut conn)
            .await?;
        if let Some(list) = &allowed {
            sqlx::query(ALLOW).bind(list).execute(&mut conn).await?;
        }
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        if let Some(hash) = &cheap_hash {
            sqlx::query(CHEAPEN)
                .bind(hash)
                .bind(template.key.client_id.as_str())
                .execute(&mut conn)
                .await?;
        }
        let sql = format!(
            "WITH RECURSIVE g(x) AS (SELECT $3 + 1 UNION ALL SELECT x + 1 FROM g WHERE x < $3 + $1) INSERT INTO api_keys ({columns}) SELECT 'key_bench' || x, 'kmc_bench' || printf('%08d', x), secret_hash, secret_check, environment, owner_id, permissions, enabled, etag, created_at, updated_at, {STATUS} + x - $3 FROM api_keys, g WHERE client_id = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(n as i64)
            .bind(template.key.client_id.as_str())
            .bind(from as i64)
            .execute(&mut conn)
            .await?;
        sqlx::query(RESERVE)
            .bind(n as i64)
            .bind(template.key.client_id.as_str())
            .execute(&mut conn)
            .await?;
        if let Some(list) = &allowed {
            sqlx::query(ALLOW).bind(list).execute(&mut conn).await?;
        }
    }
    println!("{}", template.secret.as_ref().unwrap().expose());
    Ok(())
}

async fn warm(base: &str, secret: &str, n: u64, from: u64) -> Result<(), Error> {
    let http = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (http, next, base, secret) = (
                http.clone(),
                next.clone(),
                base.to_owned(),
                secret.to_owned(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i > n {
                        return Ok::<_, Error>(());
                    }
                    loop {
                        let status = http
                            .post(format!("{base}/production/oauth2/token"))
                            .form(&[
                                ("grant_type", "client_credentials"),
                                ("client_id", &client_id(from + i)),
                                ("client_secret", &secret),
                            ])
                            .send()
                            .await?
                            .status();
                        match status.as_u16() {
                            200 => break,
                            503 => tokio::time::sleep(Duration::from_millis(20)).await,
                            other => {
                                return Err(format!(
                                    "warm-up of {} got {other}",
                                    client_id(from + i)
                                )
                                .into());
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(())
}

async fn ceiling(secs: u64) -> Result<(), Error> {
    let hasher = Arc::new(SecretHasher::new(
        std::thread::available_parallelism()?.get(),
        Duration::from_secs(60),
    ));
    let secret = new_client_secret();
    let phc = hasher.hash(&secret).await?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let workers: Vec<_> = (0..hasher.threads() * 2)
        .map(|_| {
            let (hasher, secret, phc, done) =
                (hasher.clone(), secret.clone(), phc.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if hasher.verify(&secret, &phc).await.unwrap_or(false) {
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    println!(
        "{:.1}",
        done.load(std::sync::atomic::Ordering::Relaxed) as f64 / secs as f64
    );
    Ok(())
}

async fn flood(base: &str, rate: f64, secs: u64, distributed: bool) -> Result<(), Error> {
    let http = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut requests = Vec::new();
    let mut i = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        ticker.tick().await;
        i += 1;
        let (http, base) = (http.clone(), base.to_owned());
        let id = client_id(i % 10_000 + 1);
        requests.push(tokio::spawn(async move {
            let sent = Instant::now();
            // Loopback is a trusted proxy by default, so the X-Forwarded-For entry is the
            // client's address. One attacker, or a new address per request.
            let [a, b, c, d] = if distributed {
                (i as u32 | 0x0a00_0000).to_be_bytes()
            } else {
                [10, 255, 0, 1]
            };
            let request = http
                .post(format!("{base}/production/oauth2/token"))
                .header("x-forwarded-for", format!("{a}.{b}.{c}.{d}"));
            let status = request
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &format!("kms_wrong{i}")),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, sent.elapsed())
        }));
    }
    let (mut by_status, mut slowest) = (std::collections::BTreeMap::new(), Duration::ZERO);
    for r in requests {
        let (status, took) = r.await?;
        *by_status.entry(status).or_insert(0u64) += 1;
        slowest = slowest.max(took);
    }
    let summary: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}:{n}")).collect();
    println!(
        "{} slowest_ms={:.0}",
        summary.join(","),
        slowest.as_secs_f64() * 1000.0
    );
    Ok(())
}
