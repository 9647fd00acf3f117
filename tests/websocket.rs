//! NATS over WebSocket through the real listener, with tokio-tungstenite as
//! the client speaking raw NATS protocol in binary frames: split frames,
//! several operations per frame, interop with TCP clients, origin checks,
//! close, and monitoring showing the listener.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use junction::options::{ListenerAuth, WebsocketOptions};
use junction::Options;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start(ws: WebsocketOptions) -> (junction::RunningServer, SocketAddr) {
    let server = common::start(Options::default()).await;
    let addr = junction::websocket::start(
        server.server.clone(),
        &WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 0,
            ..ws
        },
        None,
    )
    .await
    .unwrap();
    (server, addr)
}

async fn open(addr: SocketAddr, origin: Option<&str>) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    match origin {
        Some(o) => open_with(addr, &[("Origin", o)]).await,
        None => open_with(addr, &[]).await,
    }
}

async fn open_with(
    addr: SocketAddr,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

/// Reads frames until `want` bytes of NATS protocol have arrived.
async fn read_text<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, want: usize) -> String {
    let mut out = Vec::new();
    while out.len() < want {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("frame in time")
            .expect("stream open")
            .expect("frame ok");
        match frame {
            Frame::Binary(b) => out.extend_from_slice(&b),
            Frame::Text(t) => out.extend_from_slice(t.as_bytes()),
            _ => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, data: &str) {
    ws.send(Frame::Binary(data.as_bytes().to_vec().into()))
        .await
        .unwrap();
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> String {
    let info = read_text(ws, 5).await;
    assert!(info.starts_with("INFO {"), "{info}");
    info
}

#[tokio::test]
async fn operations_split_across_frames_and_batched_in_one() {
    let (server, addr) = start(WebsocketOptions::default()).await;
    let mut ws = open(addr, None).await.unwrap();
    handshake(&mut ws).await;
    // One operation over several frames.
    for part in ["CONNECT {\"verbose\":false}\r", "\nSU", "B a.* 1\r\nPI", "NG\r\n"] {
        send(&mut ws, part).await;
    }
    assert_eq!(read_text(&mut ws, 6).await, "PONG\r\n");
    // Several operations in one frame.
    send(&mut ws, "PUB a.b 2\r\nhi\r\nPUB a.c 3\r\nyou\r\nPING\r\n").await;
    assert_eq!(
        read_text(&mut ws, 41).await,
        "MSG a.b 1 2\r\nhi\r\nMSG a.c 1 3\r\nyou\r\nPONG\r\n"
    );
    drop(server);
}

#[tokio::test]
async fn websocket_and_tcp_clients_share_the_router() {
    let (server, addr) = start(WebsocketOptions::default()).await;
    let mut ws = open(addr, None).await.unwrap();
    handshake(&mut ws).await;
    send(
        &mut ws,
        "CONNECT {\"verbose\":false}\r\nSUB from.tcp 1\r\nPING\r\n",
    )
    .await;
    assert_eq!(read_text(&mut ws, 6).await, "PONG\r\n");
    let nc = async_nats::connect(common::url(&server)).await.unwrap();
    let mut sub = nc.subscribe("from.ws").await.unwrap();
    nc.flush().await.unwrap();
    nc.publish("from.tcp", "to browser".into()).await.unwrap();
    nc.flush().await.unwrap();
    assert_eq!(
        read_text(&mut ws, 31).await,
        "MSG from.tcp 1 10\r\nto browser\r\n"
    );
    send(&mut ws, "PUB from.ws 7\r\nto tcp!\r\n").await;
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"to tcp!");
    // Monitoring shows which listener each connection came through.
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let connz = common::http_json(http, "/connz").await;
    let mut types: Vec<&str> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, ["nats", "websocket"]);
    let varz = common::http_json(http, "/varz").await;
    // As nats-server 2.9.10 shows the same block (fields that are off left out).
    assert_eq!(
        varz["websocket"],
        serde_json::json!({
            "host": "127.0.0.1",
            "port": addr.port(),
            "handshake_timeout": 2_000_000_000u64,
            "no_tls": true
        })
    );
}

#[tokio::test]
async fn origin_checks_answer_403() {
    let (_server, addr) = start(WebsocketOptions {
        allowed_origins: vec!["http://good.example".into()],
        ..WebsocketOptions::default()
    })
    .await;
    let err = open(addr, Some("http://evil.example")).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("expected HTTP 403, got {other:?}"),
    }
    let mut ok = open(addr, Some("http://good.example")).await.unwrap();
    handshake(&mut ok).await;
}

