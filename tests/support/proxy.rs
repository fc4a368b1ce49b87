//! A TCP proxy in front of the real PostgreSQL that a test can cut (every connection
//! closed, new ones refused) and restore: a database lost and found again. Or darken:
//! every connection stays open and new ones are accepted, but no byte is forwarded
//! either way until it is restored (a network partition as the instance sees it: no
//! error, no answer); what was held is then delivered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct CuttableProxy {
    pub address: SocketAddr,
    open: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    dark: watch::Sender<bool>,
}

/// Copies `from` to `to`, holding every byte while the link is dark.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut dark: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if dark.wait_for(|d| !*d).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl CuttableProxy {
    /// Starts forwarding 127.0.0.1:<free port> to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (dark, _) = watch::channel(false);
        let (accepting, cut_rx, dark_rx) = (Arc::clone(&open), cuts.subscribe(), dark.subscribe());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(inbound); // refused: closed at once
                    continue;
                }
                let mut cut = cut_rx.clone();
                cut.mark_unchanged();
                let dark = dark_rx.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = inbound.into_split();
                    let (server_read, server_write) = outbound.into_split();
                    tokio::select! {
                        () = pump(client_read, server_write, dark.clone()) => {}
                        () = pump(server_read, client_write, dark) => {}
                        _ = cut.changed() => {} // both sockets dropped: connection lost
                    }
                });
            }
        });
        Self {
            address,
            open,
            cuts,
            dark,
        }
    }

    /// The database is gone: open connections drop, new ones are refused.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// The link goes dark: connections stay open, nothing is forwarded.
    pub fn darken(&self) {
        self.dark.send_replace(true);
    }

    /// The database is back (after a cut or a dark spell).
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.dark.send_replace(false);
    }
}

/// `url` with its host and port replaced by `address`.
pub fn via(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    format!("{scheme}://{}{address}/{path}", &authority[..host_start])
}
