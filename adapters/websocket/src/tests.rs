//! Tests over real sockets on port 0, with tokio-tungstenite as the client, or raw frames
//! where tungstenite cannot go (permessage-deflate, malformed requests).

use std::net::SocketAddr;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, WebSocketStream};

use crate::handshake::{cookie, Request};
use crate::origin::{host_and_port, parse};
use crate::{accept, validate_allowed_origin, WsAccepted, WsConfig, WsError, WsReader, WsWriter};

type Accepted = WsAccepted<WsReader<TcpStream>, WsWriter<TcpStream>>;
type Client = WebSocketStream<TcpStream>;

const WAIT: Duration = Duration::from_secs(5);
/// The sample key of RFC 6455, and its answer.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A listener on a free port that upgrades one connection with `cfg`.
async fn serve_one(cfg: WsConfig) -> (SocketAddr, JoinHandle<Result<Accepted, WsError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await.unwrap();
        accept(tcp, peer, addr, &cfg).await
    });
    (addr, task)
}

async fn accepted(task: JoinHandle<Result<Accepted, WsError>>) -> Accepted {
    timeout(WAIT, task).await.unwrap().unwrap().unwrap()
}

async fn rejected(task: JoinHandle<Result<Accepted, WsError>>) -> WsError {
    match timeout(WAIT, task).await.unwrap().unwrap() {
        Ok(_) => panic!("the upgrade should have failed"),
        Err(e) => e,
    }
}

/// A tungstenite client connected to `addr`, with the server's side of it.
async fn connect(cfg: WsConfig) -> (Client, Accepted) {
    let (addr, task) = serve_one(cfg).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, _) = client_async(format!("ws://{addr}/"), tcp).await.unwrap();
    (client, accepted(task).await)
}

/// Sends `request` (head only) and returns the answer's head, read byte by byte so that no
/// frame after it is consumed.
async fn raw_request(addr: SocketAddr, request: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        match timeout(WAIT, tcp.read(&mut b)).await.unwrap().unwrap() {
            0 => break,
            _ => head.push(b[0]),
        }
    }
    (tcp, String::from_utf8(head).unwrap())
}