#[tokio::test]
async fn close_frame_ends_the_connection() {
    let (server, addr) = start(WebsocketOptions::default()).await;
    let mut ws = open(addr, None).await.unwrap();
    handshake(&mut ws).await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(read_text(&mut ws, 6).await, "PONG\r\n");
    assert_eq!(server.server.num_clients(), 1);
    ws.close(None).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.server.num_clients() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "closed websocket client still registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn protocol_errors_over_websocket_match_tcp() {
    let (_server, addr) = start(WebsocketOptions::default()).await;
    let mut ws = open(addr, None).await.unwrap();
    handshake(&mut ws).await;
    send(&mut ws, "FOO\r\n").await;
    assert_eq!(
        read_text(&mut ws, 35).await,
        "-ERR 'Unknown Protocol Operation'\r\n"
    );
}

#[tokio::test]
async fn websocket_block_credentials_apply_to_websocket_clients_only() {
    let ws_opts = WebsocketOptions {
        auth: ListenerAuth {
            token: Some("browser-secret".into()),
            ..ListenerAuth::default()
        },
        ..WebsocketOptions::default()
    };
    let (server, addr) = start(ws_opts).await;
    // TCP clients are not affected.
    let mut tcp = common::Raw::connect(server.addr).await;
    assert!(!tcp.info.contains("auth_required"), "{}", tcp.info);
    tcp.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    tcp.expect("PONG\r\n").await;
    // WebSocket clients are told to authenticate, and must CONNECT first.
    let mut early = open(addr, None).await.unwrap();
    let info = handshake(&mut early).await;
    assert!(info.contains(r#""auth_required":true"#), "{info}");
    send(&mut early, "PING\r\n").await;
    assert_eq!(
        read_text(&mut early, 32).await,
        "-ERR 'Authorization Violation'\r\n"
    );
    let mut bad = open(addr, None).await.unwrap();
    handshake(&mut bad).await;
    send(&mut bad, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(
        read_text(&mut bad, 32).await,
        "-ERR 'Authorization Violation'\r\n"
    );
    let mut good = open(addr, None).await.unwrap();
    handshake(&mut good).await;
    send(
        &mut good,
        "CONNECT {\"verbose\":false,\"auth_token\":\"browser-secret\"}\r\nPING\r\n",
    )
    .await;
    assert_eq!(read_text(&mut good, 6).await, "PONG\r\n");
}

#[tokio::test]
async fn credentials_from_cookies_and_the_websocket_auth_timeout() {
    let ws_opts = WebsocketOptions {
        auth: ListenerAuth {
            username: Some("browser".into()),
            password: Some("s3cr3t".into()),
            timeout: Some(Duration::from_millis(300)),
            ..ListenerAuth::default()
        },
        user_cookie: Some("nats_user".into()),
        pass_cookie: Some("nats_pass".into()),
        ..WebsocketOptions::default()
    };
    let (_server, addr) = start(ws_opts).await;
    // CONNECT without credentials: the cookies supply them.
    let mut ws = open_with(addr, &[("Cookie", "nats_user=browser; nats_pass=s3cr3t")])
        .await
        .unwrap();
    handshake(&mut ws).await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(read_text(&mut ws, 6).await, "PONG\r\n");
    // What CONNECT says wins over a cookie.
    let mut ws = open_with(addr, &[("Cookie", "nats_user=browser; nats_pass=s3cr3t")])
        .await
        .unwrap();
    handshake(&mut ws).await;
    send(
        &mut ws,
        "CONNECT {\"verbose\":false,\"user\":\"browser\",\"pass\":\"wrong\"}\r\nPING\r\n",
    )
    .await;
    assert_eq!(read_text(&mut ws, 32).await, "-ERR 'Authorization Violation'\r\n");
    // The block's own timeout, not the server's 2 s.
    let mut ws = open_with(addr, &[]).await.unwrap();
    handshake(&mut ws).await;
    let started = std::time::Instant::now();
    assert_eq!(read_text(&mut ws, 31).await, "-ERR 'Authentication Timeout'\r\n");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn websocket_ping_interval_applies_to_websocket_clients() {
    let (_server, addr) = start(WebsocketOptions {
        ping_interval: Some(Duration::from_millis(500)),
        ..WebsocketOptions::default()
    })
    .await;
    let mut ws = open(addr, None).await.unwrap();
    handshake(&mut ws).await;
    send(&mut ws, "CONNECT {\"verbose\":false}\r\n").await;
    let started = std::time::Instant::now();
    assert_eq!(read_text(&mut ws, 6).await, "PING\r\n");
    // The server-wide interval would have meant 2 s or more.
    assert!(started.elapsed() < Duration::from_millis(1500));
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A WebSocket client written out by hand over TLS: the upgrade request, masked
/// binary frames out, and the server's frames read back. (tokio-tungstenite on a
/// tokio-rustls client stream missed read wake-ups here: the server's frame sat
/// in the client socket, where Python's `ssl` client read it at once.)
struct Wss {
    tls: Tls,
}

impl Wss {
    /// Connects and upgrades; `Err` carries the TLS error or the HTTP status line.
    async fn open(
        addr: SocketAddr,
        connector: &tokio_rustls::TlsConnector,
        origin: Option<&str>,
    ) -> Result<Wss, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
        let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        let request = format!(
            "GET / HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n",
            addr.port()
        );
        let mut head = Vec::new();
        let io = async {
            tls.write_all(request.as_bytes()).await?;
            while !head.ends_with(b"\r\n\r\n") {
                head.push(tls.read_u8().await?);
            }
            Ok::<_, std::io::Error>(())
        };
        io.await.map_err(|e| e.to_string())?;
        let head = String::from_utf8_lossy(&head).into_owned();
        if !head.starts_with("HTTP/1.1 101 ") {
            return Err(head.lines().next().unwrap_or_default().to_string());
        }
        Ok(Wss { tls })
    }

    async fn send(&mut self, data: &str) {
        use tokio::io::AsyncWriteExt;
        let mask = [7u8, 1, 2, 3];
        let mut frame = vec![0x82u8];
        match data.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(data.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tls.write_all(&frame).await.unwrap();
    }

    /// Reads frames until `want` bytes of NATS protocol have arrived.
    async fn read_text(&mut self, want: usize) -> String {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        while out.len() < want {
            let read = async {
                let mut header = [0u8; 2];
                self.tls.read_exact(&mut header).await?;
                let len = match header[1] & 0x7f {
                    126 => self.tls.read_u16().await? as usize,
                    127 => self.tls.read_u64().await? as usize,
                    n => n as usize,
                };
                let mut payload = vec![0u8; len];
                self.tls.read_exact(&mut payload).await?;
                Ok::<_, std::io::Error>((header[0] & 0x0f, payload))
            };
            let (opcode, payload) = tokio::time::timeout(Duration::from_secs(5), read)
                .await
                .expect("frame in time")
                .expect("frame read");
            if opcode == 2 || opcode == 1 {
                out.extend_from_slice(&payload);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[tokio::test]
async fn wss_carries_nats_to_tcp_clients() {
    let pki = common::pki::Pki::new();
    let (server, addr) = start(WebsocketOptions {
        no_tls: false,
        tls: Some(pki.tls(false)),
        same_origin: true,
        ..WebsocketOptions::default()
    })
    .await;
    let connector = pki.connector(false);
    let mut ws = Wss::open(
        addr,
        &connector,
        Some(&format!("https://localhost:{}", addr.port())),
    )
    .await
    .unwrap();
    assert!(ws.read_text(5).await.starts_with("INFO {"));
    ws.send("CONNECT {\"verbose\":false}\r\nSUB secure 1\r\nPING\r\n")
        .await;
    assert_eq!(ws.read_text(6).await, "PONG\r\n");
    let nc = async_nats::connect(common::url(&server)).await.unwrap();
    nc.publish("secure", "over wss".into()).await.unwrap();
    nc.flush().await.unwrap();
    assert_eq!(ws.read_text(26).await, "MSG secure 1 8\r\nover wss\r\n");
    // Behind TLS the same origin is the https one.
    let refused = Wss::open(
        addr,
        &connector,
        Some(&format!("http://localhost:{}", addr.port())),
    )
    .await;
    assert_eq!(refused.err().unwrap(), "HTTP/1.1 403 Forbidden");
    // A plain ws:// client gets no upgrade from a TLS listener.
    assert!(open(addr, None).await.is_err());
}

#[tokio::test]
async fn wss_verify_requires_a_client_certificate_from_the_ca() {
    let pki = common::pki::Pki::new();
    let (_server, addr) = start(WebsocketOptions {
        no_tls: false,
        tls: Some(pki.tls(true)),
        ..WebsocketOptions::default()
    })
    .await;
    // TLS 1.3 reports a missing client certificate after the client's side of the
    // handshake is done: the refusal shows up at the upgrade.
    assert!(Wss::open(addr, &pki.connector(false), None).await.is_err());
    let mut ws = Wss::open(addr, &pki.connector(true), None).await.unwrap();
    assert!(ws.read_text(5).await.starts_with("INFO {"));
    ws.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert_eq!(ws.read_text(6).await, "PONG\r\n");
}
