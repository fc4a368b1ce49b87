//! CLI refusals name what was wrong: the user or key not found, the flag out of range,
//! the date form expected, the environments served.

use crate::*;

/// Runs `keymint args` in `dir`, expects failure, returns stderr.
fn refused(dir: &std::path::Path, args: &[&str]) -> String {
    let out = keymint(dir, args);
    assert!(!out.status.success(), "keymint {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn refusals_name_what_was_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let logs = std::sync::Mutex::new(String::new());

    let ghost = refused(dir, &["users", "deactivate", "ghost"]);
    assert!(ghost.contains("user \"ghost\" not found"), "{ghost}");
    assert!(ghost.contains("keymint users upsert ghost"), "{ghost}");

    let missing = refused(dir, &["keys", "disable", "kmc_nothing_here_at_all"]);
    assert!(
        missing.contains("key kmc_nothing_here_at_all not found"),
        "{missing}"
    );

    let no_owner = refused(
        dir,
        &["keys", "create", "--user", "nobody", "--env", "production"],
    );
    assert!(no_owner.contains("user \"nobody\" not found"), "{no_owner}");

    let staging = refused(dir, &["keys", "list", "--env", "staging"]);
    assert!(
        staging.contains("\"staging\" is not served") && staging.contains("production, sandbox"),
        "{staging}"
    );

    ok(
        dir,
        &["users", "upsert", "alice", "--permission", "runs:read"],
        &logs,
    );
    let bad_date = refused(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--expires-at",
            "tomorrow",
        ],
    );
    assert!(
        bad_date.contains("2027-01-31") && bad_date.contains("RFC 3339"),
        "{bad_date}"
    );
    // A plain date is taken as that day's start, UTC.
    let created: serde_json::Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "alice",
            "--env",
            "production",
            "--expires-at",
            "2099-01-31",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let client_id = created["clientId"].as_str().unwrap();
    let listed = ok(
        dir,
        &["keys", "list", "--env", "production", "--json"],
        &logs,
    );
    assert!(listed.contains("2099-01-31T00:00:00Z"), "{listed}");

    // Listings: a header, status and dates; filters by user and status; lastUsedAt in JSON.
    ok(
        dir,
        &["users", "upsert", "bob", "--permission", "runs:read"],
        &logs,
    );
    let bobs: serde_json::Value = serde_json::from_str(&ok(
        dir,
        &[
            "keys",
            "create",
            "--user",
            "bob",
            "--env",
            "production",
            "--json",
        ],
        &logs,
    ))
    .unwrap();
    let bobs = bobs["clientId"].as_str().unwrap();
    ok(dir, &["keys", "disable", bobs], &logs);
    let table = ok(dir, &["keys", "list", "--env", "production"], &logs);
    let header = table.lines().next().unwrap();
    for column in [
        "client id",
        "owner",
        "status",
        "created",
        "expires",
        "last used",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        table.contains("disabled (manual)") && table.contains("2099-01-31"),
        "{table}"
    );
    let only_bob = ok(
        dir,
        &["keys", "list", "--env", "production", "--user", "bob"],
        &logs,
    );
    assert!(
        only_bob.contains(bobs) && !only_bob.contains(client_id),
        "{only_bob}"
    );
    let enabled = ok(
        dir,
        &[
            "keys",
            "list",
            "--env",
            "production",
            "--status",
            "enabled",
            "--json",
        ],
        &logs,
    );
    let enabled: serde_json::Value = serde_json::from_str(&enabled).unwrap();
    assert_eq!(enabled.as_array().unwrap().len(), 1);
    assert_eq!(enabled[0]["clientId"], client_id);
    assert!(enabled[0].as_object().unwrap().contains_key("lastUsedAt"));

    let grace = refused(
        dir,
        &[
            "keys",
            "rotate-secret",
            client_id,
            "--grace-seconds",
            "999999",
        ],
    );
    assert!(grace.contains("--grace-seconds"), "{grace}");
}

/// The next steps are printed ready to run: `serve --help` lists the configuration, a new
/// key comes with the token request to make with it.
#[test]
fn next_steps_are_ready_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let logs = std::sync::Mutex::new(String::new());
    let help = ok(dir, &["serve", "--help"], &logs);
    for variable in [
        "DATABASE_URL",
        "KEYMINT_PUBLIC_URL",
        "KEYMINT_TOKEN_TTL",
        "RUST_LOG",
    ] {
        assert!(help.contains(variable), "serve --help lacks {variable}");
    }
    ok(
        dir,
        &["users", "upsert", "alice", "--permission", "runs:read"],
        &logs,
    );
    let created = ok(
        dir,
        &["keys", "create", "--user", "alice", "--env", "sandbox"],
        &logs,
    );
    let client_id = created
        .lines()
        .find_map(|l| l.strip_prefix("clientId:"))
        .unwrap()
        .trim();
    assert!(
        created.contains(&format!("curl -s -u '{client_id}:kms_"))
            && created.contains("http://127.0.0.1:0/sandbox/oauth2/token"),
        "{created}"
    );
}