fn upgrade_request(host: &str, extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A masked client frame.
fn client_frame(opcode: u8, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![opcode | if fin { 0x80 } else { 0 } | if rsv1 { 0x40 } else { 0 }];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// One frame from the server: (fin, rsv1, opcode, payload). Server frames are not masked.
async fn server_frame(tcp: &mut TcpStream) -> (bool, bool, u8, Vec<u8>) {
    let mut h = [0u8; 2];
    timeout(WAIT, tcp.read_exact(&mut h)).await.unwrap().unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames must not be masked");
    let len = match h[1] & 0x7f {
        126 => tcp.read_u16().await.unwrap() as usize,
        127 => tcp.read_u64().await.unwrap() as usize,
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    timeout(WAIT, tcp.read_exact(&mut payload))
        .await
        .unwrap()
        .unwrap();
    (h[0] & 0x80 != 0, h[0] & 0x40 != 0, h[0] & 0x0f, payload)
}

/// A message deflated as permessage-deflate sends it (sync flush, tail removed).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut d = Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(data.len() * 20 + 1024);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync).unwrap();
    assert_eq!(
        d.total_in() as usize,
        input.len(),
        "output buffer too small in the test"
    );
    out
}

async fn read_n(reader: &mut WsReader<TcpStream>, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    timeout(WAIT, reader.read_exact(&mut buf)).await.unwrap().unwrap();
    buf
}

async fn read_to_end(reader: &mut WsReader<TcpStream>) -> Vec<u8> {
    let mut buf = Vec::new();
    timeout(WAIT, reader.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}

/// Some NATS traffic that compresses well.
fn nats_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 64);
    let mut i = 0;
    while v.len() < n {
        v.extend_from_slice(format!("MSG orders.{} 1 11\r\nhello world\r\n", i % 17).as_bytes());
        i += 1;
    }
    v.truncate(n);
    v
}

// ----- the byte stream -----

#[tokio::test]
async fn operations_split_across_frames_arrive_as_one_stream() {
    let (mut client, mut ws) = connect(WsConfig::default()).await;
    for part in ["PUB foo 5\r\nhel", "lo\r\nPI", "NG\r\n"] {
        client
            .send(Message::binary(part.as_bytes().to_vec()))
            .await
            .unwrap();
    }
    // One message in two fragments.
    let first = Frame::message(b"SUB a ".to_vec(), OpCode::Data(Data::Binary), false);
    let last = Frame::message(b"1\r\n".to_vec(), OpCode::Data(Data::Continue), true);
    client.send(Message::Frame(first)).await.unwrap();
    client.send(Message::Frame(last)).await.unwrap();
    let expected = b"PUB foo 5\r\nhello\r\nPING\r\nSUB a 1\r\n";
    assert_eq!(read_n(&mut ws.reader, expected.len()).await, expected);
}

#[tokio::test]
async fn several_operations_in_one_frame_and_text_frames() {
    let (mut client, mut ws) = connect(WsConfig::default()).await;
    let ops = b"CONNECT {}\r\nSUB a 1\r\nSUB b 2\r\nPING\r\n";
    client.send(Message::binary(ops.to_vec())).await.unwrap();
    client.send(Message::text("PONG\r\n")).await.unwrap();
    let got = read_n(&mut ws.reader, ops.len() + 6).await;
    assert_eq!(&got[..ops.len()], ops);
    assert_eq!(&got[ops.len()..], b"PONG\r\n");
}

#[tokio::test]
async fn writes_arrive_as_binary_frames_without_a_flush() {
    let (mut client, mut ws) = connect(WsConfig::default()).await;
    ws.writer.write_all(b"INFO {}\r\n").await.unwrap();
    match timeout(WAIT, client.next()).await.unwrap().unwrap().unwrap() {
        Message::Binary(b) => assert_eq!(&b[..], b"INFO {}\r\n"),
        other => panic!("expected a binary frame, got {other:?}"),
    }
    // A long write goes out in frames of at most 64 KiB.
    let big = nats_bytes(200_000);
    ws.writer.write_all(&big).await.unwrap();
    let mut got = Vec::new();
    while got.len() < big.len() {
        match timeout(WAIT, client.next()).await.unwrap().unwrap().unwrap() {
            Message::Binary(b) => {
                assert!(b.len() <= 64 * 1024, "frame of {} bytes", b.len());
                got.extend_from_slice(&b);
            }
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
    assert_eq!(got, big);
}

#[tokio::test]
async fn ping_is_answered_while_reading() {
    let (mut client, mut ws) = connect(WsConfig::default()).await;
    let reading = tokio::spawn(async move { read_n(&mut ws.reader, 4).await });
    client.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    match timeout(WAIT, client.next()).await.unwrap().unwrap().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"hi"),
        other => panic!("expected a pong, got {other:?}"),
    }
    client.send(Message::binary(b"PING".to_vec())).await.unwrap();
    assert_eq!(reading.await.unwrap(), b"PING");
}

#[tokio::test]
async fn close_frame_ends_the_reader_and_is_answered() {
    let (mut client, mut ws) = connect(WsConfig::default()).await;
    client.send(Message::binary(b"PING\r\n".to_vec())).await.unwrap();
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    client.send(Message::Close(Some(close))).await.unwrap();
    assert_eq!(read_to_end(&mut ws.reader).await, b"PING\r\n");
    match timeout(WAIT, client.next()).await.unwrap() {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Normal),
        other => panic!("expected the close answer, got {other:?}"),
    }
    // Writing after the close handshake fails.
    let write = ws.writer.write_all(b"MSG").await;
    assert!(write.is_err(), "{write:?}");
}

#[tokio::test]
async fn peer_vanishing_without_close_is_end_of_stream() {
    let (client, mut ws) = connect(WsConfig::default()).await;
    drop(client);
    assert_eq!(read_to_end(&mut ws.reader).await, b"");
}

