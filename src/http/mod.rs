//! The HTTP side of Keymint: shared state, the router built from the route table, the
//! guard every request passes, request ids, health, and the one server loop (start-up
//! while the database is away, TLS, timeouts, connection cap, drain).

pub mod guard;
pub mod health;
pub mod landing;
pub mod metrics;
pub mod openapi;
mod operations;
mod router;
pub mod routes;
pub mod server;
mod startup;
mod state;
pub mod tls;

pub use router::{metrics_router, router, serve_metrics};
pub use startup::{Ready, serve};
pub use state::{AppParts, AppState, Runtime};
