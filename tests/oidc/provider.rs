//! A real OpenID Provider for the console's sign-in tests: panva's `oidc-provider` run
//! by `tests/oidc/provider.mjs` under Node (installed by `.ci/run`, which sets
//! KEYMINT_TEST_OIDC_PROVIDER to the folder holding its `node_modules`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CLIENT_ID: &str = "keymint-console";
pub const CLIENT_SECRET: &str = "console-client-secret-for-tests";

/// A free port on 127.0.0.1 for the provider, picked before Keymint starts (Keymint
/// needs the issuer, the provider Keymint's redirect URI).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn issuer(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The running provider; stopped on drop.
pub struct OidcProvider {
    child: Child,
}

impl OidcProvider {
    /// Starts it on `port` with one client redirecting to `redirect_uri`, confidential
    /// (`client_secret_basic`) with a secret, public without; waits for its discovery.
    pub async fn start(port: u16, redirect_uri: &str, secret: Option<&str>) -> Self {
        let folder = std::env::var("KEYMINT_TEST_OIDC_PROVIDER")
            .expect("KEYMINT_TEST_OIDC_PROVIDER: the folder where .ci/run installed oidc-provider");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/provider.mjs");
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg(port.to_string())
            .arg(redirect_uri)
            .arg(CLIENT_ID)
            .env("KEYMINT_TEST_OIDC_PROVIDER", folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(secret) = secret {
            command.arg(secret);
        }
        let child = command.spawn().expect("node (apt-get install nodejs)");
        let provider = Self { child };
        let discovery = format!("{}/.well-known/openid-configuration", issuer(port));
        for _ in 0..150 {
            if reqwest::get(&discovery)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return provider;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("oidc-provider did not come up at {discovery}");
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