#[tokio::test]
async fn shutdown_sends_a_close_frame() {
    let (mut client, mut ws) = connect(WsConfig::default()).await;
    ws.writer.write_all(b"-ERR 'Stale Connection'\r\n").await.unwrap();
    ws.writer.shutdown().await.unwrap();
    assert!(matches!(
        timeout(WAIT, client.next()).await.unwrap(),
        Some(Ok(Message::Binary(_)))
    ));
    assert!(matches!(
        timeout(WAIT, client.next()).await.unwrap(),
        Some(Ok(Message::Close(_)))
    ));
    // The client's answer to our close (sent as tungstenite's client goes on reading) ends
    // the reader.
    let client_end = tokio::spawn(async move { client.next().await.is_none() });
    assert_eq!(read_to_end(&mut ws.reader).await, b"");
    // Dropping both halves closes the TCP connection, which ends the client.
    drop(ws);
    assert!(timeout(WAIT, client_end).await.unwrap().unwrap());
}

// ----- the upgrade -----

#[tokio::test]
async fn upgrade_answer_is_the_same_as_nats_servers() {
    let (addr, task) = serve_one(WsConfig::default()).await;
    let (_tcp, head) = raw_request(addr, &upgrade_request("localhost", "")).await;
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
        )
    );
    let ws = accepted(task).await;
    assert_eq!(ws.path, "/");
    assert!(!ws.compressed);
    assert_eq!(ws.subprotocol, None);
    assert_eq!(ws.origin, None);
}

#[tokio::test]
async fn bad_requests_are_answered_like_nats_server() {
    let cases: [(&str, u16); 5] = [
        ("POST / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        (
            &format!(
                "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 12\r\n\r\n"
            ),
            400,
        ),
        ("GET / HTTP/1.1\r\nbroken header\r\n\r\n", 400),
    ];
    for (request, status) in cases {
        let (addr, task) = serve_one(WsConfig::default()).await;
        let (_tcp, head) = raw_request(addr, request).await;
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?} -> {head:?}"
        );
        assert!(head.contains("Sec-Websocket-Version: 13\r\n"), "{head}");
        match rejected(task).await {
            WsError::Rejected { status: s, .. } => assert_eq!(s, status),
            e => panic!("{request:?}: {e}"),
        }
    }
}

#[tokio::test]
async fn nats_server_token_lists_and_http_1_0_are_accepted() {
    let (addr, task) = serve_one(WsConfig::default()).await;
    let request = format!(
        "GET /x HTTP/1.0\r\nHost: h\r\nUpgrade: foo, WebSocket\r\nConnection: keep-alive, upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8, 13\r\n\r\n"
    );
    let (_tcp, head) = raw_request(addr, &request).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(accepted(task).await.path, "/x");
}

#[tokio::test]
async fn data_before_the_answer_is_refused_without_one() {
    let (addr, task) = serve_one(WsConfig::default()).await;
    let mut request = upgrade_request("h", "").into_bytes();
    request.extend_from_slice(&client_frame(2, true, false, b"PING\r\n"));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&request).await.unwrap();
    assert!(matches!(rejected(task).await, WsError::Protocol(_)));
    let mut rest = Vec::new();
    let _ = timeout(WAIT, tcp.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

#[tokio::test]
async fn handshake_must_finish_in_time() {
    let cfg = WsConfig {
        handshake_timeout: Duration::from_millis(200),
        ..WsConfig::default()
    };
    let (addr, task) = serve_one(cfg).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // Half a request, then nothing.
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(rejected(task).await, WsError::Timeout(_)));
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection is dropped.
    let mut rest = Vec::new();
    assert_eq!(
        timeout(WAIT, tcp.read_to_end(&mut rest)).await.unwrap().unwrap(),
        0
    );
}

