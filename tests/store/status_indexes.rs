//! Status-list indexes: one per credential, allocated once per environment across
//! concurrent writers, a new one for a new secret, never reused after a delete; the
//! snapshot reads the counter and the keys of a scope; keys from before the migration get
//! distinct indexes.

use std::collections::HashSet;
use std::sync::Arc;

use keymint::store::{StatusScope, Store};

use crate::fixtures::*;
use crate::support::Backend;

async fn snapshot(
    store: &Arc<dyn Store>,
    environment: &str,
    scope: StatusScope<'_>,
) -> keymint::store::StatusSnapshot {
    store
        .status_snapshot(&env(environment), scope)
        .await
        .unwrap()
}

pub async fn indexes_are_allocated_once_and_never_reused(store: Arc<dyn Store>) {
    user(&store, "alice", &["runs:read"]).await;
    user(&store, "bob", &["runs:read"]).await;
    // Twenty creations at once in each of two environments.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = Arc::clone(&store);
        let environment = if i % 2 == 0 { "production" } else { "sandbox" };
        tasks.push(tokio::spawn(async move {
            create(&store, "alice", environment).await
        }));
    }
    let mut by_env: [Vec<u32>; 2] = Default::default();
    for task in tasks {
        let key = task.await.unwrap();
        by_env[usize::from(key.environment.as_str() == "sandbox")].push(key.status_index);
    }
    for indexes in &mut by_env {
        indexes.sort_unstable();
        assert_eq!(
            *indexes,
            (0..20).collect::<Vec<u32>>(),
            "dense and distinct per environment"
        );
    }
    let page = snapshot(&store, "production", StatusScope::Range(5, 10)).await;
    let mut paged: Vec<u32> = page.entries.iter().map(|e| e.index).collect();
    paged.sort_unstable();
    assert_eq!(paged, [5, 6, 7, 8, 9], "a page of a full read");
    let all = snapshot(&store, "production", StatusScope::All).await;
    assert_eq!(all.next_index, 20);
    assert_eq!(all.entries.len(), 20);
    assert!(all.entries.iter().all(|e| e.usable && e.previous.is_none()));

    // A new secret takes the next index; with a grace period the old one is kept.
    let key = create(&store, "bob", "production").await;
    assert_eq!(key.status_index, 20);
    let mut grace = update(KeyChange::ReplaceSecret("$argon2id$second".into()), None);
    grace.secret.as_mut().unwrap().grace_until = Some(now() + time::Duration::minutes(5));
    let rotated = store
        .update_key(&key.client_id, &grace, &ctx())
        .await
        .unwrap();
    assert_eq!(rotated.status_index, 21);
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.previous_status_index, Some(20));
    // Other edits keep both.
    let disable = update(
        KeyChange::Disable(keymint::domain::DisabledReason::Manual),
        None,
    );
    store
        .update_key(&key.client_id, &disable, &ctx())
        .await
        .unwrap();
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (creds.key.status_index, creds.previous_status_index),
        (21, Some(20))
    );
    let read = snapshot(&store, "production", StatusScope::Key(&key.client_id)).await;
    assert_eq!(read.entries.len(), 1);
    assert!(!read.entries[0].usable);
    assert_eq!(read.entries[0].previous.map(|p| p.0), Some(20));
    // Without a grace period the old index is dropped at once.
    let enable = update(KeyChange::Enable, None);
    store
        .update_key(&key.client_id, &enable, &ctx())
        .await
        .unwrap();
    let plain = update(KeyChange::ReplaceSecret("$argon2id$third".into()), None);
    let rotated = store
        .update_key(&key.client_id, &plain, &ctx())
        .await
        .unwrap();
    assert_eq!(rotated.status_index, 22);
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.previous_status_index, None);

    // Deleted, its index is never handed out again.
    store
        .delete_key(&key.client_id, None, &ctx())
        .await
        .unwrap();
    let next = create(&store, "bob", "production").await;
    assert_eq!(next.status_index, 23);
    let since = snapshot(&store, "production", StatusScope::From(21)).await;
    assert_eq!(since.next_index, 24);
    let seen: Vec<u32> = since.entries.iter().map(|e| e.index).collect();
    assert_eq!(seen, [23]);
    let bobs = snapshot(&store, "production", StatusScope::Owner(&uid("bob"))).await;
    assert_eq!(bobs.entries.len(), 1);
    deactivate(&store, "alice").await.unwrap();
    let alices = snapshot(&store, "sandbox", StatusScope::Owner(&uid("alice"))).await;
    assert_eq!(alices.entries.len(), 20);
    assert!(alices.entries.iter().all(|e| !e.usable), "owner inactive");
}

/// The migrations before status indexes, copied to a folder of their own.
fn migrations_before_status_indexes(backend: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0019" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

const USER: &str = "INSERT INTO users (id, created_at, updated_at) VALUES ($1, $2, $2)";
const KEY: &str = "INSERT INTO api_keys (id, client_id, secret_hash, environment, owner_id, \
     permissions, enabled, etag, created_at, updated_at, previous_secret_hash, \
     previous_secret_expires_at) VALUES ($1, $1, 'h', $2, 'alice', '[]', TRUE, 'e', $3, $3, $4, $5)";

macro_rules! old_database {
    ($pool:ty, $url:expr, $folder:expr) => {{
        let pool = <$pool>::connect($url).await.unwrap();
        let migrator = sqlx::migrate::Migrator::new($folder).await.unwrap();
        migrator.run(&pool).await.unwrap();
        sqlx::query(USER)
            .bind("alice")
            .bind(now())
            .execute(&pool)
            .await
            .unwrap();
        for i in 0..5 {
            let environment = if i < 3 { "production" } else { "sandbox" };
            let previous = (i == 1).then_some("old");
            let until = (i == 1).then(|| now() + time::Duration::minutes(5));
            sqlx::query(KEY)
                .bind(format!("kmc_old{i}"))
                .bind(environment)
                .bind(now())
                .bind(previous)
                .bind(until)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }};
}

pub async fn keys_from_before_the_migration_get_distinct_indexes(backend: Backend) {
    let db = backend.db().await;
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let folder = migrations_before_status_indexes(name);
    match backend {
        Backend::Sqlite => old_database!(
            sqlx::SqlitePool,
            &format!("{}?mode=rwc", db.url),
            folder.path()
        ),
        Backend::Postgres => old_database!(sqlx::PgPool, &db.url, folder.path()),
    }
    let store = db.store().await;
    let production = snapshot(&store, "production", StatusScope::All).await;
    let mut indexes = HashSet::new();
    for entry in &production.entries {
        assert!(indexes.insert(entry.index));
        if let Some((previous, _)) = entry.previous {
            assert!(indexes.insert(previous));
        }
    }
    assert_eq!(
        indexes,
        (0..4).collect::<HashSet<u32>>(),
        "three keys and one previous secret"
    );
    assert_eq!(production.next_index, 4);
    let sandbox = snapshot(&store, "sandbox", StatusScope::All).await;
    let sandbox: HashSet<u32> = sandbox.entries.iter().map(|e| e.index).collect();
    assert_eq!(sandbox, HashSet::from([0, 1]));
    // New keys continue after them.
    let key = create(&store, "alice", "production").await;
    assert_eq!(key.status_index, 4);
}
