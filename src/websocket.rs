//! The WebSocket listener: upgrades connections with `adapters/websocket`
//! and runs the unchanged NATS session (or, for the `mqtt` subprotocol and
//! the `/mqtt` path, the MQTT session) over the resulting byte stream, so
//! browsers (`nats.ws`, `mqtt.js`) land in the same router as TCP clients.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use junction_websocket::{accept, WsConfig};

use crate::mqtt::Mqtt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::nats;
use crate::options::WebsocketOptions;
use crate::server::Server;

/// Binds the WebSocket port and accepts until the server stops.
/// Binds the WebSocket port and accepts until the server stops. `mqtt` is
/// the MQTT state its MQTT clients share with the MQTT port, when there is one.
pub async fn start(
    server: Arc<Server>,
    opts: &WebsocketOptions,
    mqtt: Option<Arc<Mqtt>>,
) -> anyhow::Result<SocketAddr> {
    // As nats-server: TLS whenever configured, whatever `no_tls` says.
    let tls = match &opts.tls {
        Some(t) => Some(TlsAcceptor::from(
            crate::tls::server_config(t).context("websocket TLS")?,
        )),
        None if opts.no_tls => None,
        None => anyhow::bail!("websocket requires TLS configuration"),
    };
    let bind = format!("{}:{}", opts.host, opts.port);
    let listener = crate::listener::bind(&bind)
        .await
        .with_context(|| format!("can't listen for websocket clients on {bind}"))?;
    let local = listener.local_addr()?;
    server.set_websocket(local, opts.clone());
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    tracing::info!("Listening for websocket clients on {scheme}://{local}");
    // The TLS handshake counts against the upgrade's time limit, as in nats-server.
    let tls_timeout = match (&opts.tls, opts.handshake_timeout.is_zero()) {
        (Some(t), true) => t.timeout,
        _ => opts.handshake_timeout,
    };
    let cfg = Arc::new(WsConfig {
        same_origin: opts.same_origin,
        allowed_origins: opts.allowed_origins.clone(),
        compression: opts.compression,
        handshake_timeout: opts.handshake_timeout,
        jwt_cookie: opts.jwt_cookie.clone(),
        user_cookie: opts.user_cookie.clone(),
        pass_cookie: opts.pass_cookie.clone(),
        token_cookie: opts.token_cookie.clone(),
        headers: opts.headers.clone(),
        tls: tls.is_some(),
    });
    let tls = tls.map(|t| crate::listener::TlsSlot::new(t, tls_timeout));
    *server.websocket_tls.lock() = tls.clone();
    crate::listener::spawn_accept_loop(
        server.lifecycle.clone(),
        listener,
        tls,
        ("websocket", crate::listener::LameDuck::Refuse),
        move |stream, remote| {
            let (server, cfg, mqtt) = (server.clone(), cfg.clone(), mqtt.clone());
            async move { upgrade(server, mqtt, stream.into_stream(), remote, local, &cfg).await }
        },
    );
    Ok(local)
}

/// Upgrades one connection (plain or TLS) and serves it as a NATS client.
async fn upgrade<S>(
    server: Arc<Server>,
    mqtt: Option<Arc<Mqtt>>,
    stream: S,
    remote: SocketAddr,
    local: SocketAddr,
    cfg: &WsConfig,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws = match accept(stream, remote, local, cfg).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%remote, "{e}");
            return;
        }
    };
    let mut writer = ws.writer;
    let remote = ws
        .forwarded_for
        .map_or(remote, |ip| SocketAddr::new(ip, remote.port()));
    if ws.path.ends_with("/leafnode") {
        // A leaf node through the WebSocket port, on nats-server's path.
        match server.leaf_links() {
            Some(leafs) => leafs.accept_websocket(remote, Box::new(ws.reader), Box::new(writer)),
            None => {
                let _ = writer.shutdown().await;
            }
        }
        return;
    }
    if ws.subprotocol.as_deref() == Some("mqtt") {
        // MQTT over WebSocket: the same MQTT session as on the MQTT port.
        let Some(mqtt) = mqtt.filter(|_| server.mqtt_options().is_some()) else {
            // As nats-server: MQTT over WebSocket needs the `mqtt` block.
            let _ = writer.shutdown().await;
            return;
        };
        crate::mqtt::serve(server, mqtt, remote, "mqtt", ws.reader, writer).await;
        return;
    }
    let id = server.next_client_id();
    if server.at_max_connections() {
        let _ = writer.write_all(b"-ERR 'maximum connections exceeded'\r\n").await;
        let _ = writer.shutdown().await;
        return;
    }
    nats::serve(server, id, remote, "websocket", ws.cookies, ws.reader, writer).await;
}
