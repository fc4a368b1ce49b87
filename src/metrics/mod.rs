//! Metrics: the counters the request path fills, and the Prometheus text format they
//! are written in. The exposition (`GET /metrics`) is `http::metrics`, above every
//! feature it reads.

mod family;
mod requests;

pub use family::Family;
pub use requests::RequestMetrics;
