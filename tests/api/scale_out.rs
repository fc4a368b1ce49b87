//! Instances on one database must serve one public URL (tokens carry it in `iss`): when
//! they do not, each says so in `/readyz`, and introspection's refusal says why in the
//! log. Two real instances on one database.

use serde_json::Value;

use crate::app::{Backend, TestApp};

crate::both_backends!(scale_out:
    instances_that_serve_different_public_urls_say_so,
);

async fn readyz(app: &TestApp) -> Value {
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "a URL mismatch does not make an instance unready"
    );
    response.json().await.unwrap()
}

pub async fn instances_that_serve_different_public_urls_say_so(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let same = a.spawn_peer().await;
    a.state.check_public_url().await.unwrap();
    for app in [&a, &same] {
        let body = readyz(app).await;
        assert!(body["warnings"].is_null(), "same URL, no warning: {body}");
    }

    let other = "http://127.0.0.2:8080";
    let b = a.spawn_peer_with(&[("KEYMINT_PUBLIC_URL", other)]).await;
    // B looked at start-up; A looks every 30 s, here at once.
    a.state.check_public_url().await.unwrap();
    for (app, sees) in [(&b, a.base.as_str()), (&a, other)] {
        let body = readyz(app).await;
        let warning = body["warnings"][0].as_str().unwrap_or_default();
        assert!(
            warning.contains(sees) && warning.contains("KEYMINT_PUBLIC_URL"),
            "{body}"
        );
    }

    // The trap itself: a token minted at B is inactive at A.
    a.user("gateway", &["IntrospectToken"]).await;
    let gateway = a.key("gateway", "production").await;
    let token = b.access_token("production", &gateway).await;
    let answer: Value = a
        .http
        .post(a.url("/production/oauth2/introspect"))
        .basic_auth(&gateway.client_id, Some(&gateway.secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer, serde_json::json!({"active": false}));
}
