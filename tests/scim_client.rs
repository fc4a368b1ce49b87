//! An independent SCIM client drives the Users resource end to end against the real
//! server: scim2-client (Python, by Yaal; `.ci/run` installs it in a virtualenv and sets
//! KEYMINT_TEST_SCIM_PYTHON) runs `tests/scim/client.py`: discovery, create, filter, get,
//! replace, patch, delete, of Users and of Groups. Enabled with the other external-tool tests
//! (KEYMINT_TEST_GATEWAY=1).

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use app::{Backend, TestApp};

const TOKEN: &str = "scim-client-token-0123456789";

/// Runs `tests/scim/{script}` with the test virtualenv's Python against `app`'s SCIM
/// base and token; its stdout, or a panic with both outputs if it exits non-zero.
async fn run_python(app: &TestApp, script: &str) -> String {
    let python = std::env::var("KEYMINT_TEST_SCIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = format!("{}/tests/scim/{script}", env!("CARGO_MANIFEST_DIR"));
    let base = app.url("/scim/v2/");
    let run = python.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&run)
            .arg(&path)
            .arg(&base)
            .arg(TOKEN)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_gateway),
    ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_SCIM_PYTHON (.ci/run installs scim2-client)"
)]
async fn scim2_client_drives_users_and_groups_end_to_end() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KEYMINT_SCIM_TOKEN", TOKEN)]).await;
    let deploy = keymint::domain::Permissions::parse(["deploy"]).unwrap();
    app.state
        .management()
        .set_group_permissions("Automation", &deploy)
        .await
        .unwrap();
    let stdout = run_python(&app, "client.py").await;
    for step in [
        "discovered",
        "created",
        "filtered 1",
        "fetched",
        "replaced",
        "group created",
        "group filtered 1",
        "group patched",
        "group replaced",
        "deactivated",
        "deleted",
    ] {
        assert!(stdout.contains(step), "step {step} missing:\n{stdout}");
    }
    // What the client did, as Keymint recorded it: hal holds what the group grants.
    let hal = keymint::domain::UserId::parse("dir-hal").unwrap();
    let hal = app.state.store.get_user(&hal).await.unwrap();
    let perms: Vec<&str> = hal.group_permissions.iter().collect();
    assert_eq!(perms, ["deploy"], "hal is a member of Automation");
    let id = keymint::domain::UserId::parse("dir-grace").unwrap();
    let user = app.state.store.get_user(&id).await.unwrap();
    assert!(!user.active, "deactivated, then deleted");
    let perms: Vec<&str> = user.permissions.iter().collect();
    assert_eq!(perms, ["runs:read", "runs:write"], "the replaced roles");
    let query = keymint::store::AuditQuery {
        user_id: Some("dir-grace".into()),
        limit: 100,
        ..Default::default()
    };
    let (entries, _) = app.state.store.list_audit(&query).await.unwrap();
    assert!(
        !entries.is_empty() && entries.iter().all(|e| e.source == "scim"),
        "{entries:?}"
    );
}

/// scim2-tester, an independent SCIM 2.0 compliance checker (by Yaal, the companion of
/// scim2-client, installed in the same virtualenv by `.ci/run`), runs every check it has
/// against Users and Groups on both backends' default (SQLite): discovery (each Schema
/// names its schema), CRUD, `attributes`/`excludedAttributes`, `POST .search`, PATCH
/// add/replace/remove of every attribute, and an unknown route answered with a SCIM
/// error. Any ERROR or CRITICAL fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_gateway),
    ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_SCIM_PYTHON (.ci/run installs scim2-tester)"
)]
async fn scim2_tester_finds_no_error() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KEYMINT_SCIM_TOKEN", TOKEN)]).await;
    let stdout = run_python(&app, "tester.py").await;
    // It ran its checks (it reports how many), not nothing.
    let ran: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("checks "))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(ran >= 80, "scim2-tester ran {ran} checks:\n{stdout}");
    assert!(stdout.contains("SUCCESS    Group"), "{stdout}");
}
