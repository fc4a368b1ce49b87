//! A stored SCIM resource cannot grow without end: PATCH `add` appends to what is stored,
//! so every write of a User (and of a Group's attributes) is held to a size and a number
//! of values per attribute; a write past them is a SCIM `invalidValue` error and changes
//! nothing.

use serde_json::{Value, json};

use crate::app::Backend;
use crate::scim::{PATCH, USER, assert_error, scim_app, send};

crate::both_backends!(scim_bounds:
    patches_cannot_grow_a_user_past_its_caps,
);

fn emails(from: usize, count: usize) -> Value {
    (from..from + count)
        .map(|i| json!({"value": format!("a{i}@example.com"), "type": "other"}))
        .collect()
}

pub(crate) async fn patches_cannot_grow_a_user_past_its_caps(backend: Backend) {
    let app = scim_app(backend).await;
    let (status, created) = send(
        &app,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": "grower"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let add = |values: Value| json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "emails", "value": values}]});
    // 600 addresses, then the same 600 again (already present: nothing added), then 600
    // new ones, which would make 1,200 values.
    let (status, body) = send(&app, "PATCH", &path, Some(add(emails(0, 600)))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(&app, "PATCH", &path, Some(add(emails(0, 600)))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["emails"].as_array().unwrap().len(), 600);
    let (status, body) = send(&app, "PATCH", &path, Some(add(emails(600, 600)))).await;
    assert_eq!(status, 400, "1,200 emails were stored");
    assert_error(&body, 400, Some("invalidValue"));
    assert!(
        body["detail"].as_str().unwrap().contains("emails"),
        "{body}"
    );
    let (_, stored) = send(&app, "GET", &path, None).await;
    assert_eq!(
        stored["emails"].as_array().unwrap().len(),
        600,
        "nothing changed"
    );

    // Few values, but large ones: past the size cap.
    let big = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "nickName", "value": "n".repeat(20_000)},
    ]});
    let (status, body) = send(&app, "PATCH", &path, Some(big.clone())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        &app,
        "PATCH",
        &path,
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "title", "value": "t".repeat(20_000)},
        ]})),
    )
    .await;
    assert_eq!(status, 400, "a resource past 64 KiB was stored");
    assert_error(&body, 400, Some("invalidValue"));
    let (_, stored) = send(&app, "GET", &path, None).await;
    assert!(
        stored.get("title").is_none(),
        "nothing changed: {}",
        stored["title"]
    );
}
