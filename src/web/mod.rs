//! What every HTTP door shares (the OAuth endpoints, GraphQL, SCIM, the webhook, the
//! console), below all of them: error bodies, request ids, form decoding, the client's
//! address behind trusted proxies, the body limit and the headers of HTML pages.

pub mod client_address;
pub mod errors;
pub mod form;
pub mod loopback;
pub mod outbound;
pub mod page_security;
pub mod request_id;

pub use client_address::{SourceAddress, TrustedProxies};
pub use outbound::OutboundHosts;

/// Largest request body accepted; token requests are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
