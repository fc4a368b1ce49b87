//! Configuration parsing: defaults, bounds and the messages of refusals.

use super::*;
use crate::signing::SigningAlg;
use std::collections::HashMap;

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_follow_the_contract() {
    let c = load(&[]).unwrap();
    assert_eq!(c.database_url, "sqlite://keymint.db");
    assert_eq!(c.public_url, "http://127.0.0.1:8080");
    assert_eq!(c.token_ttl, Duration::from_secs(600));
    let names: Vec<_> = c
        .environments
        .iter()
        .map(|e| (e.name.as_str(), e.alg))
        .collect();
    assert_eq!(
        names,
        [
            ("production", SigningAlg::Es256),
            ("sandbox", SigningAlg::Es256)
        ]
    );
    let prod = EnvironmentName::parse("production").unwrap();
    assert_eq!(c.issuer(&prod), "http://127.0.0.1:8080/production");
    assert_eq!(c.audiences(&prod), ["http://127.0.0.1:8080/production"]);
}

#[test]
fn session_tokens_need_an_audience_and_keys_over_tls() {
    let issuer = ("KEYMINT_USER_TOKEN_ISSUER", "https://idp.example");
    let jwks = ("KEYMINT_USER_TOKEN_JWKS_URL", "https://idp.example/jwks");
    let audience = ("KEYMINT_USER_TOKEN_AUDIENCE", "keymint");
    let err = load(&[issuer, jwks]).unwrap_err().to_string();
    assert!(err.contains("KEYMINT_USER_TOKEN_AUDIENCE"), "{err}");
    let plain = ("KEYMINT_USER_TOKEN_JWKS_URL", "http://idp.example/jwks");
    let err = load(&[issuer, plain, audience]).unwrap_err().to_string();
    assert!(err.contains("https"), "{err}");
    let local = ("KEYMINT_USER_TOKEN_JWKS_URL", "http://127.0.0.1:9000/jwks");
    assert!(load(&[issuer, local, audience]).is_ok());
    assert_eq!(
        load(&[issuer, jwks, audience])
            .unwrap()
            .user_tokens
            .unwrap()
            .audience,
        "keymint"
    );
}

#[test]
fn plain_http_is_refused_off_loopback_unless_a_tls_proxy_is_in_front() {
    for url in [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:9000/",
        "http://user@127.0.0.2:80",
        "https://keymint.example",
    ] {
        assert!(load(&[("KEYMINT_PUBLIC_URL", url)]).is_ok(), "{url}");
    }
    for url in [
        "http://keymint.example",
        "http://10.0.0.5:8080",
        "http://0.0.0.0:8080",
    ] {
        let refused = load(&[("KEYMINT_PUBLIC_URL", url)])
            .unwrap_err()
            .to_string();
        assert!(refused.contains("KEYMINT_BEHIND_TLS_PROXY=1"), "{refused}");
        assert!(
            load(&[
                ("KEYMINT_PUBLIC_URL", url),
                ("KEYMINT_BEHIND_TLS_PROXY", "1")
            ])
            .is_ok()
        );
    }
    // Listening on all interfaces without a public URL is refused too.
    assert!(load(&[("KEYMINT_LISTEN", "0.0.0.0:8080")]).is_err());
    // With a certificate the default public URL is https.
    let c = load(&[("KEYMINT_TLS_CERT", "c.pem"), ("KEYMINT_TLS_KEY", "k.pem")]).unwrap();
    assert_eq!(c.public_url, "https://127.0.0.1:8080");
    assert!(load(&[("KEYMINT_TLS_CERT", "c.pem")]).is_err());
}

#[test]
fn per_environment_algorithms() {
    let c = load(&[("KEYMINT_SIGNING_ALG", "production:RS256,sandbox:EdDSA")]).unwrap();
    assert_eq!(c.environment("production").unwrap().alg, SigningAlg::Rs256);
    assert_eq!(c.environment("sandbox").unwrap().alg, SigningAlg::EdDsa);
    assert!(load(&[("KEYMINT_SIGNING_ALG", "staging:RS256")]).is_err());
    assert!(load(&[("KEYMINT_SIGNING_ALG", "HS256")]).is_err());
}

#[test]
fn token_ttl_bounds_are_enforced() {
    for bad in ["0", "3601", "-5", "ten", "1.5"] {
        let err = load(&[("KEYMINT_TOKEN_TTL", bad)]).unwrap_err().to_string();
        assert!(err.starts_with("KEYMINT_TOKEN_TTL"), "{err}");
    }
    assert_eq!(
        load(&[("KEYMINT_TOKEN_TTL", "3600")]).unwrap().token_ttl,
        Duration::from_secs(3600)
    );
}

