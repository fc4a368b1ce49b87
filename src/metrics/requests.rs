//! Per-request metrics: token-endpoint outcomes by environment, outcome and refusal
//! reason, and latency histograms per route. Label sets are small and fixed (route
//! templates, configured environments, a closed set of outcomes), so series never grow
//! with client input.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::Family;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Token requests of one environment by (outcome, reason).
type OutcomeCounts = HashMap<(&'static str, &'static str), AtomicU64>;

/// Counters and histograms filled by the request path.
#[derive(Default)]
pub struct RequestMetrics {
    latency: RwLock<HashMap<String, Histogram>>,
    /// env -> (outcome, reason) -> count; looked up by `&str`, no allocation per request.
    tokens: RwLock<HashMap<String, OutcomeCounts>>,
}

impl RequestMetrics {
    /// Counts one token request of `env` with `outcome` (`issued` or an RFC 6749 error
    /// code) and `reason` (why a client was refused, `none` otherwise).
    pub fn token(&self, env: &str, outcome: &'static str, reason: &'static str) {
        let key = (outcome, reason);
        if let Some(counter) = self
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(env)
            .and_then(|outcomes| outcomes.get(&key))
        {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(env.to_owned())
            .or_default()
            .entry(key)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Records that a request to `route` (a template) took `seconds`.
    pub fn observe(&self, route: &str, seconds: f64) {
        if let Some(h) = self
            .latency
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
        {
            h.observe(seconds);
            return;
        }
        self.latency
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(route.to_owned())
            .or_default()
            .observe(seconds);
    }

    /// The metric families for `/metrics`.
    pub fn families(&self) -> Vec<Family> {
        let mut tokens: Vec<(String, f64)> = self
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|(env, outcomes)| {
                outcomes.iter().map(move |((outcome, reason), n)| {
                    (
                        format!("{{env=\"{env}\",outcome=\"{outcome}\",reason=\"{reason}\"}}"),
                        n.load(Ordering::Relaxed) as f64,
                    )
                })
            })
            .collect();
        tokens.sort_by(|a, b| a.0.cmp(&b.0));
        let mut latency = Vec::new();
        let histograms = self.latency.read().unwrap_or_else(|e| e.into_inner());
        let mut routes: Vec<&String> = histograms.keys().collect();
        routes.sort();
        for route in routes {
            let h = &histograms[route];
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                latency.push((
                    format!("_bucket{{route=\"{route}\",le=\"{bound}\"}}"),
                    cumulative as f64,
                ));
            }
            let count = h.count.load(Ordering::Relaxed) as f64;
            latency.push((format!("_bucket{{route=\"{route}\",le=\"+Inf\"}}"), count));
            latency.push((
                format!("_sum{{route=\"{route}\"}}"),
                h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            ));
            latency.push((format!("_count{{route=\"{route}\"}}"), count));
        }
        vec![
            Family {
                name: "keymint_token_requests_total",
                kind: "counter",
                help: "Token requests by environment, outcome (issued or the RFC 6749 error) and refusal reason.",
                samples: tokens,
            },
            Family {
                name: "keymint_http_request_duration_seconds",
                kind: "histogram",
                help: "Time to answer, by route template.",
                samples: latency,
            },
        ]
    }
}
