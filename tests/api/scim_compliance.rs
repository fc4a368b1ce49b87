//! What scim2-tester (tests/scim_client.rs) reported against earlier versions, each
//! checked here without it: Schema resources name their schema, unknown routes answer a
//! SCIM error, `attributes`/`excludedAttributes` are honoured, `POST .search` works, and
//! a PATCH removing `active` takes effect.

use serde_json::json;

use crate::app::Backend;
use crate::scim::{PATCH, USER, assert_error, scim_app, send};

crate::both_backends!(scim_compliance:
    schemas_name_their_schema_and_unknown_routes_answer_scim_errors,
    attribute_selection_and_search_requests,
    removing_active_takes_effect,
);

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

pub(crate) async fn schemas_name_their_schema_and_unknown_routes_answer_scim_errors(
    backend: Backend,
) {
    let app = scim_app(backend).await;
    for id in [
        USER,
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        let (status, schema) = send(&app, "GET", &format!("/Schemas/{id}"), None).await;
        assert_eq!(status, 200, "{schema}");
        assert_eq!(
            schema["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]),
            "{id}"
        );
    }
    let (status, body) = send(&app, "GET", "/NoSuchThing/42", None).await;
    assert_eq!(status, 404);
    assert_error(&body, 404, None);
}

pub(crate) async fn attribute_selection_and_search_requests(backend: Backend) {
    let app = scim_app(backend).await;
    for (name, display) in [("ada", "Ada"), ("bob", "Bob")] {
        let user = json!({"schemas": [USER], "userName": name, "displayName": display,
                          "name": {"givenName": display, "familyName": "X"}});
        assert_eq!(send(&app, "POST", "/Users", Some(user)).await.0, 201);
    }
    let (_, ada) = send(
        &app,
        "GET",
        "/Users/ada?excludedAttributes=displayName,name.familyName",
        None,
    )
    .await;
    assert!(ada.get("displayName").is_none(), "{ada}");
    assert_eq!(ada["name"], json!({"givenName": "Ada"}));
    assert_eq!(
        (ada["id"].as_str(), ada["userName"].as_str()),
        (Some("ada"), Some("ada"))
    );
    let (_, list) = send(&app, "GET", "/Users?attributes=userName", None).await;
    for user in list["Resources"].as_array().unwrap() {
        assert!(
            user.get("displayName").is_none() && user.get("name").is_none(),
            "{user}"
        );
        assert!(
            user["userName"].is_string() && user["id"].is_string(),
            "{user}"
        );
    }
    let search = json!({"schemas": [SEARCH], "filter": "userName eq \"bob\"",
                        "excludedAttributes": ["displayName"]});
    let (status, found) = send(&app, "POST", "/Users/.search", Some(search)).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], "bob");
    assert!(found["Resources"][0].get("displayName").is_none());
    // At the root: users, then groups, paged as one list.
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"});
    assert_eq!(send(&app, "POST", "/Groups", Some(group)).await.0, 201);
    let all = json!({"schemas": [SEARCH], "startIndex": 2, "count": 2});
    let (status, page) = send(&app, "POST", "/.search", Some(all)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["totalResults"], 3);
    let kinds: Vec<_> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["User", "Group"]);
    let bad = json!({"schemas": ["urn:example:not-a-search"]});
    let (status, body) = send(&app, "POST", "/Users/.search", Some(bad)).await;
    assert_eq!(status, 400);
    assert_error(&body, 400, Some("invalidValue"));
}

pub(crate) async fn removing_active_takes_effect(backend: Backend) {
    let app = scim_app(backend).await;
    let user = json!({"schemas": [USER], "userName": "cy", "active": false});
    assert_eq!(send(&app, "POST", "/Users", Some(user)).await.0, 201);
    let id = keymint::domain::UserId::parse("cy").unwrap();
    assert!(!app.state.store.get_user(&id).await.unwrap().active);
    let remove = json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "active"}]});
    let (status, patched) = send(&app, "PATCH", "/Users/cy", Some(remove)).await;
    assert_eq!(status, 200, "{patched}");
    // Unassigned, and read as Keymint's default for an unassigned `active`: active.
    assert!(patched.get("active").is_none(), "{patched}");
    let (_, read) = send(&app, "GET", "/Users/cy", None).await;
    assert!(read.get("active").is_none(), "{read}");
    assert!(app.state.store.get_user(&id).await.unwrap().active);
}