#[tokio::test]
async fn jwt_cookie_origin_forwarded_for_and_mqtt_are_reported() {
    let cfg = WsConfig {
        jwt_cookie: Some("jwt".into()),
        ..WsConfig::default()
    };
    let (addr, task) = serve_one(cfg).await;
    let extra = "Cookie: theme=dark; jwt=\"eyJ0eXAi.x.y\"\r\nOrigin: http://app.example\r\n\
                 X-Forwarded-For: 10.1.2.3\r\nSec-WebSocket-Protocol: mqtt\r\n";
    let (_tcp, head) = raw_request(addr, &upgrade_request("h", extra)).await;
    assert!(head.ends_with("Sec-Websocket-Protocol: mqtt\r\n\r\n"), "{head}");
    let ws = accepted(task).await;
    assert_eq!(ws.cookies.jwt.as_deref(), Some("eyJ0eXAi.x.y"));
    assert_eq!(ws.origin.as_deref(), Some("http://app.example"));
    assert_eq!(ws.forwarded_for, Some("10.1.2.3".parse().unwrap()));
    assert_eq!(ws.subprotocol.as_deref(), Some("mqtt"));

    // nats-server's MQTT endpoint is the /mqtt path.
    let (addr, task) = serve_one(WsConfig::default()).await;
    let request = upgrade_request("h", "").replacen("GET / ", "GET /mqtt ", 1);
    let (_tcp, head) = raw_request(addr, &request).await;
    assert!(!head.contains("Sec-Websocket-Protocol"), "not asked for: {head}");
    let ws = accepted(task).await;
    assert_eq!(
        (ws.subprotocol.as_deref(), ws.path.as_str()),
        (Some("mqtt"), "/mqtt")
    );
    assert_eq!(ws.cookies.jwt, None);
}

#[tokio::test]
async fn credential_cookies_and_extra_headers() {
    let cfg = WsConfig {
        user_cookie: Some("u".into()),
        pass_cookie: Some("p".into()),
        token_cookie: Some("t".into()),
        headers: vec![("X-Frame-Options".into(), "DENY".into())],
        ..WsConfig::default()
    };
    let (addr, task) = serve_one(cfg).await;
    let (_tcp, head) = raw_request(addr, &upgrade_request("h", "Cookie: u=alice; p=pw; other=1\r\n")).await;
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\nX-Frame-Options: DENY\r\n\r\n"
        )
    );
    let ws = accepted(task).await;
    assert_eq!(
        ws.cookies,
        crate::CookieCredentials {
            jwt: None,
            user: Some("alice".into()),
            pass: Some("pw".into()),
            token: None,
        }
    );
}

#[test]
fn extra_headers_cannot_replace_the_upgrade_headers() {
    assert!(crate::validate_header("X-Frame-Options").is_ok());
    assert_eq!(
        crate::validate_header("Upgrade").unwrap_err(),
        "websocket: invalid header \"Upgrade\" not allowed"
    );
    assert_eq!(
        crate::validate_header("Sec-WebSocket-Protocol").unwrap_err(),
        "websocket: invalid header \"Sec-WebSocket-Protocol\", \"Sec-WebSocket-\" prefix not allowed"
    );
    assert!(crate::validate_header("bad name").is_err());
}

#[test]
fn cookies_are_parsed_like_go() {
    let request = |lines: &[&str]| Request {
        method: "GET".into(),
        path: "/".into(),
        headers: lines
            .iter()
            .map(|l| ("Cookie".to_string(), l.to_string()))
            .collect(),
    };
    let r = request(&["a=1; jwt=first", "jwt=second;b=2"]);
    assert_eq!(cookie(&r, "jwt").as_deref(), Some("second"));
    assert_eq!(cookie(&r, "JWT"), None);
    assert_eq!(
        cookie(&request(&["jwt=\"quoted\""]), "jwt").as_deref(),
        Some("quoted")
    );
    assert_eq!(cookie(&request(&["jwt=bad\\value"]), "jwt"), None);
    assert_eq!(cookie(&request(&["jwt="]), "jwt").as_deref(), Some(""));
}

// ----- origins -----

async fn origin_status(cfg: WsConfig, host: &str, origin: Option<&str>) -> u16 {
    let (addr, task) = serve_one(cfg).await;
    let extra = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let (_tcp, head) = raw_request(addr, &upgrade_request(host, &extra)).await;
    let status = head[9..12].parse().unwrap();
    match (status, timeout(WAIT, task).await.unwrap().unwrap()) {
        (101, Ok(_)) => {}
        (403, Err(WsError::Rejected { status: 403, .. })) => {
            assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
        }
        (s, r) => panic!("status {s} with {r:?}"),
    }
    status
}

