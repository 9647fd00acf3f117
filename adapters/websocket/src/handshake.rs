//! The HTTP upgrade: reads the request, checks it in the order nats-server's `wsUpgrade` does,
//! and writes the `101 Switching Protocols` answer, byte for byte as nats-server writes it, or an
//! HTTP error like Go's `http.Error`.

use std::net::IpAddr;

use data_encoding::BASE64;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::deflate::{Transport, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE};
use crate::origin;
use crate::stream::{WsReader, WsWriter};
use crate::{CookieCredentials, WsAccepted, WsConfig, WsError};

/// The longest request head accepted (request line and headers).
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// The most header lines accepted.
const MAX_HEADERS: usize = 128;

/// nats-server's answer when permessage-deflate is used.
const PMC_RESPONSE: &str = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                            client_no_context_takeover\r\n";
/// nats-server's answer for MQTT over WebSocket (its spelling).
const MQTT_RESPONSE: &str = "Sec-Websocket-Protocol: mqtt\r\n";

/// The parts of the upgrade request that matter.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// Header lines in order; names as sent.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// Every value of the header `name` (any case), one per header line.
    pub fn values<'a: 'n, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + 'n {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of the header `name`, like Go's `Header.Get`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// Some line of header `name` holds `token` in its comma-separated list (any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    }
}

/// Reads the request, answers it and sets up the WebSocket streams.
pub(crate) async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    cfg: &WsConfig,
) -> Result<WsAccepted<WsReader<S>, WsWriter<S>>, WsError> {
    let (request, extra) = match read_request(&mut stream).await {
        Ok(r) => r,
        Err(RequestError::Reject(status, reason)) => return reject(&mut stream, status, reason).await,
        Err(RequestError::Io(e)) => return Err(WsError::Io(e)),
    };
    if let Err((status, reason)) = check(&request, cfg) {
        return reject(&mut stream, status, reason).await;
    }
    if extra {
        // nats-server closes without an answer here too.
        return Err(WsError::Protocol(
            "client sent data before handshake is complete".into(),
        ));
    }

    let compressed = cfg.compression && offers_deflate(&request);
    // The `mqtt` subprotocol, or nats-server's `/mqtt` path, selects MQTT.
    // The answer names the subprotocol only when it was asked for: RFC 6455
    // clients (browsers, tungstenite) fail a connection that gets one it
    // did not request.
    let asked_mqtt = request.has_token("Sec-WebSocket-Protocol", "mqtt");
    let mqtt = asked_mqtt || request.path.ends_with("/mqtt");
    let key = request.get("Sec-WebSocket-Key").unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if compressed {
        answer.push_str(PMC_RESPONSE);
    }
    if asked_mqtt {
        answer.push_str(MQTT_RESPONSE);
    }
    for (name, value) in &cfg.headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str("\r\n");
    stream.write_all(answer.as_bytes()).await?;

    let origin = request
        .get("Origin")
        .filter(|o| !o.is_empty())
        .or_else(|| request.get("Sec-WebSocket-Origin"))
        .filter(|o| !o.is_empty())
        .map(str::to_string);
    let named = |name: &Option<String>| name.as_deref().and_then(|n| cookie(&request, n));
    let cookies = CookieCredentials {
        jwt: named(&cfg.jwt_cookie),
        user: named(&cfg.user_cookie),
        pass: named(&cfg.pass_cookie),
        token: named(&cfg.token_cookie),
    };
    // nats-server takes the first X-Forwarded-For line when it is one valid address.
    let forwarded_for = request
        .get("X-Forwarded-For")
        .and_then(|v| v.parse::<IpAddr>().ok());

    let config = WebSocketConfig::default()
        .read_buffer_size(32 * 1024)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_FRAME_SIZE));
    let transport = Transport::new(stream, compressed);
    let ws = WebSocketStream::from_raw_socket(transport, Role::Server, Some(config)).await;
    let (sink, source) = ws.split();
    Ok(WsAccepted {
        reader: WsReader::new(source),
        writer: WsWriter::new(sink),
        cookies,
        subprotocol: mqtt.then(|| "mqtt".to_string()),
        origin,
        path: request.path,
        forwarded_for,
        compressed,
    })
}

