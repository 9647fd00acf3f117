//! The NATS client port: accepting connections, TLS (INFO in the clear
//! first, or the handshake first), the connection limit, and INFO.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use junction_nats::encode;
use tokio::net::{TcpListener, TcpStream};

use super::Client;
use crate::conn::CloseReason;
use crate::server::Server;

/// Binds the client port and starts accepting NATS clients: the address
/// bound, and the task that accepts until the server stops.
pub async fn listen(server: Arc<Server>) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let bind = format!("{}:{}", server.opts().host, server.opts().port);
    let listener = crate::listener::bind(&bind)
        .await
        .with_context(|| format!("Error listening on port: {bind}"))?;
    let addr = listener.local_addr()?;
    server.set_client_addr(addr);
    tracing::info!("Listening for client connections on {addr}");
    let accept_task = tokio::spawn(accept_loop(server.clone(), listener));
    Ok((addr, accept_task))
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = server.lifecycle.stopped() => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Running out of file descriptors is transient: back off.
                tracing::error!("Error accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if server.is_lame_duck() {
            // Lame duck: no new clients; they reconnect elsewhere.
            drop(stream);
            continue;
        }
        accept(&server, stream, remote);
    }
    drop(listener);
    server.close_all(CloseReason::ServerShutdown);
}

/// Hands a new connection to a task of its own at once: the accept loop
/// does nothing else, so a burst of connects never waits on it.
fn accept(server: &Arc<Server>, stream: TcpStream, remote: SocketAddr) {
    let server = server.clone();
    tokio::spawn(async move {
        let _ = stream.set_nodelay(true);
        let id = server.next_client_id();
        let over_limit = server.at_max_connections();
        if let Some(acceptor) = server.tls_acceptor() {
            return accept_tls(server, (*acceptor).clone(), stream, id, remote, over_limit).await;
        }
        let (reader, writer) = stream.into_split();
        if over_limit {
            refuse_max_connections(server, id, remote, writer).await;
            return;
        }
        super::serve(
            server,
            id,
            remote,
            "nats",
            super::CookieCredentials::default(),
            reader,
            writer,
        )
        .await;
    });
}

/// A client on a TLS port: INFO in the clear, then the TLS handshake, then the
/// protocol over TLS, as nats-server does; with `handshake_first`, TLS comes first.
async fn accept_tls(
    server: Arc<Server>,
    acceptor: tokio_rustls::TlsAcceptor,
    mut stream: TcpStream,
    id: u64,
    remote: SocketAddr,
    over_limit: bool,
) {
    use tokio::io::AsyncWriteExt;
    let opts = server.opts();
    let tls = opts.tls.as_ref().expect("TLS options with an acceptor");
    let handshake_first = tls.handshake_first;
    let timeout = tls.timeout;
    if over_limit {
        if !handshake_first {
            refuse_max_connections(server, id, remote, stream).await;
        } else if let Ok(tls) = crate::tls::handshake(&acceptor, stream, timeout).await {
            refuse_max_connections(server, id, remote, tls).await;
        }
        return;
    }
    let client = super::register(
        server.clone(),
        id,
        remote,
        "nats",
        super::CookieCredentials::default(),
    );
    let info = client.info();
    if !handshake_first && stream.write_all(&info).await.is_err() {
        super::abandon(&client, CloseReason::WriteError);
        return;
    }
    // Like Go's TLS, hang up without an alert on a client that speaks plain text.
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD => {}
        _ => {
            tracing::error!(
                %remote,
                cid = id,
                "TLS handshake error: first record does not look like a TLS handshake"
            );
            super::abandon(&client, CloseReason::TlsHandshakeError);
            return;
        }
    }
    let stream = match crate::tls::handshake(&acceptor, stream, timeout).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%remote, cid = id, "TLS handshake error: {e}");
            super::abandon(&client, CloseReason::TlsHandshakeError);
            return;
        }
    };
    let (_, session) = stream.get_ref();
    client.set_tls(super::TlsInfo {
        version: match session.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".into(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".into(),
            other => format!("{other:?}"),
        },
        // rustls spells TLS 1.3 suites `TLS13_…`; Go, and so nats-server, `TLS_…`.
        cipher_suite: session
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()).replacen("TLS13_", "TLS_", 1))
            .unwrap_or_default(),
        handshake_first,
    });
    if handshake_first {
        client.queue_proto(&info);
    }
    let (reader, writer) = tokio::io::split(stream);
    super::run(client, reader, writer).await;
}

/// The content type of a TLS handshake record, the first byte a TLS client sends.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

async fn refuse_max_connections<W: tokio::io::AsyncWrite + Unpin>(
    server: Arc<Server>,
    id: u64,
    remote: SocketAddr,
    mut writer: W,
) {
    use tokio::io::AsyncWriteExt;
    let mut info = server.base_info();
    info.client_id = id;
    info.client_ip = remote.ip().to_string();
    let mut buf = BytesMut::new();
    encode::info(&mut buf, &info);
    encode::err(&mut buf, "maximum connections exceeded");
    tracing::error!("maximum connections exceeded");
    let _ = tokio::time::timeout(Duration::from_secs(2), writer.write_all(&buf)).await;
    let _ = writer.shutdown().await;
}

impl Client {
    /// The INFO line for one client.
    pub fn info(&self) -> BytesMut {
        self.info_with_ldm(self.server.is_lame_duck())
    }

    /// The INFO line, saying `ldm` (go elsewhere) when `ldm`.
    pub fn info_with_ldm(&self, ldm: bool) -> BytesMut {
        let mut info = self.server.base_info();
        info.ldm = ldm;
        info.auth_required = self.server.auth_required_for(self.transport);
        if self.transport == "nats" {
            if let Some(tls) = &self.server.opts().tls {
                info.tls_required = true;
                info.tls_verify = tls.verify;
            }
        }
        if self.transport == "websocket" {
            // WebSocket clients reconnect to WebSocket ports.
            info.connect_urls = self.server.connect_urls(true);
        }
        info.client_id = self.id;
        info.client_ip = self.remote.ip().to_string();
        info.nonce = self.nonce.clone();
        let mut buf = BytesMut::with_capacity(512);
        encode::info(&mut buf, &info);
        buf
    }
}