#[tokio::test]
async fn allowed_origins_are_checked_by_scheme_host_and_port() {
    let cfg = WsConfig {
        allowed_origins: vec!["http://good.example:8000".into(), "https://Secure.example".into()],
        ..WsConfig::default()
    };
    let cases = [
        (Some("http://good.example:8000"), 101),
        (Some("HTTP://GOOD.example:8000/page?x=1"), 101),
        (Some("https://secure.example:443"), 101),
        (Some("https://secure.example"), 101),
        (None, 101),
        (Some("http://bad.example:8000"), 403),
        (Some("https://good.example:8000"), 403),
        (Some("http://good.example"), 403),
        (Some("http://secure.example"), 403),
        (Some("null"), 403),
    ];
    for (origin, status) in cases {
        assert_eq!(
            origin_status(cfg.clone(), "localhost:4222", origin).await,
            status,
            "{origin:?}"
        );
    }
}

#[tokio::test]
async fn same_origin_compares_with_the_host_header() {
    let cfg = WsConfig {
        same_origin: true,
        ..WsConfig::default()
    };
    let cases = [
        ("localhost:8080", Some("http://localhost:8080"), 101),
        ("LocalHost:8080", Some("http://localhost:8080"), 101),
        ("localhost", Some("http://localhost:80"), 101),
        ("localhost:8080", None, 101),
        ("localhost:8080", Some("http://localhost:8081"), 403),
        ("localhost:8080", Some("https://localhost:8080"), 403),
        ("localhost:8080", Some("http://evil.example:8080"), 403),
    ];
    for (host, origin, status) in cases {
        assert_eq!(
            origin_status(cfg.clone(), host, origin).await,
            status,
            "{host} {origin:?}"
        );
    }
}

#[tokio::test]
async fn same_origin_behind_tls_is_https() {
    let cfg = WsConfig {
        same_origin: true,
        tls: true,
        ..WsConfig::default()
    };
    let cases = [
        ("example.com:8443", Some("https://example.com:8443"), 101),
        ("example.com", Some("https://example.com"), 101),
        ("example.com:8443", Some("http://example.com:8443"), 403),
        ("example.com", Some("http://example.com:443"), 403),
    ];
    for (host, origin, status) in cases {
        assert_eq!(
            origin_status(cfg.clone(), host, origin).await,
            status,
            "{host} {origin:?}"
        );
    }
}

#[test]
fn origins_parse_like_nats_server() {
    let o = parse("HTTPS://User@Example.COM/path").unwrap();
    assert_eq!(
        (o.scheme.as_str(), o.host.as_str(), o.port.as_str()),
        ("https", "example.com", "443")
    );
    let o = parse("http://[::1]:8080").unwrap();
    assert_eq!((o.host.as_str(), o.port.as_str()), ("::1", "8080"));
    assert!(parse("null").is_err());
    assert!(parse("").is_err());
    assert!(parse("://x").is_err());
    assert_eq!(
        host_and_port(false, "a:b:c").unwrap_err(),
        "address a:b:c: too many colons in address"
    );
    assert_eq!(
        host_and_port(true, "Host").unwrap(),
        ("host".into(), "443".into())
    );

    assert!(validate_allowed_origin("http://example.com").is_ok());
    assert!(validate_allowed_origin("https://example.com:8443").is_ok());
    assert!(validate_allowed_origin("ftp://example.com").is_err());
    assert!(validate_allowed_origin("example.com").is_err());
    assert!(validate_allowed_origin("http:example.com").is_err());
}

// ----- compression -----

const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
const PMC_ANSWER: &str = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                          client_no_context_takeover\r\n";

async fn compressed_connection() -> (TcpStream, Accepted) {
    let cfg = WsConfig {
        compression: true,
        ..WsConfig::default()
    };
    let (addr, task) = serve_one(cfg).await;
    let (tcp, head) = raw_request(addr, &upgrade_request("h", OFFER)).await;
    assert!(head.contains(PMC_ANSWER), "{head}");
    let ws = accepted(task).await;
    assert!(ws.compressed);
    (tcp, ws)
}

