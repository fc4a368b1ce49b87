//! SCIM Groups: the requests Entra ID and Okta send to push groups and their members,
//! and the mapping ops keep from group names to permissions. A member's current
//! permissions are its own together with its groups' mapped ones, and a key created
//! afterwards carries them (checked through the published JWKS); older keys keep their
//! frozen sets. Renames, mapping changes, deletes and a SCIM user's delete all move the
//! permissions at once; bad requests get SCIM errors and change nothing.

use serde_json::{Value, json};

use crate::app::{Backend, TestApp};
use crate::scim::{PATCH, USER, assert_error, create, permissions_of, scim_app, send, send_as};

crate::both_backends!(scim_groups:
    entra_pushes_a_group_and_its_members_hold_the_mapped_permissions,
    okta_pushes_groups_and_ops_change_the_mapping_on_any_instance,
    bad_group_requests_get_scim_errors_and_change_nothing,
    a_deleted_user_leaves_its_groups,
);

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn map(app: &TestApp, group: &str, permissions: &[&str]) -> u64 {
    let permissions = keymint::domain::Permissions::parse(permissions).unwrap();
    app.state
        .management()
        .set_group_permissions(group, &permissions)
        .await
        .unwrap()
}

/// The permissions claim of a token minted with a key created now for `user`.
async fn new_key_permissions(app: &TestApp, user: &str) -> Value {
    let key = app.key(user, "production").await;
    let token = app.access_token("production", &key).await;
    app.verify("production", &token).await.unwrap()["permissions"].clone()
}

async fn count(app: &TestApp, query: &str) -> i64 {
    let (status, found) = send(app, "GET", &format!("/Groups?{query}"), None).await;
    assert_eq!(status, 200, "{found}");
    found["totalResults"].as_i64().unwrap()
}

