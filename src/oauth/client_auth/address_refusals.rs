//! Good credentials presented from an address a key's allow-list excludes: someone holds
//! them outside the networks they belong to. Each refusal is logged and counted; the
//! audit trail gets one entry per key and minute at this instance (`key.address_refused`,
//! the address as its target), written off the request path, so a flood from a leaked
//! secret costs one write a minute, not one per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::domain::{Actor, ApiKey, AuditAction, ChangeSource, ClientId};
use crate::store::{Store, WriteContext};

/// Least time between two audit entries of one key (per instance).
const EVERY: time::Duration = time::Duration::minutes(1);
/// Keys remembered; past this the map starts over (at worst one more entry per key).
const MAX_KEYS: usize = 10_000;

/// See the module documentation.
pub struct AddressRefusals {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    last: Mutex<HashMap<ClientId, OffsetDateTime>>,
}

impl AddressRefusals {
    /// Refusals audited in `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that `key`'s credentials came from `source`, outside its allow-list.
    pub fn note(&self, key: &ApiKey, source: Option<IpAddr>) {
        let now = self.clock.now();
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if last.get(&key.client_id).is_some_and(|at| now - *at < EVERY) {
                return;
            }
            if last.len() >= MAX_KEYS {
                last.clear();
            }
            last.insert(key.client_id.clone(), now);
        }
        let ctx = WriteContext {
            now,
            actor: Actor {
                client_id: Some(key.client_id.clone()),
                ..Actor::system(ChangeSource::OAuth)
            },
            request_id: None,
        };
        let (store, key) = (Arc::clone(&self.store), key.clone());
        let address = source.map_or_else(|| "unknown".to_owned(), |a| a.to_canonical().to_string());
        tokio::spawn(async move {
            let written = store
                .audit_key(
                    &key,
                    AuditAction::KeyAddressRefused,
                    Some("ip_not_allowed"),
                    Some(&address),
                    &ctx,
                )
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "auditing a refused address failed");
            }
        });
    }
}
