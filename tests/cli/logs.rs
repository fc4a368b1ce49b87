//! JSON logs carry the request id.

use serde_json::Value;
use std::sync::{Arc, Mutex};

use crate::*;

#[test]
fn json_logs_carry_the_request_id() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let mut server = start_server_with(
        tmp.path(),
        Arc::clone(&logs),
        &[("KEYMINT_LOG_FORMAT", "json")],
    );
    let http = reqwest::blocking::Client::new();
    let response = http
        .post(format!("{}/production/oauth2/token", server.base))
        .header("x-request-id", "trace-4711")
        .basic_auth("kmc_nobody", Some("kms_nothing"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-request-id"], "trace-4711");
    // A caller's id that could forge log lines is replaced by a fresh one.
    let response = http
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "a\"b")
        .send()
        .unwrap();
    let fresh = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(fresh.starts_with("req_"), "{fresh}");

    stop_with_sigterm(&mut server);
    let logs = logs.lock().unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let refusal = lines
        .iter()
        .find(|l| l["fields"]["message"] == "client authentication refused")
        .expect("the refusal is logged");
    assert_eq!(refusal["span"]["request_id"], "trace-4711", "{refusal}");
    assert_eq!(refusal["span"]["path"], "/production/oauth2/token");
    // One spelling of reasons: the metric label's, as docs/reference.md shows it.
    assert_eq!(refusal["fields"]["reason"], "unknown_client", "{refusal}");
}