#[test]
fn audiences_and_public_url() {
    let c = load(&[
        ("KEYMINT_AUDIENCE", "https://api.example, https://b.example"),
        ("KEYMINT_PUBLIC_URL", "https://id.example/"),
    ])
    .unwrap();
    let prod = EnvironmentName::parse("production").unwrap();
    // The issuer comes last: the management API's audience, always requestable.
    assert_eq!(
        c.audiences(&prod),
        [
            "https://api.example",
            "https://b.example",
            "https://id.example/production"
        ]
    );
    assert_eq!(c.issuer(&prod), "https://id.example/production");
    assert!(load(&[("KEYMINT_PUBLIC_URL", "id.example")]).is_err());
    assert!(load(&[("KEYMINT_ENVIRONMENTS", "prod,prod")]).is_err());
    assert!(load(&[("KEYMINT_WEBHOOK_SECRET", "plain")]).is_err());
    assert!(
        load(&[("KEYMINT_WEBHOOK_SECRET", "whsec_c2VjcmV0")])
            .unwrap()
            .webhook_secret
            .is_some()
    );
}

#[test]
fn console_oidc_defaults_to_the_session_token_issuer_and_hides_its_secret() {
    assert!(load(&[]).unwrap().console_oidc.is_none());
    let client = ("KEYMINT_CONSOLE_OIDC_CLIENT_ID", "keymint-console");
    let err = load(&[client]).unwrap_err().to_string();
    assert!(err.contains("KEYMINT_CONSOLE_OIDC_ISSUER"), "{err}");
    let oidc = load(&[
        client,
        ("KEYMINT_USER_TOKEN_ISSUER", "https://idp.example/"),
        ("KEYMINT_USER_TOKEN_JWKS_URL", "https://idp.example/jwks"),
        ("KEYMINT_USER_TOKEN_AUDIENCE", "keymint"),
        ("KEYMINT_CONSOLE_OIDC_CLIENT_SECRET", "s3cr3t-value"),
    ])
    .unwrap()
    .console_oidc
    .unwrap();
    assert_eq!(oidc.issuer, "https://idp.example");
    assert_eq!(oidc.client_secret.as_deref(), Some("s3cr3t-value"));
    assert!(!format!("{oidc:?}").contains("s3cr3t-value"));
    let own = load(&[
        client,
        ("KEYMINT_CONSOLE_OIDC_ISSUER", "https://login.example"),
    ])
    .unwrap();
    assert_eq!(own.console_oidc.unwrap().issuer, "https://login.example");
    let plain = ("KEYMINT_CONSOLE_OIDC_ISSUER", "http://login.example");
    let err = load(&[client, plain]).unwrap_err().to_string();
    assert!(err.contains("https"), "{err}");
    let err = load(&[("KEYMINT_CONSOLE_OIDC_CLIENT_SECRET", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("KEYMINT_CONSOLE_OIDC_CLIENT_ID"), "{err}");
}

#[test]
fn a_new_public_url_moves_every_environments_issuer_and_audiences() {
    let mut c = load(&[("KEYMINT_LISTEN", "127.0.0.1:0")]).unwrap();
    assert_eq!(
        c.environment("production").unwrap().issuer,
        "http://127.0.0.1:0/production"
    );
    c.set_public_url("http://127.0.0.1:4321".into());
    let prod = c.environment("production").unwrap();
    assert_eq!(prod.issuer, "http://127.0.0.1:4321/production");
    assert_eq!(prod.audiences, ["http://127.0.0.1:4321/production"]);
}

#[test]
fn events_need_both_settings_an_https_url_and_sane_warning_days() {
    let url = ("KEYMINT_EVENTS_URL", "https://hooks.example.com/keymint");
    let secret = (
        "KEYMINT_EVENTS_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let c = load(&[url, secret]).unwrap();
    assert_eq!(c.events.unwrap().url, url.1);
    assert_eq!(c.expiry_warning_days, 7);
    assert!(load(&[]).unwrap().events.is_none());
    for (vars, names) in [
        (vec![url], "KEYMINT_EVENTS_SECRET"),
        (vec![secret], "KEYMINT_EVENTS_URL"),
        (
            vec![("KEYMINT_EVENTS_URL", "http://hooks.example.com/"), secret],
            "KEYMINT_EVENTS_URL",
        ),
        (
            vec![url, ("KEYMINT_EVENTS_SECRET", "not-a-secret")],
            "KEYMINT_EVENTS_SECRET",
        ),
        (
            vec![("KEYMINT_KEY_EXPIRY_WARNING_DAYS", "0")],
            "KEYMINT_KEY_EXPIRY_WARNING_DAYS",
        ),
    ] {
        let err = load(&vars).unwrap_err().to_string();
        assert!(err.contains(names), "{err}");
    }
    let local = ("KEYMINT_EVENTS_URL", "http://127.0.0.1:9000/hook");
    assert!(load(&[local, secret]).is_ok(), "plain http on loopback");
    let days = ("KEYMINT_KEY_EXPIRY_WARNING_DAYS", "30");
    assert_eq!(load(&[days]).unwrap().expiry_warning_days, 30);
}
