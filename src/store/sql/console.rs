//! Console sign-in: one-time links and sessions. A link is used at most once (the row is
//! locked, checked and marked in the transaction that creates the session); a session is
//! honoured only while unexpired, not idle too long, and its user active.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::{Duration, OffsetDateTime};

use super::super::rows::UserRow;
use super::super::{ConsoleSession, NewConsoleSession, OidcLogin, StoreError, WriteContext};
use super::console_queries as cq;
use super::journal::AuditRecord;
use super::queries as q;
use super::{Backend, Journal, SqlStore, locked};
use crate::domain::{AuditAction, User, UserId};

/// A session's last-seen time is written at most this often (not at every request).
const TOUCH_EVERY: Duration = Duration::seconds(30);

type SessionRow = (
    String,
    String,
    String,
    OffsetDateTime,
    OffsetDateTime,
    OffsetDateTime,
);

// The bounds name the store's private row types and traits; only the store calls these.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> SessionRow: FromRow<'r, DB::Row>,
    for<'r> (String, String, OffsetDateTime): FromRow<'r, DB::Row>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    Self: Journal<Db = DB>,
{
    pub(in crate::store) async fn create_console_link(
        &self,
        token_hash: &str,
        user: &UserId,
        expires_at: OffsetDateTime,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let found: Option<UserRow> = sqlx::query_as(q::USER_BY_ID)
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let found: User = found.ok_or(StoreError::NotFound)?.try_into()?;
        if !found.active {
            return Err(StoreError::OwnerInactive);
        }
        sqlx::query(cq::INSERT_LINK)
            .bind(token_hash)
            .bind(user.as_str())
            .bind(ctx.now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        let record = AuditRecord::user(AuditAction::ConsoleLinkCreated, user, None);
        Self::audit(&mut tx, ctx, record).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(in crate::store) async fn redeem_console_link(
        &self,
        token_hash: &str,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError> {
        // Read before writing: an unknown or spent link (a guess) never opens a write
        // transaction (on SQLite, one that would queue behind every real write).
        let open: Option<(String,)> = sqlx::query_as(cq::OPEN_LINK)
            .bind(token_hash)
            .bind(ctx.now)
            .fetch_optional(&self.pool)
            .await?;
        if open.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut tx = DB::begin_write(&self.pool).await?;
        let link: Option<(String,)> = sqlx::query_as(locked(cq::OPEN_LINK, DB::LOCK_UPDATE))
            .bind(token_hash)
            .bind(ctx.now)
            .fetch_optional(&mut *tx)
            .await?;
        let (user_id,) = link.ok_or(StoreError::NotFound)?;
        sqlx::query(cq::USE_LINK)
            .bind(token_hash)
            .bind(ctx.now)
            .execute(&mut *tx)
            .await?;
        let user = Self::start_session(&mut tx, &user_id, session, ctx).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub(in crate::store) async fn create_console_session(
        &self,
        user: &UserId,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let user = Self::start_session(&mut tx, user.as_str(), session, ctx).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub(in crate::store) async fn console_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        idle: Duration,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row: Option<SessionRow> = sqlx::query_as(cq::SESSION)
            .bind(token_hash)
            .fetch_optional(&mut *conn)
            .await?;
        let Some((user_id, csrf_token, method, created_at, last_seen_at, expires_at)) = row else {
            return Ok(None);
        };
        if now >= expires_at || now - last_seen_at >= idle {
            sqlx::query(cq::DELETE_SESSION)
                .bind(token_hash)
                .execute(&mut *conn)
                .await?;
            return Ok(None);
        }
        let user: Option<UserRow> = sqlx::query_as(q::USER_BY_ID)
            .bind(user_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(user) = user else { return Ok(None) };
        let user: User = user.try_into()?;
        if !user.active {
            return Ok(None);
        }
        if now - last_seen_at >= TOUCH_EVERY {
            sqlx::query(cq::TOUCH_SESSION)
                .bind(token_hash)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        Ok(Some(ConsoleSession {
            user,
            csrf_token,
            method,
            created_at,
            last_seen_at,
            expires_at,
        }))
    }

    pub(in crate::store) async fn end_console_session(
        &self,
        token_hash: &str,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let row: Option<SessionRow> = sqlx::query_as(cq::SESSION)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(cq::DELETE_SESSION)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if let Some((user_id, ..)) = row
            && let Some(user) = UserId::parse(&user_id)
        {
            let record = AuditRecord::user(AuditAction::ConsoleSignedOut, &user, None);
            Self::audit(&mut tx, ctx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(in crate::store) async fn begin_console_oidc(
        &self,
        login: &OidcLogin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(cq::INSERT_OIDC_LOGIN)
            .bind(login.state_hash.as_str())
            .bind(login.nonce.as_str())
            .bind(login.code_verifier.as_str())
            .bind(now)
            .bind(login.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(in crate::store) async fn take_console_oidc(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OidcLogin>, StoreError> {
        // Read before writing: a `state` nobody started (a self-made cookie) deletes nothing.
        let started: Option<(String,)> = sqlx::query_as(cq::OIDC_LOGIN_EXISTS)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await?;
        if started.is_none() {
            return Ok(None);
        }
        let row: Option<(String, String, OffsetDateTime)> = sqlx::query_as(cq::TAKE_OIDC_LOGIN)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.filter(|(_, _, expires_at)| now < *expires_at).map(
            |(nonce, code_verifier, expires_at)| OidcLogin {
                state_hash: state_hash.to_owned(),
                nonce,
                code_verifier,
                expires_at,
            },
        ))
    }

    /// Creates a session for an active user (else `OwnerInactive`), audited.
    async fn start_session(
        conn: &mut DB::Connection,
        user_id: &str,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError> {
        let user: Option<UserRow> = sqlx::query_as(locked(q::USER_BY_ID, DB::LOCK_SHARE))
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
        let user: User = user.ok_or(StoreError::NotFound)?.try_into()?;
        if !user.active {
            return Err(StoreError::OwnerInactive);
        }
        sqlx::query(cq::INSERT_SESSION)
            .bind(session.token_hash.as_str())
            .bind(user_id)
            .bind(session.csrf_token.as_str())
            .bind(session.method)
            .bind(ctx.now)
            .bind(session.expires_at)
            .execute(&mut *conn)
            .await?;
        let record =
            AuditRecord::user(AuditAction::ConsoleSignedIn, &user.id, Some(session.method));
        Self::audit(conn, ctx, record).await?;
        Ok(user)
    }
}
