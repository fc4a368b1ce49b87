//! SCIM 2.0 at `/scim/v2` with the exact bodies Okta and Microsoft Entra ID document for
//! create, deactivate, reactivate and delete, each followed by a token request proving the
//! keys' state; filters, paging, uniqueness, PATCH of multi-valued attributes, unknown
//! attributes kept, the token, bad bodies. `scim_concurrency.rs`: concurrent patches and
//! two instances.

use serde_json::{Value, json};

use crate::app::{Backend, TestApp};

crate::both_backends!(scim:
    scim_is_off_without_a_token_and_needs_the_token,
    okta_provisions_deactivates_and_reactivates,
    entra_provisions_deactivates_and_deletes,
    filters_pages_and_uniqueness,
    patches_of_multi_valued_attributes_change_permissions_and_keep_the_rest,
    bad_bodies_get_scim_errors_and_change_nothing,
);

pub const TOKEN: &str = "scim-test-token-0123456789";
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub async fn scim_app(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, &[("KEYMINT_SCIM_TOKEN", TOKEN)]).await
}

/// Sends a SCIM request with the token; returns status and JSON body (`Null` if none).
pub async fn send(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    send_as(app, method, path, body, Some(TOKEN)).await
}

pub async fn send_as(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, app.url(&format!("/scim/v2{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn assert_error(body: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], status.to_string(), "{body}");
    if let Some(kind) = scim_type {
        assert_eq!(body["scimType"], kind, "{body}");
    }
}

async fn total(app: &TestApp) -> i64 {
    send(app, "GET", "/Users", None).await.1["totalResults"]
        .as_i64()
        .unwrap()
}

pub async fn scim_is_off_without_a_token_and_needs_the_token(backend: Backend) {
    let off = TestApp::spawn(backend).await;
    let (status, body) = send(&off, "GET", "/Users", None).await;
    assert_eq!(status, 404);
    assert_error(&body, 404, None);

    let app = scim_app(backend).await;
    let create = json!({"schemas": [USER], "userName": "mallory"});
    for token in [None, Some("wrong-token-but-long-enough"), Some("")] {
        let (status, body) = send_as(&app, "POST", "/Users", Some(create.clone()), token).await;
        assert_eq!(status, 401, "{token:?}");
        assert_error(&body, 401, None);
    }
    assert_eq!(total(&app).await, 0, "a refused request changed something");
    let (status, config) = send(&app, "GET", "/ServiceProviderConfig", None).await;
    assert_eq!(status, 200);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 100);
    assert_eq!(config["bulk"]["supported"], false);
    let (_, types) = send(&app, "GET", "/ResourceTypes", None).await;
    assert_eq!(types["Resources"][0]["schema"], USER);
    let (status, schema) = send(&app, "GET", &format!("/Schemas/{USER}"), None).await;
    assert_eq!(status, 200);
    assert!(
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "userName")
    );
}

/// Okta's documented requests (developer.okta.com, "SCIM 2.0 protocol reference").
pub async fn okta_provisions_deactivates_and_reactivates(backend: Backend) {
    let app = scim_app(backend).await;
    let (status, found) = send(
        &app,
        "GET",
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        None,
    )
    .await;
    assert_eq!((status, &found["totalResults"]), (200, &json!(0)));
    let create = json!({
        "schemas": [USER],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true,
    });
    let (status, user) = send(&app, "POST", "/Users", Some(create)).await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id, "00ujl29u0le5T6Aj10h7",
        "the Keymint id is the externalId"
    );
    assert!(
        user.get("password").is_none(),
        "a password was stored: {user}"
    );
    assert_eq!(user["meta"]["resourceType"], "User");
    let key = app.key(&id, "production").await;
    assert_eq!(app.token_status("production", &key).await, 200);

    let deactivate =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (status, user) = send(&app, "PATCH", &format!("/Users/{id}"), Some(deactivate)).await;
    assert_eq!((status, &user["active"]), (200, &json!(false)), "{user}");
    assert_eq!(app.token_status("production", &key).await, 401);

    let reactivate =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let (status, user) = send(&app, "PATCH", &format!("/Users/{id}"), Some(reactivate)).await;
    assert_eq!((status, &user["active"]), (200, &json!(true)));
    assert_eq!(
        app.token_status("production", &key).await,
        401,
        "reactivation does not re-enable keys"
    );
    assert_eq!(app.audit_count(&id, "user.deactivated").await, 1);
    assert_eq!(app.audit_count(&id, "user.reactivated").await, 1);
    let query = keymint::store::AuditQuery {
        user_id: Some(id.clone()),
        limit: 100,
        ..Default::default()
    };
    let (entries, _) = app.state.store.list_audit(&query).await.unwrap();
    assert!(
        entries
            .iter()
            .filter(|e| e.action.starts_with("user.") || e.reason.is_some())
            .all(|e| e.source == "scim" || e.action == "key.created"),
        "{entries:?}"
    );
}

