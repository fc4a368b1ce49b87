//! The SQL both backends share. SQLite and PostgreSQL accept the same `$n` placeholders,
//! `RETURNING` and `ON CONFLICT`, so one implementation serves both; each backend supplies
//! how a write transaction begins, its row-locking clauses (empty on SQLite, where
//! `BEGIN IMMEDIATE` already serialises writers), and its notification mechanism.
//!
//! Every write also appends, in the same transaction, its audit entries and its
//! change-feed rows (`keymint_changes`), which every instance follows to invalidate
//! in-memory state.

/// Implements [`super::Store`] for `$store`, a type with a `pool` field, an
/// `async fn begin_write(&self)` returning a transaction, and the backend hooks
/// `next_table_event`, `backlog`, `start_wakeups` and `POLL_INTERVAL`.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty, migrator: $migrator:expr, lock_share: $share:literal, lock_update: $update:literal, changes_lock: $changes_lock:literal) => {
        type Tx = sqlx::Transaction<'static, $db>;

        impl $store {
            /// Appends one audit entry.
            async fn audit(
                tx: &mut Tx,
                ctx: &super::WriteContext,
                action: crate::domain::AuditAction,
                key: Option<&crate::domain::ApiKey>,
                user: &crate::domain::UserId,
                reason: Option<&str>,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(concat!(
                    "INSERT INTO audit_events (at, action, environment, client_id, user_id, actor_user_id, ",
                    "actor_client_id, source, request_id, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(ctx.now)
                .bind(action.as_str())
                .bind(key.map(|k| k.environment.as_str()))
                .bind(key.map(|k| k.client_id.as_str()))
                .bind(user.as_str())
                .bind(ctx.actor.user.as_ref().map(|u| u.as_str()))
                .bind(ctx.actor.client_id.as_ref().map(|c| c.as_str()))
                .bind(ctx.actor.source.as_str())
                .bind(ctx.request_id.as_deref())
                .bind(reason)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Appends the change-feed rows of a transaction, as its last statements.
            ///
            /// Followers read `seq > last seen`, so a row must never become visible after
            /// a row with a higher `seq`. IDENTITY values are handed out at INSERT, not at
            /// commit, so two writers could commit out of order and a follower would skip
            /// the one that committed late. `$changes_lock` (PostgreSQL: a
            /// transaction-scoped advisory lock) makes writers take `seq` values one
            /// transaction at a time and hold them until commit: seq order is commit
            /// order. It is taken last, after every row lock, and held only for these
            /// inserts and the commit. SQLite's `BEGIN IMMEDIATE` already serialises writers.
            async fn changed(
                tx: &mut Tx,
                now: time::OffsetDateTime,
                changes: &[(&str, &str)],
            ) -> Result<(), sqlx::Error> {
                if changes.is_empty() {
                    return Ok(());
                }
                if !$changes_lock.is_empty() {
                    sqlx::query($changes_lock).execute(&mut **tx).await?;
                }
                for (kind, subject) in changes {
                    sqlx::query("INSERT INTO keymint_changes (at, kind, subject) VALUES ($1, $2, $3)")
                        .bind(now)
                        .bind(kind)
                        .bind(subject)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// Applies a user event inside `tx`; `None` when it is older than the last
            /// directory event applied for that user (see [`super::Store::apply_user_event`]).
            async fn apply_event_tx(
                tx: &mut Tx,
                event: &crate::domain::UserEvent,
                occurred_at: Option<time::OffsetDateTime>,
                ctx: &super::WriteContext,
            ) -> Result<Option<super::UserActivation>, super::StoreError> {
                use crate::domain::{AuditAction, ChangeSource, UserEvent};
                let id = event.user_id();
                if let Some(at) = occurred_at {
                    // The user row is locked, so concurrent events of one user are ordered.
                    let last: Option<Option<time::OffsetDateTime>> = sqlx::query_scalar(concat!(
                        "SELECT last_event_at FROM users WHERE id = $1", $update
                    ))
                    .bind(id.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                    if let Some(Some(last)) = last && at < last {
                        return Ok(None);
                    }
                }
                let row: Option<super::rows::UserRow> = match event {
                    UserEvent::Upserted(user) => sqlx::query_as(concat!(
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
                    .bind(ctx.now)
                    .fetch_optional(&mut **tx)
                    .await?,
                    // The CLI names users that must exist; a typo must not create one.
                    UserEvent::Deactivated(_) | UserEvent::Reactivated(_) if ctx.actor.source == ChangeSource::Cli => {
                        sqlx::query_as(concat!(
                            "UPDATE users SET active = $2, updated_at = $3 WHERE id = $1 RETURNING ",
                            super::rows::user_columns!()
                        ))
                        .bind(id.as_str())
                        .bind(matches!(event, UserEvent::Reactivated(_)))
                        .bind(ctx.now)
                        .fetch_optional(&mut **tx)
                        .await?
                    }
                    // The directory is the source of truth: a deactivation of a user
                    // Keymint has not seen yet is remembered, so a later upsert cannot
                    // bring them in active.
                    UserEvent::Deactivated(_) | UserEvent::Reactivated(_) => sqlx::query_as(concat!(
                        "INSERT INTO users (id, email, service_account, active, permissions, created_at, updated_at) ",
                        "VALUES ($1, NULL, FALSE, $2, '[]', $3, $3) ",
                        "ON CONFLICT (id) DO UPDATE SET active = excluded.active, updated_at = excluded.updated_at ",
                        "RETURNING ", super::rows::user_columns!()
                    ))
                    .bind(id.as_str())
                    .bind(matches!(event, UserEvent::Reactivated(_)))
                    .bind(ctx.now)
                    .fetch_optional(&mut **tx)
                    .await?,
                };
                let user: crate::domain::User = row.ok_or(super::StoreError::NotFound)?.try_into()?;
                if let Some(at) = occurred_at {
                    sqlx::query("UPDATE users SET last_event_at = $2 WHERE id = $1")
                        .bind(id.as_str())
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                }

                let mut disabled_keys = Vec::new();
                if let UserEvent::Deactivated(_) = event {
                    let rows: Vec<super::rows::KeyRow> = sqlx::query_as(concat!(
                        "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'owner_deactivated', ",
                        "etag = $2, updated_at = $3 WHERE owner_id = $1 AND enabled RETURNING ",
                        super::rows::key_columns!()
                    ))
                    .bind(id.as_str())
                    .bind(crate::secrets::random_token(12))
                    .bind(ctx.now)
                    .fetch_all(&mut **tx)
                    .await?;
                    for row in rows {
                        let key: crate::domain::ApiKey = row.try_into()?;
                        let reason = crate::domain::DisabledReason::OwnerDeactivated.as_str();
                        Self::audit(tx, ctx, AuditAction::KeyDisabled, Some(&key), id, Some(reason)).await?;
                        disabled_keys.push(key);
                    }
                }
                let action = match event {
                    UserEvent::Upserted(_) => AuditAction::UserUpserted,
                    UserEvent::Deactivated(_) => AuditAction::UserDeactivated,
                    UserEvent::Reactivated(_) => AuditAction::UserReactivated,
                };
                Self::audit(tx, ctx, action, None, id, None).await?;
                let mut changes: Vec<(&str, &str)> =
                    disabled_keys.iter().map(|k: &crate::domain::ApiKey| ("key", k.client_id.as_str())).collect();
                changes.push(("user", id.as_str()));
                Self::changed(tx, ctx.now, &changes).await?;
                Ok(Some(super::UserActivation { user, disabled_keys }))
            }
        }

        #[async_trait::async_trait]
        impl super::Store for $store {
            async fn migrate(&self) -> Result<(), super::StoreError> {
                $migrator
                    .run(&self.pool)
                    .await
                    .map_err(|e| super::StoreError::Backend(format!("migration failed: {e}")))
            }

            fn pool_usage(&self) -> super::PoolUsage {
                super::PoolUsage {
                    open: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn ping(&self) -> Result<(), super::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn get_user(&self, id: &crate::domain::UserId) -> Result<crate::domain::User, super::StoreError> {
                let row: super::rows::UserRow =
                    sqlx::query_as(concat!("SELECT ", super::rows::user_columns!(), " FROM users WHERE id = $1"))
                        .bind(id.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                row.try_into()
            }

            async fn apply_user_event(
                &self,
                event: &crate::domain::UserEvent,
                dedupe: &super::Dedupe,
                occurred_at: Option<time::OffsetDateTime>,
                ctx: &super::WriteContext,
            ) -> Result<super::EventOutcome, super::StoreError> {
                let mut tx = self.begin_write().await?;
                if let super::Dedupe::WebhookId(id) = dedupe {
                    let inserted = sqlx::query(
                        "INSERT INTO processed_webhooks (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(ctx.now)
                    .execute(&mut *tx)
                    .await?;
                    if inserted.rows_affected() == 0 {
                        return Ok(super::EventOutcome::Duplicate);
                    }
                }
                let applied = Self::apply_event_tx(&mut tx, event, occurred_at, ctx).await?;
                // A stale event still records its webhook id: a retry is a duplicate.
                tx.commit().await?;
                Ok(applied.map_or(super::EventOutcome::Stale, super::EventOutcome::Applied))
            }

            async fn apply_next_table_event(
                &self,
                instance: &str,
                now: time::OffsetDateTime,
            ) -> Result<Option<super::TableEventOutcome>, super::StoreError> {
                self.next_table_event(instance, now).await
            }

            async fn table_event_backlog(&self) -> Result<(i64, Option<time::OffsetDateTime>), super::StoreError> {
                self.backlog().await
            }

            async fn create_key(
                &self,
                key: &super::NewApiKey,
                ctx: &super::WriteContext,
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
                    "INSERT INTO api_keys (id, client_id, secret_hash, secret_check, environment, owner_id, ",
                    "permissions, enabled, disabled_reason, name, expires_at, etag, created_at, updated_at) ",
                    "VALUES ($1, $2, $3, $11, $4, $5, $6, TRUE, NULL, $7, $8, $9, $10, $10) RETURNING ",
                    super::rows::key_columns!()
                ))
                .bind(&key.id)
                .bind(key.client_id.as_str())
                .bind(&key.secret.hash)
                .bind(key.environment.as_str())
                .bind(key.owner_id.as_str())
                .bind(permissions.to_json())
                .bind(key.name.as_deref())
                .bind(key.expires_at)
                .bind(crate::secrets::random_token(12))
                .bind(ctx.now)
                .bind(key.secret.check.as_deref())
                .fetch_one(&mut *tx)
                .await?;
                let created: crate::domain::ApiKey = row.try_into()?;
                Self::audit(&mut tx, ctx, crate::domain::AuditAction::KeyCreated, Some(&created), &created.owner_id, None).await?;
                Self::changed(&mut tx, ctx.now, &[("key", created.client_id.as_str())]).await?;
                tx.commit().await?;
                Ok(created)
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
                    super::rows::credentials_select!()
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
                ctx: &super::WriteContext,
            ) -> Result<crate::domain::ApiKey, super::StoreError> {
                use crate::domain::AuditAction;
                let mut tx = self.begin_write().await?;
                let current: crate::domain::KeyCredentials = sqlx::query_as::<_, super::rows::CredentialsRow>(concat!(
                    super::rows::credentials_select!(), $update
                ))
                .bind(client_id.as_str())
                .fetch_one(&mut *tx)
                .await?
                .try_into()?;
                if update.expected_etag.as_ref().is_some_and(|e| *e != current.key.etag) {
                    return Err(super::StoreError::Conflict);
                }
                let mut actions = Vec::new();
                let (enabled, reason) = match update.activation {
                    None => (current.key.enabled, current.key.disabled_reason),
                    Some(super::Activation::Enable) if !current.owner_active => return Err(super::StoreError::OwnerInactive),
                    Some(super::Activation::Enable) => {
                        actions.push((AuditAction::KeyEnabled, None));
                        (true, None)
                    }
                    Some(super::Activation::Disable(reason)) => {
                        actions.push((AuditAction::KeyDisabled, Some(reason.as_str())));
                        (false, Some(reason))
                    }
                };
                let (secret, previous) = match &update.secret {
                    None => (current.secret.clone(), current.previous_secret.clone()),
                    Some(new) => {
                        actions.push((AuditAction::KeySecretRegenerated, None));
                        // With a grace period the old secret keeps working until then.
                        (new.secret.clone(), new.grace_until.map(|until| (current.secret.clone(), until)))
                    }
                };
                // The etag condition makes a concurrent writer that read the same etag lose.
                let row: Option<super::rows::KeyRow> = sqlx::query_as(concat!(
                    "UPDATE api_keys SET enabled = $2, disabled_reason = $3, secret_hash = $4, ",
                    "etag = $5, updated_at = $6, previous_secret_hash = $8, previous_secret_expires_at = $9, ",
                    "secret_check = $10, previous_secret_check = $11 ",
                    "WHERE client_id = $1 AND etag = $7 RETURNING ",
                    super::rows::key_columns!()
                ))
                .bind(client_id.as_str())
                .bind(enabled)
                .bind(reason.map(|r| r.as_str()))
                .bind(&secret.hash)
                .bind(crate::secrets::random_token(12))
                .bind(ctx.now)
                .bind(&current.key.etag)
                .bind(previous.as_ref().map(|(s, _)| s.hash.as_str()))
                .bind(previous.as_ref().map(|(_, until)| *until))
                .bind(secret.check.as_deref())
                .bind(previous.as_ref().and_then(|(s, _)| s.check.as_deref()))
                .fetch_optional(&mut *tx)
                .await?;
                let key: crate::domain::ApiKey = row.ok_or(super::StoreError::Conflict)?.try_into()?;
                for (action, reason) in actions {
                    Self::audit(&mut tx, ctx, action, Some(&key), &key.owner_id, reason).await?;
                }
                Self::changed(&mut tx, ctx.now, &[("key", key.client_id.as_str())]).await?;
                tx.commit().await?;
                Ok(key)
            }

            async fn delete_key(
                &self,
                client_id: &crate::domain::ClientId,
                expected_etag: Option<&str>,
                ctx: &super::WriteContext,
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
                let key: crate::domain::ApiKey = row.ok_or(super::StoreError::Conflict)?.try_into()?;
                Self::audit(&mut tx, ctx, crate::domain::AuditAction::KeyDeleted, Some(&key), &key.owner_id, None).await?;
                Self::changed(&mut tx, ctx.now, &[("key", key.client_id.as_str())]).await?;
                tx.commit().await?;
                Ok(key)
            }

            async fn expire_keys(&self, now: time::OffsetDateTime) -> Result<Vec<crate::domain::ApiKey>, super::StoreError> {
                let mut tx = self.begin_write().await?;
                let rows: Vec<super::rows::KeyRow> = sqlx::query_as(concat!(
                    "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'expired', etag = $2, updated_at = $1 ",
                    "WHERE enabled AND expires_at IS NOT NULL AND expires_at <= $1 RETURNING ",
                    super::rows::key_columns!()
                ))
                .bind(now)
                .bind(crate::secrets::random_token(12))
                .fetch_all(&mut *tx)
                .await?;
                let ctx = super::WriteContext {
                    now,
                    actor: crate::domain::Actor::system(crate::domain::ChangeSource::Expiry),
                    request_id: None,
                };
                let mut expired = Vec::with_capacity(rows.len());
                for row in rows {
                    let key: crate::domain::ApiKey = row.try_into()?;
                    Self::audit(&mut tx, &ctx, crate::domain::AuditAction::KeyExpired, Some(&key), &key.owner_id, Some("expired")).await?;
                    expired.push(key);
                }
                let changes: Vec<(&str, &str)> = expired.iter().map(|k| ("key", k.client_id.as_str())).collect();
                Self::changed(&mut tx, now, &changes).await?;
                tx.commit().await?;
                Ok(expired)
            }

            async fn record_secret_check(
                &self,
                client_id: &crate::domain::ClientId,
                hash: &str,
                check: &str,
            ) -> Result<(), super::StoreError> {
                // The hash condition makes a concurrent rotation win: a tag is only ever
                // stored beside the hash it was verified against.
                sqlx::query(concat!(
                    "UPDATE api_keys SET ",
                    "secret_check = CASE WHEN secret_hash = $2 AND secret_check IS NULL THEN $3 ELSE secret_check END, ",
                    "previous_secret_check = CASE WHEN previous_secret_hash = $2 AND previous_secret_check IS NULL ",
                    "THEN $3 ELSE previous_secret_check END ",
                    "WHERE client_id = $1 AND (secret_hash = $2 OR previous_secret_hash = $2)"
                ))
                .bind(client_id.as_str())
                .bind(hash)
                .bind(check)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn record_last_used(&self, uses: &[(crate::domain::ClientId, time::OffsetDateTime)]) -> Result<(), super::StoreError> {
                if uses.is_empty() {
                    return Ok(());
                }
                // Not a change of the key: no etag, audit or change-feed entry.
                let mut tx = self.begin_write().await?;
                for (client_id, at) in uses {
                    sqlx::query(
                        "UPDATE api_keys SET last_used_at = $2 WHERE client_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
                    )
                    .bind(client_id.as_str())
                    .bind(*at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_token(
                &self,
                jti: &str,
                environment: &crate::domain::EnvironmentName,
                client_id: Option<&crate::domain::ClientId>,
                now: time::OffsetDateTime,
                expires_at: time::OffsetDateTime,
            ) -> Result<(), super::StoreError> {
                sqlx::query(concat!(
                    "INSERT INTO revoked_tokens (jti, environment, client_id, revoked_at, expires_at) ",
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING"
                ))
                .bind(jti)
                .bind(environment.as_str())
                .bind(client_id.map(|c| c.as_str()))
                .bind(now)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn is_revoked(&self, jti: &str) -> Result<bool, super::StoreError> {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM revoked_tokens WHERE jti = $1")
                    .bind(jti)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(found > 0)
            }

            async fn list_audit(&self, query: &super::AuditQuery) -> Result<(Vec<crate::domain::AuditEvent>, bool), super::StoreError> {
                let rows: Vec<super::rows::AuditRow> = sqlx::query_as(concat!(
                    "SELECT ", super::rows::audit_columns!(), " FROM audit_events WHERE seq > $1 ",
                    "AND (CAST($2 AS TEXT) IS NULL OR environment = CAST($2 AS TEXT) OR environment IS NULL) ",
                    "AND (CAST($3 AS TEXT) IS NULL OR client_id = CAST($3 AS TEXT)) ",
                    "AND (CAST($4 AS TEXT) IS NULL OR user_id = CAST($4 AS TEXT)) ",
                    "ORDER BY seq LIMIT $5"
                ))
                .bind(query.after.unwrap_or(0))
                .bind(query.environment.as_deref())
                .bind(query.client_id.as_deref())
                .bind(query.user_id.as_deref())
                .bind(i64::from(query.limit) + 1)
                .fetch_all(&self.pool)
                .await?;
                let more = rows.len() > query.limit as usize;
                Ok((rows.into_iter().take(query.limit as usize).map(Into::into).collect(), more))
            }

            async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<super::ChangeRecord>, super::StoreError> {
                let rows: Vec<super::rows::ChangeRow> =
                    sqlx::query_as("SELECT seq, kind, subject FROM keymint_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
                        .bind(after)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|r| super::ChangeRecord { seq: r.seq, kind: r.kind, subject: r.subject }).collect())
            }

            async fn latest_change(&self) -> Result<i64, super::StoreError> {
                let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM keymint_changes").fetch_one(&self.pool).await?;
                Ok(seq.unwrap_or(0))
            }

            async fn prune(&self, before: time::OffsetDateTime) -> Result<(), super::StoreError> {
                // Keep the newest change row so positions never go backwards.
                sqlx::query("DELETE FROM keymint_changes WHERE at < $1 AND seq < (SELECT MAX(seq) FROM keymint_changes)")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("DELETE FROM processed_webhooks WHERE received_at < $1").bind(before).execute(&self.pool).await?;
                // Revocations are needed only until the token would have expired anyway.
                sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1").bind(before).execute(&self.pool).await?;
                Ok(())
            }

            async fn wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<super::Wakeup>> {
                self.start_wakeups()
            }

            fn poll_interval(&self) -> std::time::Duration {
                Self::POLL_INTERVAL
            }
        }
    };
}

pub(super) use impl_sql_store;
