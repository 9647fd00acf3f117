//! The monitoring port over TLS (`https_port`, `-ms`): served with the client
//! port's `tls { }` certificate but never asking for a client certificate, as
//! nats-server does. A reload's new certificate is used for new connections.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::listener::TlsSlot;
use crate::tls::{TlsError, TlsOptions};

/// The monitoring port's acceptor for a `tls { }` block: its certificate and
/// versions, without client verification (browsers and `curl` have none).
pub fn acceptor(tls: &TlsOptions) -> Result<TlsAcceptor, TlsError> {
    let monitoring = TlsOptions {
        verify: false,
        handshake_first: false,
        ..tls.clone()
    };
    crate::tls::server_config(&monitoring).map(TlsAcceptor::from)
}

/// Connections that finished their TLS handshake, for `axum::serve`.
pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener` and hands over each connection once its handshake
    /// is done. Handshakes run in tasks of their own, so a client that stalls
    /// in one holds up nobody else; the loop ends when the listener is dropped.
    pub fn new(listener: TcpListener, tls: Arc<TlsSlot>) -> std::io::Result<TlsListener> {
        let addr = listener.local_addr()?;
        let (tx, accepted) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, remote) = tokio::select! {
                    a = listener.accept() => match a {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::error!("Error accepting monitoring connection: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = tx.closed() => break,
                };
                let acceptor = (*tls.acceptor.load_full()).clone();
                let (tx, timeout) = (tx.clone(), tls.timeout);
                tokio::spawn(async move {
                    match crate::tls::handshake(&acceptor, stream, timeout).await {
                        Ok(stream) => {
                            let _ = tx.send((stream, remote)).await;
                        }
                        Err(e) => tracing::debug!(%remote, "monitoring TLS handshake error: {e}"),
                    }
                });
            }
        });
        Ok(TlsListener { accepted, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(c) => c,
            // The accept loop only ends once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
