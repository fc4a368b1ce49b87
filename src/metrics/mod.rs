//! Metrics: the counters the request path fills, and their Prometheus exposition
//! (`GET /metrics`, or `KEYMINT_METRICS_LISTEN`).

mod exposition;
mod family;
mod requests;

pub use exposition::{MetricsSources, metrics};
pub use family::Family;
pub use requests::RequestMetrics;