/// Entra ID's documented requests (learn.microsoft.com, "Tutorial: Develop and plan
/// provisioning for a SCIM endpoint").
pub async fn entra_provisions_deactivates_and_deletes(backend: Backend) {
    let app = scim_app(backend).await;
    let create = json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    });
    let (status, user) = send(&app, "POST", "/Users", Some(create)).await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    let stored = app
        .state
        .store
        .get_user(&keymint::domain::UserId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(
        stored.email.as_deref(),
        Some("Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com")
    );
    let key = app.key(&id, "sandbox").await;
    assert_eq!(app.token_status("sandbox", &key).await, 200);

    let (status, found) = send(
        &app,
        "GET",
        "/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        None,
    )
    .await;
    assert_eq!((status, &found["totalResults"]), (200, &json!(1)));

    let disable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, user) = send(&app, "PATCH", &format!("/Users/{id}"), Some(disable)).await;
    assert_eq!((status, &user["active"]), (200, &json!(false)), "{user}");
    assert_eq!(app.token_status("sandbox", &key).await, 401);
    let enable = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]});
    let (status, _) = send(&app, "PATCH", &format!("/Users/{id}"), Some(enable)).await;
    assert_eq!(status, 200);

    let (status, body) = send(&app, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(app.token_status("sandbox", &key).await, 401);
    let (status, body) = send(&app, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!(status, 404);
    assert_error(&body, 404, None);
    let (status, _) = send(&app, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(status, 404);
    // The user, its key and its audit trail remain.
    let stored = app
        .state
        .store
        .get_user(&keymint::domain::UserId::parse(&id).unwrap())
        .await
        .unwrap();
    assert!(!stored.active);
    assert_eq!(app.audit_count(&id, "user.deactivated").await, 2);
}

/// The Keymint user's current permissions.
pub async fn permissions_of(app: &TestApp, id: &str) -> Vec<String> {
    let user = app
        .state
        .store
        .get_user(&keymint::domain::UserId::parse(id).unwrap())
        .await
        .unwrap();
    user.permissions.iter().map(str::to_owned).collect()
}

pub async fn create(app: &TestApp, user_name: &str, external_id: Option<&str>) -> Value {
    let mut body = json!({"schemas": [USER], "userName": user_name});
    if let Some(e) = external_id {
        body["externalId"] = e.into();
    }
    let (status, user) = send(app, "POST", "/Users", Some(body)).await;
    assert_eq!(status, 201, "{user}");
    user
}

pub async fn filters_pages_and_uniqueness(backend: Backend) {
    let app = scim_app(backend).await;
    create(&app, "Alice", None).await;
    create(&app, "bob", Some("ext-bob")).await;
    create(&app, "carol", None).await;
    let list = |query: &'static str| {
        let app = &app;
        async move { send(app, "GET", &format!("/Users?{query}"), None).await }
    };
    let (_, found) = list("filter=userName%20eq%20%22ALICE%22").await;
    assert_eq!(found["totalResults"], 1, "userName is case-insensitive");
    assert_eq!(found["Resources"][0]["userName"], "Alice");
    let (_, found) =
        list("filter=externalId%20eq%20%22ext-bob%22%20or%20userName%20eq%20%22carol%22").await;
    assert_eq!(found["totalResults"], 2);
    let (_, found) =
        list("filter=userName%20eq%20%22bob%22%20and%20externalId%20eq%20%22nope%22").await;
    assert_eq!(found["totalResults"], 0);
    let (_, found) = list("filter=id%20eq%20%22ext-bob%22").await;
    assert_eq!(found["Resources"][0]["userName"], "bob");

    let (_, page) = list("startIndex=2&count=1").await;
    assert_eq!(
        (
            &page["totalResults"],
            &page["startIndex"],
            &page["itemsPerPage"]
        ),
        (&json!(3), &json!(2), &json!(1))
    );
    // In id order: Alice, carol, ext-bob.
    assert_eq!(page["Resources"][0]["userName"], "carol", "id order");
    let (_, none) = list("count=0").await;
    assert_eq!(
        (&none["totalResults"], &none["itemsPerPage"]),
        (&json!(3), &json!(0))
    );
    let (_, clamped) = list("startIndex=-5&count=100000").await;
    assert_eq!(
        (&clamped["startIndex"], &clamped["itemsPerPage"]),
        (&json!(1), &json!(3))
    );
    let (status, body) = list("count=many").await;
    assert_eq!(status, 400);
    assert_error(&body, 400, Some("invalidValue"));

    for bad in [
        "filter=userName%20eq",
        "filter=userName%20xx%20%22a%22",
        "filter=(userName%20eq%20%22a%22",
        "filter=emails.value%20eq%20%22a%22",
        "filter=userName%20co%20%22a%22",
    ] {
        let (status, body) = list(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_error(&body, 400, Some("invalidFilter"));
    }

    let (status, body) = send(
        &app,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": "ALICE", "externalId": "other"})),
    )
    .await;
    assert_eq!(status, 409);
    assert_error(&body, 409, Some("uniqueness"));
    let (status, body) = send(
        &app,
        "PUT",
        "/Users/ext-bob",
        Some(json!({"schemas": [USER], "userName": "carol"})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(total(&app).await, 3);
}

pub async fn patches_of_multi_valued_attributes_change_permissions_and_keep_the_rest(
    backend: Backend,
) {
    let app = scim_app(backend).await;
    let body = json!({
        "schemas": [USER], "userName": "dave",
        "roles": [{"value": "runs:read"}],
        "urn:example:custom": {"badge": 7},
        "nickName": "D",
    });
    let (status, user) = send(&app, "POST", "/Users", Some(body)).await;
    assert_eq!(status, 201);
    assert_eq!(
        user["urn:example:custom"],
        json!({"badge": 7}),
        "unknown attributes kept"
    );
    let key = app.key("dave", "production").await;
    assert_eq!(permissions_of(&app, "dave").await, ["runs:read"]);
    let add = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "entitlements", "value": [{"value": "CreateAPIKey"}]},
        {"op": "add", "path": "roles", "value": [{"value": "runs:write"}]},
    ]});
    let (status, user) = send(&app, "PATCH", "/Users/dave", Some(add)).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        permissions_of(&app, "dave").await,
        ["CreateAPIKey", "runs:read", "runs:write"]
    );
    let remove = json!({"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": "roles[value eq \"runs:read\"]"},
    ]});
    let (_, user) = send(&app, "PATCH", "/Users/dave", Some(remove)).await;
    assert_eq!(user["roles"], json!([{"value": "runs:write"}]));
    assert_eq!(
        permissions_of(&app, "dave").await,
        ["CreateAPIKey", "runs:write"]
    );
    assert_eq!(user["nickName"], "D");
    assert_eq!(user["urn:example:custom"], json!({"badge": 7}));
    // Keys keep the permissions they were created with.
    let claims = app
        .verify("production", &app.access_token("production", &key).await)
        .await
        .unwrap();
    assert_eq!(claims["permissions"], json!(["runs:read"]));

    let (status, body) = send(
        &app,
        "PATCH",
        "/Users/dave",
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "remove"}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, 400, Some("noTarget"));
    let (status, body) = send(&app, "PATCH", "/Users/dave", Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": ""}]}))).await;
    assert_eq!(status, 400);
    assert_error(&body, 400, Some("invalidValue"));
    let (status, _) = send(
        &app,
        "PATCH",
        "/Users/nobody",
        Some(json!({"schemas": [PATCH], "Operations": []})),
    )
    .await;
    assert_eq!(status, 404);
}

