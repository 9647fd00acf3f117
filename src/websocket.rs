//! The WebSocket listener: upgrades connections with `adapters/websocket`
//! and runs the unchanged NATS connection code over the resulting byte
//! stream, so browsers (`nats.ws`) land in the same router as TCP clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use junction_websocket::{accept, WsConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::connection;
use crate::options::WebsocketOptions;
use crate::server::Server;

/// Binds the WebSocket port and accepts until the server stops.
pub async fn start(server: Arc<Server>, opts: &WebsocketOptions) -> anyhow::Result<SocketAddr> {
    if !opts.no_tls {
        anyhow::bail!("websocket: TLS is not supported yet; set no_tls: true");
    }
    let bind = format!("{}:{}", opts.host, opts.port);
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("can't listen for websocket clients on {bind}"))?;
    let local = listener.local_addr()?;
    server.set_websocket_addr(local);
    tracing::info!("Listening for websocket clients on ws://{local}");
    let cfg = Arc::new(WsConfig {
        same_origin: opts.same_origin,
        allowed_origins: opts.allowed_origins.clone(),
        compression: opts.compression,
        handshake_timeout: opts.handshake_timeout,
        jwt_cookie: opts.jwt_cookie.clone(),
    });
    tokio::spawn(async move {
        loop {
            let (stream, remote) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::error!("Error accepting websocket connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = server.stopped() => break,
            };
            if server.is_lame_duck() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            let server = server.clone();
            let cfg = cfg.clone();
            tokio::spawn(async move {
                let ws = match accept(stream, local, &cfg).await {
                    Ok(ws) => ws,
                    Err(e) => {
                        tracing::debug!(%remote, "{e}");
                        return;
                    }
                };
                let mut writer = ws.writer;
                if ws.subprotocol.as_deref() == Some("mqtt") {
                    // MQTT over WebSocket arrives with the MQTT adapter.
                    let _ = writer.shutdown().await;
                    return;
                }
                let id = server.next_client_id();
                if server.at_max_connections() {
                    let _ = writer.write_all(b"-ERR 'maximum connections exceeded'\r\n").await;
                    let _ = writer.shutdown().await;
                    return;
                }
                let remote = ws
                    .forwarded_for
                    .map_or(remote, |ip| SocketAddr::new(ip, remote.port()));
                connection::serve(
                    server,
                    id,
                    remote,
                    "websocket",
                    ws.jwt_from_cookie,
                    ws.reader,
                    writer,
                )
                .await;
            });
        }
    });
    Ok(local)
}