/// Why no request could be taken.
enum RequestError {
    /// Answer with this HTTP status; the reason is for logs.
    Reject(u16, String),
    Io(std::io::Error),
}

/// Reads until the end of the request head. Also tells whether bytes followed it.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Request, bool), RequestError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let request = Request {
                    method: parsed.method.unwrap_or_default().to_string(),
                    path: parsed.path.unwrap_or_default().to_string(),
                    headers: parsed
                        .headers
                        .iter()
                        .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                        .collect(),
                };
                return Ok((request, buf.len() > len));
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(RequestError::Reject(431, "too many header lines".into()))
            }
            Err(e) => return Err(RequestError::Reject(400, format!("malformed request: {e}"))),
        }
        if buf.len() >= MAX_REQUEST_HEAD {
            return Err(RequestError::Reject(431, "request head too large".into()));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(RequestError::Io)?;
        if n == 0 {
            return Err(RequestError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The checks of RFC 6455 section 4.2.1 as nats-server makes them, in its order, then the
/// origin. `Err` holds the HTTP status and the reason.
pub(crate) fn check(request: &Request, cfg: &WsConfig) -> Result<(), (u16, String)> {
    let bad = |reason: &str| Err((400, reason.to_string()));
    if request.method != "GET" {
        return Err((405, "request method must be GET".into()));
    }
    if request.get("Host").unwrap_or_default().is_empty() {
        return bad("'Host' missing in request");
    }
    if !request.has_token("Upgrade", "websocket") {
        return bad("invalid value for header 'Upgrade'");
    }
    if !request.has_token("Connection", "Upgrade") {
        return bad("invalid value for header 'Connection'");
    }
    let key = request.get("Sec-WebSocket-Key").unwrap_or_default();
    if key.is_empty() {
        return bad("key missing");
    }
    if BASE64.decode(key.as_bytes()).map(|k| k.len()) != Ok(16) {
        return bad("invalid websocket key");
    }
    if !request.has_token("Sec-WebSocket-Version", "13") {
        return bad("invalid version");
    }
    origin::check(request, cfg).map_err(|e| (403, format!("origin not allowed: {e}")))
}

/// The client offers permessage-deflate (nats-server looks for the name only, ignoring parameters).
fn offers_deflate(request: &Request) -> bool {
    request
        .values("Sec-WebSocket-Extensions")
        .flat_map(|v| v.split(','))
        .flat_map(|ext| ext.split(';'))
        .any(|p| {
            p.trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("permessage-deflate")
        })
}

/// The value of cookie `name` (the last one when sent several times), parsed as Go's
/// `Request.Cookies` does: surrounding quotes removed, cookies with invalid bytes skipped.
pub(crate) fn cookie(request: &Request, name: &str) -> Option<String> {
    let mut found = None;
    for part in request.values("Cookie").flat_map(|line| line.split(';')) {
        let part = part.trim_matches([' ', '\t']);
        let Some((n, v)) = part.split_once('=') else {
            continue;
        };
        if n.trim_matches([' ', '\t']) != name {
            continue;
        }
        let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(unquoted) => unquoted,
            None => v,
        };
        let valid = v
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b';' | b'\\'));
        if valid {
            found = Some(v.to_string());
        }
    }
    found
}

/// Sends an HTTP error as Go's `http.Error` writes it (with nats-server's extra header) and
/// returns the matching error.
async fn reject<T, S: AsyncWrite + Unpin>(stream: &mut S, status: u16, reason: String) -> Result<T, WsError> {
    let text = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let answer = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}\n",
        text.len() + 1
    );
    // The client may be gone already; the rejection is what matters.
    if let Err(e) = stream.write_all(answer.as_bytes()).await {
        tracing::trace!("could not send the websocket rejection: {e}");
    }
    let _ = stream.shutdown().await;
    Err(WsError::Rejected { status, reason })
}
