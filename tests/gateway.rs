//! A real gateway in front of Keymint's tokens: Apache httpd with mod_auth_openidc (both
//! from Debian's packages; `.ci/run` installs them and sets KEYMINT_TEST_GATEWAY=1)
//! validating access tokens offline through the published JWKS. A valid token passes; a
//! missing, expired, foreign-environment or tampered one is refused. mod_auth_openidc
//! fetches JWKS only over https, so Apache also terminates TLS in front of Keymint, as
//! `docs/gateways.md` describes.

#[path = "support/mod.rs"]
mod support;

#[path = "api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use app::{Backend, TestApp};
use keymint::domain::EnvironmentName;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Apache(Child);

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_apache(dir: &Path, keymint: &str, gateway_port: u16, tls_port: u16) -> Apache {
    let modules = "/usr/lib/apache2/modules";
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl is installed");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    std::fs::create_dir_all(dir.join("www/api")).unwrap();
    std::fs::write(dir.join("www/api/runs.txt"), "runs\n").unwrap();
    let d = dir.display();
    let issuer = format!("{keymint}/production");
    let config = format!(
        r#"ServerName localhost
Listen 127.0.0.1:{gateway_port}
Listen 127.0.0.1:{tls_port}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule ssl_module {modules}/mod_ssl.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
User www-data
Group www-data
DocumentRoot {d}/www
OIDCCryptoPassphrase keymint-gateway-test
OIDCOAuthVerifyJwksUri https://127.0.0.1:{tls_port}/production/.well-known/jwks.json
OIDCOAuthSSLValidateServer Off
OIDCOAuthRemoteUserClaim sub
<Location /api>
  AuthType oauth20
  <RequireAll>
    Require claim iss:{issuer}
    Require claim aud:{issuer}
    Require claim env:production
    Require claim permissions:runs:read
  </RequireAll>
</Location>
<VirtualHost 127.0.0.1:{tls_port}>
  SSLEngine on
  SSLCertificateFile {d}/cert.pem
  SSLCertificateKeyFile {d}/key.pem
  ProxyPass / {keymint}/
</VirtualHost>
"#
    );
    std::fs::write(dir.join("httpd.conf"), config).unwrap();
    let child = Command::new("apache2")
        .arg("-X")
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .spawn()
        .expect("apache2 is installed");
    Apache(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keymint_gateway),
    ignore = "set KEYMINT_TEST_GATEWAY=1 with apache2 and libapache2-mod-auth-openidc installed (.ci/run does)"
)]
async fn apache_mod_auth_openidc_validates_keymint_tokens() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("alice", &["runs:read"]).await;
    app.user("bob", &["runs:write"]).await;
    let key = app.key("alice", "production").await;
    let weak = app.key("bob", "production").await;
    let sandbox = app.key("alice", "sandbox").await;

    let dir = tempfile::tempdir().unwrap();
    // Apache drops to www-data, which must read its document root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (gateway_port, tls_port) = (free_port(), free_port());
    let _apache = start_apache(dir.path(), &app.base, gateway_port, tls_port);
    let url = format!("http://127.0.0.1:{gateway_port}/api/runs.txt");
    let http = reqwest::Client::new();
    let status = |token: Option<String>| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let mut request = http.get(&url);
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let token = app.mint("production", &key).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let up = TestApp::eventually(Duration::from_secs(10), || async {
        status(None).await == 401
    })
    .await;
    assert!(
        up.is_some(),
        "apache did not start: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    assert_eq!(
        status(Some(token.clone())).await,
        200,
        "a valid token was refused: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );

    assert_eq!(status(None).await, 401, "missing token");
    let at = token.rfind('.').unwrap() + 20;
    let tampered = format!(
        "{}{}{}",
        &token[..at],
        if &token[at..=at] == "A" { "B" } else { "A" },
        &token[at + 1..]
    );
    assert_eq!(status(Some(tampered)).await, 401, "tampered token");
    let foreign = app.mint("sandbox", &sandbox).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        status(Some(foreign)).await,
        401,
        "token of another environment"
    );
    let lacking = app.mint("production", &weak).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(status(Some(lacking)).await, 200, "token without runs:read");
    // Expired: the same claims an hour in the past, signed with the environment's key.
    let env = EnvironmentName::parse("production").unwrap();
    let claims = app.state.oauth.tokens.verify(&env, &token).unwrap();
    let expired = serde_json::json!({
        "iss": claims.iss, "sub": claims.sub, "aud": claims.aud, "exp": claims.exp - 7200, "iat": claims.iat - 7200,
        "nbf": claims.nbf - 7200, "jti": "expired", "client_id": claims.client_id, "scope": claims.scope,
        "permissions": claims.permissions, "env": claims.env,
    });
    let expired =
        keymint::signing::sign_jwt(&app.state.keys.get(&env).unwrap().active, &expired).unwrap();
    assert_eq!(status(Some(expired)).await, 401, "expired token");
}
