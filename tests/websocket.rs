//! NATS over WebSocket through the real listener, with tokio-tungstenite as
//! the client speaking raw NATS protocol in binary frames: split frames,
//! several operations per frame, interop with TCP clients, origin checks,
//! close, and monitoring showing the listener.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use junction::options::WebsocketOptions;
use junction::Options;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Frame;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start(ws: WebsocketOptions) -> (junction::RunningServer, SocketAddr) {
    let server = common::start(Options::default()).await;
    let addr = junction::websocket::start(
        server.server.clone(),
        &WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 0,
            ..ws
        },
    )
    .await
    .unwrap();
    (server, addr)
}

async fn open(addr: SocketAddr, origin: Option<&str>) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

/// Reads frames until `want` bytes of NATS protocol have arrived.
async fn read_text(ws: &mut Ws, want: usize) -> String {
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

async fn send(ws: &mut Ws, data: &str) {
    ws.send(Frame::Binary(data.as_bytes().to_vec().into()))
        .await
        .unwrap();
}

async fn handshake(ws: &mut Ws) -> String {
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
    assert_eq!(varz["websocket"]["port"], addr.port());
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
        host: "127.0.0.1".into(),
        port: 0,
        token: Some("browser-secret".into()),
        ..WebsocketOptions::default()
    };
    let server = common::start(Options {
        websocket: Some(ws_opts.clone()),
        ..Options::default()
    })
    .await;
    let addr = junction::websocket::start(server.server.clone(), &ws_opts)
        .await
        .unwrap();
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
