//! The order in which a published change reaches the caches: an introspection that runs
//! at any moment while a change is being published must never leave an "active" answer
//! cached for a token the change made inactive. The test runs a real introspection
//! (the handler's own function, answered from memory alone) between every two steps of
//! the publication, on the instance that made the change.

use futures_util::FutureExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keymint::domain::EnvironmentName;
use keymint::oauth::introspection_answer;

use crate::app::{Backend, TestApp};
use crate::introspection::{active, revoke, setup, token_of};

crate::both_backends!(feed_order:
    an_introspection_during_a_revocation_never_caches_active,
    an_introspection_during_a_disable_never_caches_active,
);

/// Runs `probe(token)` at every step of each publication from now on, each time with
/// the next token of `tokens` (the last one once they run out); counts the answers that
/// came from memory alone and were active.
fn interleave_introspections(app: &TestApp, tokens: Vec<String>) -> Arc<AtomicUsize> {
    let checker = Arc::clone(&app.state.oauth.tokens);
    let env = EnvironmentName::parse("production").unwrap();
    let active_from_memory = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&active_from_memory);
    let next = Mutex::new(0usize);
    app.state.changes.interleave(move || {
        let token = {
            let mut next = next.lock().unwrap();
            let token = &tokens[(*next).min(tokens.len() - 1)];
            *next += 1;
            token.clone()
        };
        // A gateway's introspection arriving at exactly this moment. Whatever needs the
        // database stays pending and is dropped: only memory answers here.
        if let Some(Ok(_)) = introspection_answer(&checker, &env, &token).now_or_never() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    active_from_memory
}

pub(crate) async fn an_introspection_during_a_revocation_never_caches_active(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    let token = token_of(&app.mint("production", &alice).await);
    // The key's state is held in memory (another token of it was introspected) and the
    // revocation list is complete, so the probe can answer `token` from memory alone.
    let other = token_of(&app.mint("production", &alice).await);
    assert!(active(&app, &gateway, &other).await);
    app.settle().await;

    let from_memory = interleave_introspections(&app, vec![token.clone()]);
    assert_eq!(revoke(&app, &alice, &token, None).await.status(), 200);
    app.state.changes.interleave(|| {});
    assert!(
        from_memory.load(Ordering::SeqCst) > 0,
        "no probe answered from memory: the test proves nothing"
    );
    assert!(
        !active(&app, &gateway, &token).await,
        "an introspection during the revocation left the revoked token cached as active"
    );
    app.settle().await;
    assert!(!active(&app, &gateway, &token).await);
    assert!(active(&app, &gateway, &other).await);
}

pub(crate) async fn an_introspection_during_a_disable_never_caches_active(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    // Tokens never introspected before: each probe misses the token cache and answers
    // from the key state held in memory.
    let mut tokens = Vec::new();
    for _ in 0..16 {
        tokens.push(token_of(&app.mint("production", &alice).await));
    }
    let warm = token_of(&app.mint("production", &alice).await);
    assert!(active(&app, &gateway, &warm).await);
    app.settle().await;

    let from_memory = interleave_introspections(&app, tokens.clone());
    app.disable(&alice).await;
    app.state.changes.interleave(|| {});
    assert!(
        from_memory.load(Ordering::SeqCst) > 0,
        "no probe answered from memory: the test proves nothing"
    );
    for (i, token) in tokens.iter().chain([&warm]).enumerate() {
        assert!(
            !active(&app, &gateway, token).await,
            "token {i}: an introspection during the disable left it cached as active"
        );
    }
}
