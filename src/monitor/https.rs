//! The monitoring port over TLS (`https_port`, `-ms`): served with the client
//! port's `tls { }` certificate but never asking for a client certificate, as
//! nats-server does. A reload's new certificate is used for new connections.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::listener::{LameDuck, Stream, TlsSlot};
use crate::server::Server;
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
    accepted: mpsc::Receiver<(Box<dyn Stream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener` and hands over each connection once its
    /// handshake is done (each in a task of its own, so a client that stalls
    /// in one holds up nobody else). Served in lame duck mode too, as
    /// nats-server keeps monitoring up then.
    pub fn new(
        server: Arc<Server>,
        listener: TcpListener,
        tls: Arc<TlsSlot>,
    ) -> std::io::Result<TlsListener> {
        let addr = listener.local_addr()?;
        let (tx, accepted) = mpsc::channel(64);
        crate::listener::spawn_accept_loop(
            server.lifecycle.clone(),
            listener,
            Some(tls),
            ("monitoring", LameDuck::Serve),
            move |stream, remote| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((stream.into_stream(), remote)).await;
                }
            },
        );
        Ok(TlsListener { accepted, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = Box<dyn Stream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(c) => c,
            // The accept loop only ends when the server stops.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
