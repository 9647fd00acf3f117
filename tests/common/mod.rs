//! Shared helpers for integration tests: an in-process server on port 0 and
//! a raw protocol socket.

#![allow(dead_code)]

pub mod pki;
pub mod proxy;

use std::net::SocketAddr;
use std::time::Duration;

use junction::{Options, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a server on a free loopback port. With `JUNCTION_TEST_LOG` set
/// (a `RUST_LOG` filter), the servers' logs go to the test's output.
pub async fn start(mut opts: Options) -> RunningServer {
    if let Ok(filter) = std::env::var("JUNCTION_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    opts.host = "127.0.0.1".into();
    opts.port = 0;
    junction::run::start(opts).await.expect("server starts")
}

/// Gateway `name` on 127.0.0.1:`port` (0: any), dialling `remotes`
/// (name, URL).
pub fn gateway_options(
    name: &str,
    port: u16,
    remotes: &[(&str, String)],
) -> junction::options::GatewayOptions {
    junction::options::GatewayOptions {
        name: name.into(),
        host: "127.0.0.1".into(),
        port,
        gateways: remotes
            .iter()
            .map(|(n, u)| junction::options::RemoteGateway {
                name: n.to_string(),
                urls: vec![u.clone()],
                tls: None,
            })
            .collect(),
        ..Default::default()
    }
}

pub async fn start_default() -> RunningServer {
    start(Options::default()).await
}

pub fn url(server: &RunningServer) -> String {
    format!("nats://{}", server.addr)
}

/// A raw TCP connection speaking the NATS protocol by hand.
pub struct Raw {
    pub stream: TcpStream,
    pub info: String,
}

impl Raw {
    /// Connects and reads the INFO line.
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut raw = Raw {
            stream,
            info: String::new(),
        };
        raw.info = raw.read_line().await;
        raw
    }

    /// Connects, reads INFO, and sends CONNECT with `json`, then PING, and waits for PONG.
    pub async fn handshake(addr: SocketAddr, json: &str) -> Raw {
        let mut raw = Raw::connect(addr).await;
        raw.send(&format!("CONNECT {json}\r\nPING\r\n")).await;
        raw.expect("PONG\r\n").await;
        raw
    }

    pub async fn send(&mut self, data: &str) {
        self.stream.write_all(data.as_bytes()).await.expect("write");
    }

    pub async fn send_bytes(&mut self, data: &[u8]) {
        self.stream.write_all(data).await.expect("write");
    }

    /// Reads one line (up to and including `\r\n`).
    pub async fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut byte))
                .await
                .expect("line in time")
                .expect("read");
            if n == 0 {
                break;
            }
            line.push(byte[0]);
            if line.ends_with(b"\r\n") {
                break;
            }
        }
        String::from_utf8(line).expect("utf8")
    }

    /// Reads exactly `expected.len()` bytes and compares them.
    pub async fn expect(&mut self, expected: &str) {
        let got = self.read_exact(expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }

    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        tokio::time::timeout(Duration::from_secs(5), self.stream.read_exact(&mut buf))
            .await
            .expect("bytes in time")
            .expect("read");
        buf
    }

    /// Reads everything until the server closes the connection.
    pub async fn read_to_close(&mut self) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), self.stream.read_to_end(&mut out))
            .await
            .expect("closed in time")
            .ok();
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect http");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write request");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// GET that must answer 200 with JSON.
pub async fn http_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = http_get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A local port free at the moment of asking, for a server told its port in
/// a configuration file or on its command line.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The nats-server binary of `version` (`2.15` or `2.9`).
pub fn reference_binary(version: &str) -> String {
    let env = format!("NATS_SERVER_{}", version.replace('.', "_"));
    let candidates: Vec<String> = match version {
        "2.15" => vec![concat!(env!("CARGO_MANIFEST_DIR"), "/.venv-test/bin/nats-server").into()],
        _ => vec!["/usr/sbin/nats-server".into(), "/usr/bin/nats-server".into()],
    };
    std::env::var(&env)
        .ok()
        .into_iter()
        .chain(candidates)
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("no nats-server {version}: set {env}, or run scripts/test-all.sh, which installs it")
        })
}

/// A reference server process, stopped when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nats-server `version` with the configuration `conf`.
pub fn reference_with_config(version: &str, conf: &str) -> Process {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("reference-{}-{n}.conf", std::process::id()));
    std::fs::write(&path, conf).unwrap();
    let child = std::process::Command::new(reference_binary(version))
        .arg("-c")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server starts");
    Process(child)
}

/// Connects with `options`, trying again while the server starts.
pub async fn connect_retrying(
    url: &str,
    options: impl Fn() -> async_nats::ConnectOptions,
) -> async_nats::Client {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match options().connect(url).await {
            Ok(c) => return c,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{url}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads exactly `n` messages, then checks nothing more comes.
pub async fn take_exactly(sub: &mut async_nats::Subscriber, n: usize) -> Vec<async_nats::Message> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(sub)).await {
            Ok(Some(m)) => got.push(m),
            _ => panic!("{} of {n} messages arrived", got.len()),
        }
    }
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), futures::StreamExt::next(sub)).await
    {
        panic!("one more than {n}: {:?}", m.payload);
    }
    got
}
