//! The real `keymint` binary in tests: one CLI command, or `serve` on a free port.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary Cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_keymint");

/// Runs `keymint ARGS` in `dir` against the database at `url`, with no other environment;
/// its standard output. The test fails if the command does.
pub fn cli(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A served instance: the child process, killed when this is dropped, so a test that
/// fails midway leaves no server running.
pub struct Served(Child);

impl Deref for Served {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `keymint serve` in `dir` against `url` on a free loopback port, with only
/// `vars` added to its environment; the instance and its base URL, once it announced its
/// address.
pub async fn serve(dir: &Path, url: &str, vars: &[(&str, &str)]) -> (Served, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", url)
        .env("KEYMINT_LISTEN", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads (and keeps draining) stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.contains("keymint serving")
                && let Some(rest) = line.split("address=").nth(1)
            {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let address = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the server announced its address");
    (Served(child), format!("http://{address}"))
}