pub async fn bad_bodies_get_scim_errors_and_change_nothing(backend: Backend) {
    let app = scim_app(backend).await;
    let raw = |body: String, content_type: &'static str| {
        let app = &app;
        async move {
            let response = app
                .http
                .post(app.url("/scim/v2/Users"))
                .bearer_auth(TOKEN)
                .header("content-type", content_type)
                // A body refused before it is read leaves the connection unusable; a
                // later request must not be sent on it.
                .header("connection", "close")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (
                status,
                kind,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, kind, body) = raw("{not json".into(), "application/scim+json").await;
    assert_eq!((status, kind.as_str()), (400, "application/scim+json"));
    assert_error(&body, 400, Some("invalidSyntax"));
    let (status, _, body) = raw(json!({"userName": "x"}).to_string(), "text/plain").await;
    assert_eq!(status, 415);
    assert_error(&body, 415, None);
    let huge = json!({"schemas": [USER], "userName": "big", "x": "a".repeat(70_000)});
    let (status, _, _) = raw(huge.to_string(), "application/json").await;
    assert_eq!(status, 413);
    let (status, _, body) = raw(
        json!({"schemas": [USER], "userName": 5}).to_string(),
        "application/json",
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&body, 400, Some("invalidValue"));
    let nested = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _, _) = raw(nested, "application/json").await;
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(total(&app).await, 0);
}
