//! Queries: `apiKeys` (any authenticated caller; own keys, or all for `admin`),
//! `auditEvents`, `users` and `user` (admin only).

use async_graphql::{Context, Object, Result};

use super::RequestContext;
use super::errors::{bad_input, forbidden};
use super::types::{
    ApiKeyConnection, ApiKeyEdge, ApiKeyNode, AuditEventConnection, AuditEventEdge, PageInfo,
    UserNode, cursor, parse_cursor,
};
use crate::domain::UserId;
use crate::store::{AuditQuery, KeyQuery, UserQuery};

/// Largest page.
const MAX_PAGE: i32 = 100;

#[derive(Default)]
pub struct QueryRoot;

fn page_size(first: Option<i32>) -> Result<u32> {
    match first {
        None => Ok(50),
        Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(n as u32),
        Some(_) => Err(bad_input(format!("first must be between 0 and {MAX_PAGE}"))),
    }
}

fn parse_after(kind: &str, after: Option<String>) -> Result<Option<i64>> {
    after
        .map(|c| {
            parse_cursor(kind, &c).ok_or_else(|| bad_input("after is not a cursor of this list"))
        })
        .transpose()
}

/// The users matching `query`, for an admin caller.
async fn users_for_admin(ctx: &Context<'_>, query: UserQuery) -> Result<Vec<UserNode>> {
    let rc = ctx.data::<RequestContext>()?;
    let caller = rc.caller.as_ref().map_err(|e| e.to_graphql())?;
    if !caller.is_admin() {
        return Err(forbidden("users requires the admin permission"));
    }
    let (users, _) = rc
        .state
        .management
        .store()
        .list_users(&query)
        .await
        .map_err(|e| super::errors::from_manage(e.into()))?;
    Ok(users.into_iter().map(UserNode::from).collect())
}

#[Object]
impl QueryRoot {
    /// Users in id order, with their current permissions and key counts. Requires
    /// `admin`. `after` is the last id of the previous page.
    #[graphql(complexity = "first.unwrap_or(50).max(0) as usize * child_complexity + 1")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<UserNode>> {
        let query = UserQuery {
            id: None,
            after,
            limit: page_size(first)?,
        };
        users_for_admin(ctx, query).await
    }

    /// One key of this environment by its client id: the caller's own, or any for
    /// `admin`; null otherwise (whether it exists elsewhere does not leak). Fetches an
    /// `_etag` without paging.
    async fn api_key(&self, ctx: &Context<'_>, client_id: String) -> Result<Option<ApiKeyNode>> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = rc.caller.as_ref().map_err(|e| e.to_graphql())?;
        let found = rc
            .state
            .management
            .store()
            .get_key(&crate::domain::ClientId::new(client_id))
            .await;
        let key = match found {
            Ok(key) => key,
            Err(crate::store::StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(super::errors::from_manage(e.into())),
        };
        let visible =
            key.environment == rc.environment && (key.owner_id == caller.user || caller.is_admin());
        Ok(visible.then(|| ApiKeyNode::from_key(key, None)))
    }

    /// One user, or null when unknown. Requires `admin`.
    async fn user(&self, ctx: &Context<'_>, id: String) -> Result<Option<UserNode>> {
        let id = UserId::parse(&id).ok_or_else(|| bad_input("id is not a user id"))?;
        let query = UserQuery {
            id: Some(id),
            after: None,
            limit: 1,
        };
        Ok(users_for_admin(ctx, query).await?.pop())
    }

    /// API keys of this environment: the caller's own, or every key for `admin`.
    #[graphql(complexity = "first.unwrap_or(50).max(0) as usize * child_complexity + 1")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ApiKeyConnection> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = rc.caller.as_ref().map_err(|e| e.to_graphql())?;
        let limit = page_size(first)?;
        let query = KeyQuery {
            environment: rc.environment.clone(),
            owner: (!caller.is_admin()).then(|| caller.user.clone()),
            after: parse_after("key", after)?,
            limit,
        };
        let page = rc
            .state
            .management
            .store()
            .list_keys(&query)
            .await
            .map_err(|e| super::errors::from_manage(e.into()))?;
        let edges: Vec<ApiKeyEdge> = page
            .entries
            .into_iter()
            .map(|(seq, key)| ApiKeyEdge {
                cursor: cursor("key", seq),
                node: ApiKeyNode::from_key(key, None),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: false,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Ok(ApiKeyConnection {
            edges,
            page_info,
            total_count: page.total_count,
        })
    }

    /// The audit trail of this environment (and user-level entries), oldest first.
    /// Requires `admin`.
    #[graphql(complexity = "first.unwrap_or(50).max(0) as usize * child_complexity + 1")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        client_id: Option<String>,
        user_id: Option<String>,
    ) -> Result<AuditEventConnection> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = rc.caller.as_ref().map_err(|e| e.to_graphql())?;
        if !caller.is_admin() {
            return Err(forbidden("auditEvents requires the admin permission"));
        }
        let query = AuditQuery {
            environment: Some(rc.environment.to_string()),
            client_id,
            user_id,
            after: parse_after("audit", after)?,
            limit: page_size(first)?,
            newest_first: false,
        };
        let store = rc.state.management.store();
        let unavailable = |e: crate::store::StoreError| super::errors::from_manage(e.into());
        let (events, more) = store.list_audit(&query).await.map_err(unavailable)?;
        let total_count = store.count_audit(&query).await.map_err(unavailable)?;
        let edges: Vec<AuditEventEdge> = events
            .into_iter()
            .map(|e| AuditEventEdge {
                cursor: cursor("audit", e.seq),
                node: e.into(),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: more,
            has_previous_page: false,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Ok(AuditEventConnection {
            edges,
            page_info,
            total_count,
        })
    }
}
