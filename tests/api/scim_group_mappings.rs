//! Group mappings in GraphQL: `setGroupPermissions` and `groupPermissions`, for admins
//! only, the same use case as `keymint groups set-permissions`.

use serde_json::{Value, json};

use crate::app::Backend;
use crate::scim::{create, permissions_of, scim_app, send};

crate::both_backends!(scim_group_mappings:
    group_mappings_in_graphql_are_for_admins,
);

/// `setGroupPermissions` and `groupPermissions`: for admins only, the same use case as
/// the CLI, and what a member holds then shows in `user`.
pub async fn group_mappings_in_graphql_are_for_admins(backend: Backend) {
    let app = scim_app(backend).await;
    app.user("root", &["admin", "deploy", "CreateAPIKey"]).await;
    app.user("dev", &["CreateAPIKey"]).await;
    create(&app, "mo", None).await;
    let (_, group) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"displayName": "Release Managers", "members": [{"value": "mo"}]})),
    )
    .await;
    assert!(group["id"].is_string(), "{group}");
    let admin = app
        .access_token("production", &app.key("root", "production").await)
        .await;
    let dev = app
        .access_token("production", &app.key("dev", "production").await)
        .await;
    let set = "mutation($input: GroupPermissionsInput!) { setGroupPermissions(input: $input) \
               { mapping { group permissions updatedAt } usersChanged } }";
    let input =
        json!({"input": {"group": "release managers", "permissions": ["deploy", "CreateAPIKey"]}});

    let (_, body) = app
        .graphql("production", Some(&dev), set, input.clone())
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert!(
        permissions_of(&app, "mo").await.is_empty(),
        "a refused mapping applied"
    );

    let (_, body) = app.graphql("production", Some(&admin), set, input).await;
    let payload = &body["data"]["setGroupPermissions"];
    assert_eq!(payload["usersChanged"], 1, "{body}");
    assert_eq!(
        payload["mapping"]["permissions"],
        json!(["CreateAPIKey", "deploy"])
    );
    assert_eq!(permissions_of(&app, "mo").await, ["CreateAPIKey", "deploy"]);
    let (_, body) = app
        .graphql(
            "production",
            Some(&admin),
            "{ groupPermissions { group permissions } user(id: \"mo\") { permissions groupPermissions } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["groupPermissions"],
        json!([{"group": "release managers", "permissions": ["CreateAPIKey", "deploy"]}])
    );
    assert_eq!(
        body["data"]["user"]["groupPermissions"],
        json!(["CreateAPIKey", "deploy"])
    );
    let (_, body) = app
        .graphql(
            "production",
            Some(&dev),
            "{ groupPermissions { group } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let beyond = json!({"input": {"group": "release managers", "permissions": ["payroll:write"]}});
    let (_, body) = app.graphql("production", Some(&admin), set, beyond).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(
        permissions_of(&app, "mo").await,
        ["CreateAPIKey", "deploy"],
        "unchanged"
    );
    let bad = json!({"input": {"group": " ", "permissions": ["deploy"]}});
    let (_, body) = app.graphql("production", Some(&admin), set, bad).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let bad = json!({"input": {"group": "g", "permissions": ["has space"]}});
    let (_, body) = app.graphql("production", Some(&admin), set, bad).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let audit = "{ auditEvents(first: 100) { edges { node { action source target reason } } } }";
    let (_, body) = app
        .graphql("production", Some(&admin), audit, json!({}))
        .await;
    let set_entries: Vec<&Value> = body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["action"] == "group.permissions_set")
        .collect();
    assert_eq!(
        set_entries,
        [
            &json!({"action": "group.permissions_set", "source": "graphql",
            "target": "release managers", "reason": "CreateAPIKey deploy"})
        ]
    );
}
