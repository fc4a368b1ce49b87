//! The receiver process of the event tests (`receiver.py`).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The secret events are signed with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The receiver process, killed when dropped.
pub struct Receiver {
    child: Child,
    pub url: String,
    pub out: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Receiver {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = dir.path().join("received.jsonl");
        let mut receiver = Self {
            child: spawn(port, &out),
            url: format!("http://127.0.0.1:{port}/keymint-events"),
            out,
            port,
            _dir: dir,
        };
        receiver.wait_ready();
        receiver
    }

    fn wait_ready(&mut self) {
        use std::io::BufRead;
        let stdout = self.child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the receiver did not start");
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.child = spawn(self.port, &self.out);
        self.wait_ready();
    }

    /// What was accepted so far: (webhook-id, body).
    pub fn received(&self) -> Vec<(String, Value)> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["id"].as_str().unwrap().to_owned(), v["event"].clone())
            })
            .collect()
    }

    /// Waits until `n` events arrived (30 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        for _ in 0..600 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{} events of {n} arrived: {:#?}",
            self.received().len(),
            self.received()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(port: u16, out: &std::path::Path) -> Child {
    let python = std::env::var("KEYMINT_TEST_SCIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/events/receiver.py");
    Command::new(python)
        .args([
            script,
            &port.to_string(),
            SECRET,
            &out.display().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with standardwebhooks (KEYMINT_TEST_SCIM_PYTHON)")
}
