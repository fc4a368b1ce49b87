//! SCIM under concurrency: patches of one user at once lose no update, and a deactivation
//! at one instance is refused at another within a second.

use serde_json::json;
use std::time::Duration;

use crate::app::{Backend, TestApp};
use crate::scim::{PATCH, TOKEN, create, permissions_of, scim_app, send};

crate::both_backends!(scim_concurrency:
    concurrent_patches_lose_no_update,
);

/// Eight directories' worth of PATCHes at once, each adding one role: every role is there
/// afterwards (a PATCH writes back only the version it read, else patches it again).
pub async fn concurrent_patches_lose_no_update(backend: Backend) {
    let app = scim_app(backend).await;
    create(&app, "frank", None).await;
    let patches = (0..8).map(|i| {
        let app = &app;
        async move {
            let add = json!({"schemas": [PATCH], "Operations": [
                {"op": "add", "path": "roles", "value": [{"value": format!("role{i}")}]},
            ]});
            send(app, "PATCH", "/Users/frank", Some(add)).await.0
        }
    });
    let statuses = futures_util::future::join_all(patches).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let expected: Vec<String> = (0..8).map(|i| format!("role{i}")).collect();
    assert_eq!(permissions_of(&app, "frank").await, expected);
}

mod postgres_instances {
    use super::*;

    /// A SCIM deactivation answered by instance A: instance B refuses the user's key
    /// within a second.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn a_scim_deactivation_at_one_instance_is_refused_at_the_other_within_a_second() {
        let a = TestApp::spawn_with(Backend::Postgres, &[("KEYMINT_SCIM_TOKEN", TOKEN)]).await;
        let b = a.spawn_peer().await;
        create(&a, "erin", None).await;
        let key = a.key("erin", "production").await;
        assert_eq!(b.token_status("production", &key).await, 200, "cached at B");
        let deactivate = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
        let (status, _) = send(&a, "PATCH", "/Users/erin", Some(deactivate)).await;
        assert_eq!(status, 200);
        let refused = TestApp::eventually(Duration::from_secs(1), || async {
            b.token_status("production", &key).await == 401
        })
        .await;
        assert!(
            refused.is_some(),
            "B still issues tokens for a deactivated user"
        );
    }
}