/// `config check` prints the effective configuration without secrets, and names what is
/// wrong.
#[test]
fn config_check_shows_the_configuration_and_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let encryption = "ek_test:8dGJ2cHv5N0t4WqZJ0c3m6yQ1xQk2m9v0Xw8a7bC6dE";
    let out = std::process::Command::new(BIN)
        .args(["config", "check"])
        .current_dir(dir)
        .env_clear()
        .env("KEYMINT_WEBHOOK_SECRET", secret)
        .env("KEYMINT_ENCRYPTION_KEYS", encryption)
        .env("KEYMINT_ENVIRONMENT", "staging")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("warning: KEYMINT_ENVIRONMENT is not a Keymint variable and is ignored; did you mean KEYMINT_ENVIRONMENTS?"),
        "a typo is named: {shown}"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("sqlite://keymint.db") && shown.contains("http://127.0.0.1:8080/production"),
        "{shown}"
    );
    assert!(
        shown.contains("KEYMINT_WEBHOOK_SECRET") && shown.contains("set (not shown)"),
        "{shown}"
    );
    assert!(
        !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "a secret was printed"
    );
    assert!(shown.contains("sealing under ek_test"), "{shown}");
    assert!(
        !shown.contains("8dGJ2cHv5N0t4WqZJ0c3m6yQ1xQk2m9v0Xw8a7bC6dE"),
        "an encryption key was printed"
    );
    assert!(
        shown.contains("unset (SCIM off)") && shown.contains("console sign-in"),
        "every feature's settings: {shown}"
    );
    assert!(
        shown.contains("KEYMINT_TRUSTED_PROXIES            127.0.0.0/8, ::1/128"),
        "values, not Debug output: {shown}"
    );
    assert!(shown.contains("configuration is valid"), "{shown}");

    let bad = std::process::Command::new(BIN)
        .args(["config", "check"])
        .current_dir(dir)
        .env_clear()
        .env("KEYMINT_TOKEN_TTL", "forever")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("KEYMINT_TOKEN_TTL"));
}

/// `serve --help` lists every variable, the console's sign-in ones too, from the table
/// the docs show.
#[test]
fn serve_help_lists_every_variable() {
    let out = std::process::Command::new(BIN)
        .args(["serve", "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for v in keymint::config::table::VARIABLES {
        for name in v.names {
            assert!(
                help.contains(name),
                "{name} missing from serve --help:\n{help}"
            );
        }
    }
    assert!(help.contains("KEYMINT_CONSOLE_OIDC_CLIENT_ID"), "{help}");
}

/// A routine command prints its answer, not the log lines `serve` writes at `info`.
#[test]
fn routine_commands_print_no_info_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["users", "upsert", "alice", "--permission", "runs:read"][..],
        &["keys", "create", "--user", "alice", "--env", "production"][..],
        &["users", "list"][..],
    ] {
        let out = std::process::Command::new(BIN)
            .args(args)
            .current_dir(tmp.path())
            .env_clear()
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(" INFO "),
            "{args:?} logged at info: {stderr}"
        );
    }
}

/// `keys list` keeps its columns aligned whatever the statuses and ids, and
/// `rotate-secret --json` says when the old secret stops working.
#[test]
fn keys_list_aligns_and_rotate_secret_says_when_grace_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .current_dir(tmp.path())
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["users", "upsert", "alice", "--permission", "runs:read"]);
    run(&[
        "users",
        "upsert",
        "an-owner-with-a-long-id",
        "--permission",
        "runs:read",
    ]);
    let created = run(&[
        "keys",
        "create",
        "--user",
        "alice",
        "--env",
        "production",
        "--json",
    ]);
    let client_id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    run(&[
        "keys",
        "create",
        "--user",
        "an-owner-with-a-long-id",
        "--env",
        "production",
    ]);
    run(&["users", "deactivate", "an-owner-with-a-long-id"]);
    let listed = run(&["keys", "list", "--env", "production"]);
    let lines: Vec<&str> = listed.lines().take(3).collect();
    let column = |line: &str, word: &str| {
        line.find(word)
            .unwrap_or_else(|| panic!("{word}: {listed}"))
    };
    let status = column(lines[0], "status");
    let created_at = column(lines[0], "created");
    for line in &lines[1..] {
        let found = line
            .find("enabled")
            .or_else(|| line.find("disabled (owner_deactivated)"));
        assert_eq!(found, Some(status), "status column moved:\n{listed}");
        let at_created = &line[created_at..];
        assert!(
            at_created.starts_with(|c: char| c.is_ascii_digit())
                && line[..created_at].ends_with(' '),
            "created column moved:\n{listed}"
        );
    }

    let rotated = run(&[
        "keys",
        "rotate-secret",
        &client_id,
        "--grace-seconds",
        "3600",
        "--json",
    ]);
    let rotated: serde_json::Value = serde_json::from_str(&rotated).unwrap();
    assert!(rotated["previousSecretValidUntil"].is_string(), "{rotated}");
    let rotated = run(&["keys", "rotate-secret", &client_id, "--json"]);
    let rotated: serde_json::Value = serde_json::from_str(&rotated).unwrap();
    assert!(rotated["previousSecretValidUntil"].is_null(), "{rotated}");
}
