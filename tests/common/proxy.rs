//! A fault-injecting TCP proxy for links between servers: it can cut the
//! link, or stall it (bytes held back with both sockets open, a half-open
//! link as a dead peer or a broken network leaves it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A proxy in front of `target`: every connection to it is piped there.
pub struct Proxy {
    pub addr: SocketAddr,
    /// While set, bytes are held back in both directions.
    pub stalled: Arc<AtomicBool>,
    /// Closes every piped connection.
    pub cut: Arc<Notify>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Notify::new());
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, c, a) = (stalled.clone(), cut.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::Relaxed);
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                let (s1, s2, c1) = (s.clone(), s.clone(), c.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = pipe(ir, ow, s1) => {}
                        _ = pipe(or, iw, s2) => {}
                        _ = c1.notified() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            stalled,
            cut,
            accepted,
        }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A stalled link swallows what it is given and keeps both ends open.
        if stalled.load(Ordering::Relaxed) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
