//! The client's address, for per-address limits: the TCP peer, or behind a TLS proxy
//! (`KEYMINT_BEHIND_TLS_PROXY=1`) the last `X-Forwarded-For` entry, the one the proxy
//! appended. Earlier entries are the client's own words and are never trusted.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use crate::app::AppState;

/// The source address of a request, when known.
#[derive(Debug, Clone, Copy)]
pub struct SourceAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for SourceAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.behind_tls_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|last| last.trim().parse::<IpAddr>().ok());
            return Ok(Self(forwarded));
        }
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
        ))
    }
}
