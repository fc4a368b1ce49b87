//! Opening a store from `DATABASE_URL`.

use std::sync::Arc;

use super::{PgStore, SqliteStore, Store, StoreError};

/// Opens the store named by `url`: `sqlite:` (file created when missing) or `postgres:`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(url, Arc::new(crate::random::SystemRandom)).await
}

/// Like [`connect`], with etags from `random`.
pub async fn connect_with(
    url: &str,
    random: Arc<dyn crate::random::Random>,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?.with_random(random)))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::connect(url).await?.with_random(random),
        ))
    } else {
        Err(StoreError::Backend(
            "DATABASE_URL must start with sqlite: or postgres://".to_owned(),
        ))
    }
}
