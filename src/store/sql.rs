//! The SQL both backends share. SQLite and PostgreSQL accept the same `$n` placeholders,
//! `RETURNING` and `ON CONFLICT`, so one implementation serves both; each backend supplies
//! how a write transaction begins and its row-locking clauses (empty on SQLite, where
//! `BEGIN IMMEDIATE` already serialises writers).

/// Implements [`super::Store`] for `$store`, a type with a `pool` field and an
/// `async fn begin_write(&self)` returning a transaction.
macro_rules! impl_sql_store {
    ($store:ty, migrator: $migrator:expr, lock_share: $share:literal, lock_update: $update:literal) => {
        #[async_trait::async_trait]
        impl super::Store for $store {
            async fn migrate(&self) -> Result<(), super::StoreError> {
                $migrator
                    .run(&self.pool)
                    .await
                    .map_err(|e| super::StoreError::Backend(format!("migration failed: {e}")))
            }

            async fn ping(&self) -> Result<(), super::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_user(
                &self,
                user: &crate::domain::UserUpsert,
                now: time::OffsetDateTime,
            ) -> Result<crate::domain::User, super::StoreError> {
                let row: super::rows::UserRow = sqlx::query_as(concat!(
                    "INSERT INTO users (id, email, service_account, active, permissions, created_at, updated_at) ",
                    "VALUES ($1, $2, $3, TRUE, $4, $5, $5) ",
                    "ON CONFLICT (id) DO UPDATE SET email = excluded.email, ",
                    "service_account = excluded.service_account, permissions = excluded.permissions, ",
                    "updated_at = excluded.updated_at ",
                    "RETURNING ", super::rows::user_columns!()
                ))
                .bind(user.id.as_str())
                .bind(user.email.as_deref())
                .bind(user.service_account)
                .bind(user.permissions.to_json())
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                row.try_into()
            }

            async fn get_user(&self, id: &crate::domain::UserId) -> Result<crate::domain::User, super::StoreError> {
                let row: super::rows::UserRow =
                    sqlx::query_as(concat!("SELECT ", super::rows::user_columns!(), " FROM users WHERE id = $1"))
                        .bind(id.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                row.try_into()
            }

            async fn set_user_active(
                &self,
                id: &crate::domain::UserId,
                active: bool,
                new_etag: &str,
                now: time::OffsetDateTime,
            ) -> Result<super::UserActivation, super::StoreError> {
                let mut tx = self.begin_write().await?;
                let user: super::rows::UserRow = sqlx::query_as(concat!(
                    "UPDATE users SET active = $2, updated_at = $3 WHERE id = $1 RETURNING ",
                    super::rows::user_columns!()
                ))
                .bind(id.as_str())
                .bind(active)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let mut disabled_keys = Vec::new();
                if !active {
                    let rows: Vec<super::rows::KeyRow> = sqlx::query_as(concat!(
                        "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'owner_deactivated', ",
                        "etag = $2, updated_at = $3 WHERE owner_id = $1 AND enabled RETURNING ",
                        super::rows::key_columns!()
                    ))
                    .bind(id.as_str())
                    .bind(new_etag)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                    for row in rows {
                        disabled_keys.push(row.try_into()?);
                    }
                }
                tx.commit().await?;
                Ok(super::UserActivation { user: user.try_into()?, disabled_keys })
            }

            async fn create_key(
                &self,
                key: &super::NewApiKey,
                now: time::OffsetDateTime,
            ) -> Result<crate::domain::ApiKey, super::StoreError> {
                let mut tx = self.begin_write().await?;
                // The owner row is locked so a concurrent deactivation or permission
                // change either precedes this key (and is seen) or follows it.
                let owner: crate::domain::User = sqlx::query_as::<_, super::rows::UserRow>(concat!(
                    "SELECT ", super::rows::user_columns!(), " FROM users WHERE id = $1", $share
                ))
                .bind(key.owner_id.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
                if !owner.active {
                    return Err(super::StoreError::OwnerInactive);
                }
                let permissions = match &key.requested {
                    None => owner.permissions.clone(),
                    Some(requested) if requested.is_subset(&owner.permissions) => requested.clone(),
                    Some(requested) => {
                        let missing = requested.missing_from(&owner.permissions).map(str::to_owned).collect();
                        return Err(super::StoreError::NotHeld(missing));
                    }
                };
                let row: super::rows::KeyRow = sqlx::query_as(concat!(
                    "INSERT INTO api_keys (id, client_id, secret_hash, environment, owner_id, permissions, ",
                    "enabled, disabled_reason, name, expires_at, etag, created_at, updated_at) ",
                    "VALUES ($1, $2, $3, $4, $5, $6, TRUE, NULL, $7, $8, $9, $10, $10) RETURNING ",
                    super::rows::key_columns!()
                ))
                .bind(&key.id)
                .bind(key.client_id.as_str())
                .bind(&key.secret_hash)
                .bind(key.environment.as_str())
                .bind(key.owner_id.as_str())
                .bind(permissions.to_json())
                .bind(key.name.as_deref())
                .bind(key.expires_at)
                .bind(&key.etag)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn get_key(&self, client_id: &crate::domain::ClientId) -> Result<crate::domain::ApiKey, super::StoreError> {
                let row: super::rows::KeyRow = sqlx::query_as(concat!(
                    "SELECT ", super::rows::key_columns!(), " FROM api_keys WHERE client_id = $1"
                ))
                .bind(client_id.as_str())
                .fetch_one(&self.pool)
                .await?;
                row.try_into()
            }

            async fn find_credentials(
                &self,
                client_id: &crate::domain::ClientId,
            ) -> Result<Option<crate::domain::KeyCredentials>, super::StoreError> {
                let row: Option<super::rows::CredentialsRow> = sqlx::query_as(concat!(
                    "SELECT ", super::rows::key_columns!(), ", secret_hash, ",
                    "(SELECT active FROM users WHERE users.id = api_keys.owner_id) AS owner_active ",
                    "FROM api_keys WHERE client_id = $1"
                ))
                .bind(client_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_keys(&self, query: &super::KeyQuery) -> Result<super::KeyPage, super::StoreError> {
                let owner = query.owner.as_ref().map(|o| o.as_str());
                let rows: Vec<super::rows::KeyRow> = sqlx::query_as(concat!(
                    "SELECT ", super::rows::key_columns!(), " FROM api_keys ",
                    "WHERE environment = $1 AND (CAST($2 AS TEXT) IS NULL OR owner_id = CAST($2 AS TEXT)) ",
                    "AND seq > $3 ORDER BY seq LIMIT $4"
                ))
                .bind(query.environment.as_str())
                .bind(owner)
                .bind(query.after.unwrap_or(0))
                .bind(i64::from(query.limit) + 1)
                .fetch_all(&self.pool)
                .await?;
                let total_count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM api_keys WHERE environment = $1 AND (CAST($2 AS TEXT) IS NULL OR owner_id = CAST($2 AS TEXT))",
                )
                .bind(query.environment.as_str())
                .bind(owner)
                .fetch_one(&self.pool)
                .await?;
                let has_next_page = rows.len() > query.limit as usize;
                let mut entries = Vec::with_capacity(rows.len());
                for row in rows.into_iter().take(query.limit as usize) {
                    entries.push((row.seq, row.try_into()?));
                }
                Ok(super::KeyPage { entries, has_next_page, total_count })
            }

            async fn update_key(
                &self,
                client_id: &crate::domain::ClientId,
                update: &super::KeyUpdate,
                now: time::OffsetDateTime,
            ) -> Result<crate::domain::ApiKey, super::StoreError> {
                let mut tx = self.begin_write().await?;
                let current: crate::domain::KeyCredentials = sqlx::query_as::<_, super::rows::CredentialsRow>(concat!(
                    "SELECT ", super::rows::key_columns!(), ", secret_hash, ",
                    "(SELECT active FROM users WHERE users.id = api_keys.owner_id) AS owner_active ",
                    "FROM api_keys WHERE client_id = $1", $update
                ))
                .bind(client_id.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
                if update.expected_etag.as_ref().is_some_and(|e| *e != current.key.etag) {
                    return Err(super::StoreError::Conflict);
                }
                let (enabled, reason, hash) = match &update.change {
                    super::KeyChange::Enable if !current.owner_active => return Err(super::StoreError::OwnerInactive),
                    super::KeyChange::Enable => (true, None, current.secret_hash.clone()),
                    super::KeyChange::Disable(reason) => (false, Some(reason.as_str()), current.secret_hash.clone()),
                    super::KeyChange::ReplaceSecret(hash) => (
                        current.key.enabled,
                        current.key.disabled_reason.map(|r| r.as_str()),
                        hash.clone(),
                    ),
                };
                // The etag condition makes a concurrent writer that read the same etag lose.
                let row: Option<super::rows::KeyRow> = sqlx::query_as(concat!(
                    "UPDATE api_keys SET enabled = $2, disabled_reason = $3, secret_hash = $4, ",
                    "etag = $5, updated_at = $6 WHERE client_id = $1 AND etag = $7 RETURNING ",
                    super::rows::key_columns!()
                ))
                .bind(client_id.as_str())
                .bind(enabled)
                .bind(reason)
                .bind(hash)
                .bind(&update.new_etag)
                .bind(now)
                .bind(&current.key.etag)
                .fetch_optional(&mut *tx)
                .await?;
                let row = row.ok_or(super::StoreError::Conflict)?;
                tx.commit().await?;
                row.try_into()
            }

            async fn delete_key(
                &self,
                client_id: &crate::domain::ClientId,
                expected_etag: Option<&str>,
            ) -> Result<crate::domain::ApiKey, super::StoreError> {
                let mut tx = self.begin_write().await?;
                let etag: String = sqlx::query_scalar(concat!("SELECT etag FROM api_keys WHERE client_id = $1", $update))
                    .bind(client_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                if expected_etag.is_some_and(|e| e != etag) {
                    return Err(super::StoreError::Conflict);
                }
                let row: Option<super::rows::KeyRow> = sqlx::query_as(concat!(
                    "DELETE FROM api_keys WHERE client_id = $1 AND etag = $2 RETURNING ",
                    super::rows::key_columns!()
                ))
                .bind(client_id.as_str())
                .bind(&etag)
                .fetch_optional(&mut *tx)
                .await?;
                let row = row.ok_or(super::StoreError::Conflict)?;
                tx.commit().await?;
                row.try_into()
            }
        }
    };
}

pub(super) use impl_sql_store;
