//! NATS over WebSocket, as browsers' `nats.ws` speaks it: the HTTP upgrade answered as
//! nats-server answers it, then WebSocket frames turned into a plain byte stream.
//!
//! ```text
//! let ws = junction_websocket::accept(tcp_or_tls, peer_addr, local_addr, &cfg).await?;
//! // ws.reader: AsyncRead of the payloads of incoming binary/text frames, back to back
//! // ws.writer: AsyncWrite sending what is written as binary frames
//! ```
//!
//! The reader ends (EOF) when the client sends a close frame, which is answered; pings are
//! answered while the reader is polled. The writer's shutdown sends a close frame. With
//! `compression`, permessage-deflate (RFC 7692, no context takeover) is used when the client
//! offers it.

mod deflate;
mod handshake;
mod origin;
mod stream;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

pub use stream::{WsReader, WsWriter};

/// How the WebSocket listener accepts connections (nats-server's `websocket { }` options that
/// matter for the upgrade itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// The `Origin` header's host and port must be the request's `Host` (and its scheme `http`).
    pub same_origin: bool,
    /// Origins accepted (`scheme://host[:port]`); empty accepts any. Checked as nats-server
    /// does: same scheme, same lower-cased host, same port (80/443 when not written).
    pub allowed_origins: Vec<String>,
    /// Use permessage-deflate when the client offers it.
    pub compression: bool,
    /// The whole upgrade (request read, answer written) must finish within this; zero means no
    /// limit, as in nats-server.
    pub handshake_timeout: Duration,
    /// Name of the cookie that may carry the user's JWT.
    pub jwt_cookie: Option<String>,
    /// Names of the cookies that may carry the user name, password and token.
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// Extra header lines for the `101` answer (`name`, `value`), after nats-server's own.
    pub headers: Vec<(String, String)>,
    /// The listener speaks TLS (`wss://`), so a same origin is an `https` one.
    pub tls: bool,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            same_origin: false,
            allowed_origins: Vec::new(),
            compression: false,
            handshake_timeout: Duration::from_secs(2),
            jwt_cookie: None,
            user_cookie: None,
            pass_cookie: None,
            token_cookie: None,
            headers: Vec::new(),
            tls: false,
        }
    }
}

/// An upgraded connection and what the upgrade request said.
#[derive(Debug)]
pub struct WsAccepted<R, W> {
    pub reader: R,
    pub writer: W,
    /// Credentials from the configured cookies, for a CONNECT that lacks them.
    pub cookies: CookieCredentials,
    /// `Some("mqtt")` when the client asked for MQTT: the `mqtt` subprotocol, or a request path
    /// ending in `/mqtt` (nats-server's MQTT-over-WebSocket endpoint). The answer names it.
    pub subprotocol: Option<String>,
    /// The `Origin` header (or `Sec-WebSocket-Origin`), as sent.
    pub origin: Option<String>,
    /// The request path, e.g. `/` or `/mqtt`.
    pub path: String,
    /// The `X-Forwarded-For` address, when it is a single valid IP (as nats-server takes it).
    pub forwarded_for: Option<IpAddr>,
    /// permessage-deflate was negotiated.
    pub compressed: bool,
}

/// The values of the `jwt_cookie`, `user_cookie`, `pass_cookie` and `token_cookie` cookies,
/// when configured and sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieCredentials {
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

/// Checks an extra `headers` entry as nats-server does: the upgrade's own headers can't be set.
pub fn validate_header(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
    ) {
        return Err(format!("websocket: invalid header {name:?} not allowed"));
    }
    if lower.starts_with("sec-websocket-") {
        return Err(format!(
            "websocket: invalid header {name:?}, \"Sec-WebSocket-\" prefix not allowed"
        ));
    }
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
        return Err(format!("websocket: invalid header name {name:?}"));
    }
    Ok(())
}

/// Why a connection was not upgraded.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The upgrade did not finish within `handshake_timeout`.
    #[error("websocket handshake did not complete within {0:?}")]
    Timeout(Duration),
    /// The request was refused with this HTTP status (and the answer was sent).
    #[error("websocket handshake error: {reason} (answered HTTP {status})")]
    Rejected { status: u16, reason: String },
    /// The request was unusable and the connection was closed without an answer.
    #[error("websocket handshake error: {0}")]
    Protocol(String),
    /// Reading the request or writing the answer failed.
    #[error("websocket handshake I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the HTTP upgrade request from `stream`, checks it as nats-server does (method, headers,
/// key, version, origin), answers it, and returns the connection as a byte reader and writer.
/// `local` is the listener's address, used in logs.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    local: SocketAddr,
    cfg: &WsConfig,
) -> Result<WsAccepted<WsReader<S>, WsWriter<S>>, WsError> {
    let result = if cfg.handshake_timeout.is_zero() {
        handshake::upgrade(stream, cfg).await
    } else {
        match tokio::time::timeout(cfg.handshake_timeout, handshake::upgrade(stream, cfg)).await {
            Ok(r) => r,
            Err(_) => Err(WsError::Timeout(cfg.handshake_timeout)),
        }
    };
    match &result {
        Ok(ws) => tracing::debug!(
            %peer,
            %local,
            path = %ws.path,
            compressed = ws.compressed,
            "websocket connection upgraded"
        ),
        Err(e) => tracing::debug!(%peer, %local, "{e}"),
    }
    result
}

/// Checks an `allowed_origins` entry as nats-server validates its options: an absolute
/// `http` or `https` URL with a host. `Err` says what is wrong.
pub fn validate_allowed_origin(origin: &str) -> Result<(), String> {
    let parsed = origin::parse(origin).map_err(|e| format!("unable to parse allowed origin: {e}"))?;
    if parsed.scheme != "http" && parsed.scheme != "https" {
        return Err(format!(
            "unable to parse allowed origin {origin:?}: allowed origins must be absolute URLs with http \
             or https scheme"
        ));
    }
    if parsed.host.is_empty() {
        return Err(format!(
            "unable to parse allowed origin {origin:?}: host is required"
        ));
    }
    Ok(())
}

/// Opens a WebSocket to `url` (`ws://host:port/path`) over `stream`, as a
/// client (masked frames, no compression), and returns it as a byte reader
/// and writer: what a leaf node uses to reach a hub's WebSocket port.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
) -> Result<(WsReader<S>, WsWriter<S>), WsError> {
    use futures_util::StreamExt;
    let transport = deflate::Transport::new(stream, false);
    let (ws, _) = tokio_tungstenite::client_async(url, transport)
        .await
        .map_err(|e| WsError::Protocol(e.to_string()))?;
    let (sink, source) = ws.split();
    Ok((WsReader::new(source), WsWriter::new(sink)))
}
