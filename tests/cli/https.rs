//! HTTPS: served from the configured files, a renewed certificate picked up without a
//! restart.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::*;

/// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI.
fn self_signed(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A leaf, not a CA: clients refuse a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command makes the test certificates (apt install openssl)");
    assert!(status.success());
    (cert, key)
}

/// A client that trusts only `cert`, opening a new connection per request.
fn trusting(cert: &Path) -> reqwest::blocking::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

#[test]
fn https_is_served_and_a_renewed_certificate_is_picked_up_without_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (old_cert, old_key) = self_signed(dir, "old");
    let (new_cert, new_key) = self_signed(dir, "new");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::copy(&old_cert, &cert).unwrap();
    std::fs::copy(&old_key, &key).unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let cert_var = cert.display().to_string();
    let key_var = key.display().to_string();
    let mut server = start_server_with(
        dir,
        Arc::clone(&logs),
        &[
            ("KEYMINT_TLS_CERT", &cert_var),
            ("KEYMINT_TLS_KEY", &key_var),
        ],
    );
    let base = server.base.replace("http://", "https://");
    let metadata = |client: &reqwest::blocking::Client| {
        client
            .get(format!(
                "{base}/production/.well-known/oauth-authorization-server"
            ))
            .send()
    };

    let served: Value = metadata(&trusting(&old_cert)).unwrap().json().unwrap();
    assert!(
        served["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{served}"
    );
    assert!(
        metadata(&trusting(&new_cert)).is_err(),
        "the new certificate is not out yet"
    );
    // Plain HTTP on the TLS port gets nowhere.
    assert!(reqwest::blocking::get(format!("{}/healthz", server.base)).is_err());

    // Renewal: the key first, then the certificate (a half-renewed pair is not loaded).
    std::fs::copy(&new_key, &key).unwrap();
    std::fs::copy(&new_cert, &cert).unwrap();
    let started = Instant::now();
    while metadata(&trusting(&new_cert)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the renewed certificate was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        metadata(&trusting(&old_cert)).is_err(),
        "the old certificate is gone"
    );
    assert!(logs.lock().unwrap().contains("TLS certificate reloaded"));

    stop_with_sigterm(&mut server);
}
