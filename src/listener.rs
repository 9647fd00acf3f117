//! Binding a listening socket the way nats-server does: with a backlog of
//! 4096, so a burst of connections waits in the kernel's accept queue
//! instead of having its SYNs dropped (a client then waits a second for the
//! retransmission) while the accept loop catches up. And the accept loop of
//! the WebSocket and MQTT listeners.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{lookup_host, TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::lifecycle::Lifecycle;

/// A byte stream a listener accepted: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connection a listener accepted. Plain TCP stays a `TcpStream`, so a
/// protocol that reads and writes from different tasks can split it into
/// owned halves, which need no lock between them.
pub enum Accepted {
    Tcp(TcpStream),
    Tls(Box<dyn Stream>),
}

impl Accepted {
    /// The connection as one byte stream.
    pub fn into_stream(self) -> Box<dyn Stream> {
        match self {
            Accepted::Tcp(s) => Box::new(s),
            Accepted::Tls(s) => s,
        }
    }
}

/// A listener's TLS: its acceptor, which a configuration reload may
/// replace, and the handshake's time limit.
pub struct TlsSlot {
    pub acceptor: arc_swap::ArcSwap<TlsAcceptor>,
    pub timeout: Duration,
}

impl TlsSlot {
    pub fn new(acceptor: TlsAcceptor, timeout: Duration) -> Arc<TlsSlot> {
        Arc::new(TlsSlot {
            acceptor: arc_swap::ArcSwap::from_pointee(acceptor),
            timeout,
        })
    }
}

/// Whether a listener serves new connections in lame duck mode: client
/// listeners do not (clients are to move to another server), monitoring does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LameDuck {
    Refuse,
    Serve,
}

/// Accepts on `listener` until the server stops. The loop only accepts:
/// each connection gets a task of its own, which does the TLS handshake
/// (when the listener has TLS) and then runs `serve`. `what` names the
/// listener in log lines.
pub fn spawn_accept_loop<F, Fut>(
    lifecycle: Arc<Lifecycle>,
    listener: TcpListener,
    tls: Option<Arc<TlsSlot>>,
    (what, lame_duck): (&'static str, LameDuck),
    serve: F,
) where
    F: Fn(Accepted, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        loop {
            let (stream, remote) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::error!("Error accepting {what} connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = lifecycle.stopped() => break,
            };
            if lame_duck == LameDuck::Refuse && lifecycle.is_lame_duck() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            // The certificate in force when the connection came.
            let tls = tls
                .as_ref()
                .map(|t| ((*t.acceptor.load_full()).clone(), t.timeout));
            let serve = serve.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(Accepted::Tcp(stream), remote).await,
                    Some((acceptor, timeout)) => {
                        match crate::tls::handshake(&acceptor, stream, timeout).await {
                            Ok(stream) => serve(Accepted::Tls(Box::new(stream)), remote).await,
                            Err(e) => tracing::debug!(%remote, "{what} TLS handshake error: {e}"),
                        }
                    }
                }
            });
        }
    });
}

/// nats-server's listen backlog (Go asks for `net.core.somaxconn`, 4096 on
/// current kernels).
pub const BACKLOG: u32 = 4096;

/// Binds `host:port` (a name is resolved; the first address that binds wins).
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in lookup_host(addr).await? {
        match bind_addr(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")))
}

fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std and Go do on Unix: a restarted server can bind at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_free_port_on_a_name() {
        let l = bind("localhost:0").await.unwrap();
        assert_ne!(l.local_addr().unwrap().port(), 0);
    }

    #[tokio::test]
    async fn a_port_in_use_is_an_error() {
        let l = bind("127.0.0.1:0").await.unwrap();
        let err = bind(&l.local_addr().unwrap().to_string()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