#[tokio::test]
async fn compression_is_negotiated_and_round_trips() {
    let (mut tcp, mut ws) = compressed_connection().await;

    // A compressed message, a compressed message in two fragments, a plain one, a big one.
    let one = b"CONNECT {\"verbose\":false}\r\nPING\r\n";
    let two = nats_bytes(5000);
    let two_deflated = deflate(&two);
    let (a, b) = two_deflated.split_at(100);
    let big = nats_bytes(300_000);
    let mut wire = client_frame(2, true, true, &deflate(one));
    wire.extend(client_frame(2, false, true, a));
    wire.extend(client_frame(9, true, false, b"mid")); // a ping between fragments
    wire.extend(client_frame(0, true, false, b));
    wire.extend(client_frame(2, true, false, b"PONG\r\n"));
    wire.extend(client_frame(2, true, true, &deflate(&big)));
    // Byte by byte for a while, so that frames arrive in pieces.
    for chunk in wire[..200].chunks(1) {
        tcp.write_all(chunk).await.unwrap();
    }
    tcp.write_all(&wire[200..]).await.unwrap();

    let mut expected = one.to_vec();
    expected.extend_from_slice(&two);
    expected.extend_from_slice(b"PONG\r\n");
    expected.extend_from_slice(&big);
    assert_eq!(read_n(&mut ws.reader, expected.len()).await, expected);

    // The ping was answered.
    let (fin, rsv1, opcode, payload) = server_frame(&mut tcp).await;
    assert_eq!((fin, rsv1, opcode, &payload[..]), (true, false, 0xA, &b"mid"[..]));

    // Big writes are compressed; small ones are not.
    let out = nats_bytes(1000);
    ws.writer.write_all(&out).await.unwrap();
    let (fin, rsv1, opcode, payload) = server_frame(&mut tcp).await;
    assert!(fin && rsv1 && opcode == 2, "{fin} {rsv1} {opcode}");
    assert!(payload.len() < out.len() / 4, "{} bytes", payload.len());
    assert_eq!(inflate(&payload), out);

    ws.writer.write_all(b"PONG\r\n").await.unwrap();
    let (_, rsv1, _, payload) = server_frame(&mut tcp).await;
    assert!(!rsv1);
    assert_eq!(payload, b"PONG\r\n");

    // Each message is compressed on its own (no context takeover).
    ws.writer.write_all(&out).await.unwrap();
    let (_, rsv1, _, payload) = server_frame(&mut tcp).await;
    assert!(rsv1);
    assert_eq!(inflate(&payload), out);

    // Close still works underneath.
    tcp.write_all(&client_frame(8, true, false, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    assert_eq!(read_to_end(&mut ws.reader).await, b"");
    let (_, _, opcode, payload) = server_frame(&mut tcp).await;
    assert_eq!((opcode, &payload[..]), (8, &1000u16.to_be_bytes()[..]));
}

#[tokio::test]
async fn compressed_garbage_is_an_error() {
    let (mut tcp, mut ws) = compressed_connection().await;
    tcp.write_all(&client_frame(2, true, true, &[0xff; 40]))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let r = timeout(WAIT, ws.reader.read(&mut buf)).await.unwrap();
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn compression_is_not_offered_back_when_off_or_not_asked() {
    // Off: the client's offer is ignored.
    let (addr, task) = serve_one(WsConfig::default()).await;
    let (_tcp, head) = raw_request(addr, &upgrade_request("h", OFFER)).await;
    assert!(!head.contains("Extensions"), "{head}");
    assert!(!accepted(task).await.compressed);

    // On, but not offered.
    let cfg = WsConfig {
        compression: true,
        ..WsConfig::default()
    };
    let (addr, task) = serve_one(cfg).await;
    let (_tcp, head) = raw_request(addr, &upgrade_request("h", "")).await;
    assert!(!head.contains("Extensions"), "{head}");
    assert!(!accepted(task).await.compressed);

    // With compression off, a frame with RSV1 set is a protocol error.
    let (client, mut ws) = connect(WsConfig::default()).await;
    let mut tcp = client.into_inner();
    tcp.write_all(&client_frame(2, true, true, &deflate(b"PING\r\n")))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let r = timeout(WAIT, ws.reader.read(&mut buf)).await.unwrap();
    assert!(r.is_err(), "{r:?}");
}