/// Entra ID's documented group requests (learn.microsoft.com, "Tutorial: Develop and plan
/// provisioning for a SCIM endpoint": create group, add and remove a member, rename).
pub async fn entra_pushes_a_group_and_its_members_hold_the_mapped_permissions(backend: Backend) {
    let app = scim_app(backend).await;
    map(&app, "Keymint Key Admins", &["CreateAPIKey", "admin"]).await;
    let user = json!({"schemas": [USER], "userName": "ann@contoso.com", "externalId": "ann-1",
        "roles": [{"primary": false, "type": "WindowsAzureActiveDirectoryRole", "value": "runs:read"}]});
    let (status, _) = send(&app, "POST", "/Users", Some(user)).await;
    assert_eq!(status, 201);
    let before = app.key("ann-1", "production").await;

    let lookup = "excludedAttributes=members&filter=displayName+eq+%22Keymint+Key+Admins%22";
    assert_eq!(count(&app, lookup).await, 0);
    let create = json!({
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Keymint Key Admins",
        "meta": {"resourceType": "Group"},
        "schemas": [GROUP],
    });
    let (status, group) = send(&app, "POST", "/Groups", Some(create)).await;
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["members"], json!([]));
    assert_eq!(group["meta"]["resourceType"], "Group");
    let id = group["id"].as_str().unwrap().to_owned();
    let (_, found) = send(&app, "GET", &format!("/Groups?{lookup}"), None).await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none(), "{found}");
    assert_eq!(permissions_of(&app, "ann-1").await, ["runs:read"]);

    let add = json!({"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "ann-1"}]}]});
    let (status, body) = send(&app, "PATCH", &format!("/Groups/{id}"), Some(add)).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(
        permissions_of(&app, "ann-1").await,
        ["CreateAPIKey", "admin", "runs:read"]
    );
    assert_eq!(
        new_key_permissions(&app, "ann-1").await,
        json!(["CreateAPIKey", "admin", "runs:read"])
    );
    let token = app.access_token("production", &before).await;
    assert_eq!(
        app.verify("production", &token).await.unwrap()["permissions"],
        json!(["runs:read"]),
        "a key keeps the permissions it was created with"
    );
    let member =
        format!("filter=id+eq+%22{id}%22+and+members+eq+%22ann-1%22&excludedAttributes=members");
    assert_eq!(count(&app, &member).await, 1);
    let (_, group) = send(&app, "GET", &format!("/Groups/{id}"), None).await;
    assert_eq!(group["members"][0]["value"], "ann-1");
    assert!(
        group["members"][0]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("/scim/v2/Users/ann-1")
    );

    // A rename moves the group to the mapping of its new name (none), and back.
    let rename = |name: &str| {
        json!({"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "displayName", "value": name}]})
    };
    let (status, _) = send(
        &app,
        "PATCH",
        &format!("/Groups/{id}"),
        Some(rename("1879db59")),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(permissions_of(&app, "ann-1").await, ["runs:read"]);
    let (status, _) = send(
        &app,
        "PATCH",
        &format!("/Groups/{id}"),
        Some(rename("keymint key admins")),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        permissions_of(&app, "ann-1").await,
        ["CreateAPIKey", "admin", "runs:read"],
        "mapping names match case-insensitively"
    );

    let remove = json!({"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members[value eq \"ann-1\"]"}]});
    let (status, _) = send(&app, "PATCH", &format!("/Groups/{id}"), Some(remove)).await;
    assert_eq!(status, 204);
    assert_eq!(permissions_of(&app, "ann-1").await, ["runs:read"]);
    assert_eq!(count(&app, &member).await, 0);
    assert_eq!(
        new_key_permissions(&app, "ann-1").await,
        json!(["runs:read"])
    );

    assert_eq!(app.audit_count("ann-1", "user.group_added").await, 1);
    assert_eq!(app.audit_count("ann-1", "user.group_removed").await, 1);
    let query = keymint::store::AuditQuery {
        limit: 100,
        ..Default::default()
    };
    let (entries, _) = app.state.store.list_audit(&query).await.unwrap();
    let group_entries: Vec<_> = entries
        .iter()
        .filter(|e| e.action.starts_with("group.") || e.action.starts_with("user.group"))
        .collect();
    assert_eq!(group_entries.len(), 6, "{group_entries:?}");
    assert!(
        group_entries
            .iter()
            .filter(|e| e.action != "group.permissions_set")
            .all(|e| e.source == "scim"),
        "{group_entries:?}"
    );
    assert!(
        group_entries
            .iter()
            .any(|e| e.action == "group.created"
                && e.target.as_deref() == Some("Keymint Key Admins"))
    );
}

/// Okta's group push (developer.okta.com, "SCIM 2.0 protocol reference": create with
/// members, rename by path-less replace, add and remove members, delete), and mapping
/// changes by ops, seen by a second instance on the same database.
pub async fn okta_pushes_groups_and_ops_change_the_mapping_on_any_instance(backend: Backend) {
    let app = scim_app(backend).await;
    for (name, ext) in [("amy@okta.local", "00u1"), ("ben@okta.local", "00u2")] {
        create(&app, name, Some(ext)).await;
    }
    let push = json!({"schemas": [GROUP], "displayName": "Test SCIMv2",
        "members": [{"value": "00u1", "display": "amy@okta.local"}]});
    let (status, group) = send(&app, "POST", "/Groups", Some(push)).await;
    assert_eq!(status, 201, "{group}");
    let id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert!(
        permissions_of(&app, "00u1").await.is_empty(),
        "an unmapped group grants nothing"
    );

    // Ops map the group on another instance; the change is in the database, so every
    // instance's next key creation sees it.
    let peer = app.spawn_peer().await;
    assert_eq!(
        map(&peer, "test scimv2", &["CreateAPIKey", "deploy"]).await,
        1
    );
    assert_eq!(
        new_key_permissions(&app, "00u1").await,
        json!(["CreateAPIKey", "deploy"])
    );

    let okta_patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"id": id, "displayName": "Test SCIMv2"}},
        {"op": "add", "path": "members", "value": [{"value": "00u2", "display": "ben@okta.local"}]},
        {"op": "remove", "path": "members[value eq \"00u1\"]"}]});
    let (status, body) = send(&app, "PATCH", &format!("/Groups/{id}"), Some(okta_patch)).await;
    assert_eq!(status, 204, "{body}");
    assert!(permissions_of(&app, "00u1").await.is_empty());
    assert_eq!(
        permissions_of(&app, "00u2").await,
        ["CreateAPIKey", "deploy"]
    );

    // A PUT that leaves members out keeps them; one that sends them replaces them.
    let (status, group) = send(
        &app,
        "PUT",
        &format!("/Groups/{id}"),
        Some(json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "x-note": "kept"})),
    )
    .await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["members"][0]["value"], "00u2");
    assert_eq!(group["x-note"], "kept");
    let (_, group) = send(
        &app,
        "PUT",
        &format!("/Groups/{id}"),
        Some(json!({"schemas": [GROUP], "displayName": "Test SCIMv2",
            "members": [{"value": "00u1"}, {"value": "00u2"}]})),
    )
    .await;
    assert_eq!(group["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        permissions_of(&app, "00u1").await,
        ["CreateAPIKey", "deploy"]
    );

    // The user's own permissions stay beside the group's.
    let own = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "entitlements", "value": [{"value": "runs:read"}]}]});
    let (status, _) = send(&app, "PATCH", "/Users/00u1", Some(own)).await;
    assert_eq!(status, 200);
    assert_eq!(
        permissions_of(&app, "00u1").await,
        ["CreateAPIKey", "deploy", "runs:read"]
    );
    assert_eq!(map(&app, "Test SCIMv2", &["deploy"]).await, 2);
    assert_eq!(permissions_of(&app, "00u1").await, ["deploy", "runs:read"]);
    assert_eq!(
        map(&app, "Test SCIMv2", &[]).await,
        2,
        "the mapping is removed"
    );
    assert_eq!(permissions_of(&app, "00u1").await, ["runs:read"]);
    assert!(app.state.store.group_mappings().await.unwrap().is_empty());

    map(&app, "Test SCIMv2", &["deploy"]).await;
    let (status, _) = send(&app, "DELETE", &format!("/Groups/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(permissions_of(&app, "00u2").await, Vec::<String>::new());
    let (status, body) = send(&app, "GET", &format!("/Groups/{id}"), None).await;
    assert_eq!(status, 404);
    assert_error(&body, 404, None);
    assert_eq!(app.audit_count("00u2", "user.group_removed").await, 1);
}

pub async fn bad_group_requests_get_scim_errors_and_change_nothing(backend: Backend) {
    let app = scim_app(backend).await;
    create(&app, "kim", None).await;
    map(&app, "Ops", &["admin"]).await;
    let (status, body) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Ops",
            "members": [{"value": "kim"}, {"value": "nobody"}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, 400, Some("invalidValue"));
    assert!(
        body["detail"].as_str().unwrap().contains("nobody"),
        "{body}"
    );
    assert_eq!(count(&app, "").await, 0, "a refused create left a group");
    assert!(permissions_of(&app, "kim").await.is_empty());

    let (status, group) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"displayName": "Ops", "members": [{"value": "kim"}]})),
    )
    .await;
    assert_eq!(status, 201);
    let id = group["id"].as_str().unwrap().to_owned();
    let (status, body) = send(&app, "POST", "/Groups", Some(json!({"displayName": "OPS"}))).await;
    assert_eq!(status, 409);
    assert_error(&body, 409, Some("uniqueness"));

    for (patch, kind) in [
        (
            json!({"Operations": [{"op": "add", "path": "members[value eq \"kim\"]", "value": []}]}),
            "invalidPath",
        ),
        (
            json!({"Operations": [{"op": "remove", "path": "members[display eq \"kim\"]"}]}),
            "invalidFilter",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]}),
            "invalidValue",
        ),
        (
            json!({"Operations": [{"op": "replace", "path": "displayName", "value": ""}]}),
            "invalidValue",
        ),
        (
            json!({"Operations": [{"op": "jump", "path": "displayName"}]}),
            "invalidSyntax",
        ),
        (json!({"Operations": "none"}), "invalidSyntax"),
    ] {
        let (status, body) =
            send(&app, "PATCH", &format!("/Groups/{id}"), Some(patch.clone())).await;
        assert_eq!(status, 400, "{patch}: {body}");
        assert_error(&body, 400, Some(kind));
    }
    let (_, group) = send(&app, "GET", &format!("/Groups/{id}"), None).await;
    assert_eq!(
        (&group["displayName"], &group["meta"]["version"]),
        (&json!("Ops"), &json!("W/\"1\""))
    );
    assert_eq!(permissions_of(&app, "kim").await, ["admin"]);

    for bad in [
        "filter=userName+eq+%22a%22",
        "filter=members+co+%22k%22",
        "filter=displayName+eq",
    ] {
        let (status, body) = send(&app, "GET", &format!("/Groups?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}");
        assert_error(&body, 400, Some("invalidFilter"));
    }
    for (method, path) in [("GET", "/Groups/nope"), ("DELETE", "/Groups/nope")] {
        let (status, body) = send(&app, method, path, None).await;
        assert_eq!(status, 404);
        assert_error(&body, 404, None);
    }
    let long = format!("/Groups/{}", "x".repeat(300));
    assert_eq!(send(&app, "GET", &long, None).await.0, 404);
    let (status, body) = send_as(&app, "DELETE", &format!("/Groups/{id}"), None, None).await;
    assert_eq!(status, 401);
    assert_error(&body, 401, None);
    assert_eq!(
        count(&app, "").await,
        1,
        "an unauthorised delete changed something"
    );

    let (_, types) = send(&app, "GET", "/ResourceTypes/Group", None).await;
    assert_eq!(
        (&types["endpoint"], &types["schema"]),
        (&json!("/Groups"), &json!(GROUP))
    );
    let (status, schema) = send(&app, "GET", &format!("/Schemas/{GROUP}"), None).await;
    assert_eq!(status, 200);
    assert!(
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "members")
    );
}

pub async fn a_deleted_user_leaves_its_groups(backend: Backend) {
    let app = scim_app(backend).await;
    create(&app, "lee", None).await;
    map(&app, "Deployers", &["deploy"]).await;
    let (_, group) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"displayName": "Deployers", "members": [{"value": "lee"}]})),
    )
    .await;
    let id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(permissions_of(&app, "lee").await, ["deploy"]);
    let (status, _) = send(&app, "DELETE", "/Users/lee", None).await;
    assert_eq!(status, 204);
    assert!(permissions_of(&app, "lee").await.is_empty());
    let (_, group) = send(&app, "GET", &format!("/Groups/{id}"), None).await;
    assert_eq!(group["members"], json!([]));
    assert_eq!(app.audit_count("lee", "user.group_removed").await, 1);
    // Back through SCIM, the user starts with no groups.
    create(&app, "lee", None).await;
    assert!(permissions_of(&app, "lee").await.is_empty());
}
