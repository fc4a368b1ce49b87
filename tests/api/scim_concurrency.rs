//! SCIM under concurrency: patches of one user at once lose no update, members added to
//! one group at once (at two instances) and a mapping set meanwhile all land, and a
//! deactivation at one instance is refused at another within a second.

use serde_json::json;
use std::time::Duration;

use crate::app::{Backend, TestApp};
use crate::scim::{PATCH, TOKEN, create, permissions_of, scim_app, send};

crate::both_backends!(scim_concurrency:
    concurrent_patches_lose_no_update,
    concurrent_member_changes_and_a_mapping_all_land,
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

/// Twelve members added to one group at once through two instances, while ops map the
/// group's name: every member is in, and every member holds the mapped permission (the
/// groups lock orders the recomputations, so none reads a mapping half set).
pub async fn concurrent_member_changes_and_a_mapping_all_land(backend: Backend) {
    let app = scim_app(backend).await;
    let peer = app.spawn_peer_with(&[("KEYMINT_SCIM_TOKEN", TOKEN)]).await;
    let users: Vec<String> = (0..12).map(|i| format!("member{i:02}")).collect();
    for user in &users {
        create(&app, user, None).await;
    }
    let (_, group) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"displayName": "Crew"})),
    )
    .await;
    let id = group["id"].as_str().unwrap().to_owned();
    let adds = users.iter().enumerate().map(|(i, user)| {
        let target = if i % 2 == 0 { &app } else { &peer };
        let path = format!("/Groups/{id}");
        async move {
            let add = json!({"schemas": [PATCH], "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": user}]}]});
            send(target, "PATCH", &path, Some(add)).await.0
        }
    });
    let deploy = keymint::domain::Permissions::parse(["deploy"]).unwrap();
    let manage = peer.state.management();
    let mapping = manage.set_group_permissions("crew", &deploy);
    let (statuses, mapped) = tokio::join!(futures_util::future::join_all(adds), mapping);
    mapped.unwrap();
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    let (_, group) = send(&app, "GET", &format!("/Groups/{id}"), None).await;
    assert_eq!(group["members"].as_array().unwrap().len(), 12, "{group}");
    for user in &users {
        assert_eq!(permissions_of(&app, user).await, ["deploy"], "{user}");
    }
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
