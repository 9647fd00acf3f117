//! Backpressure, not loss: publishers bursting 1 KiB messages as fast as
//! they can, against raw subscribers that read at a fixed pace (as a real
//! consumer doing work per message does) or not at all. Every reading
//! subscriber must get every message in order and stay connected; only a
//! subscriber that stops reading is cut off. The clients are plain blocking
//! sockets on their own threads, so they pace themselves like outside
//! programs, over TCP and over WebSocket.
//!
//! `JUNCTION_REFERENCE_SERVER=/usr/sbin/nats-server cargo test --test
//! backpressure -- --ignored` runs the same scenarios against nats-server,
//! which is the behaviour they pin down.

mod common;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use junction::options::{ClusterOptions, WebsocketOptions};
use junction::Options;
use tokio_tungstenite::tungstenite;

const MSG_SIZE: usize = 1024;
const MB: usize = 1_000_000;
/// `max_pending: 1MB` in a config file.
const MIB: usize = 1 << 20;

/// A server under test: Junction in this process, or a reference binary.
enum Target {
    Junction(junction::RunningServer),
    Reference(std::process::Child),
}

/// The servers of a scenario: one, or two joined by a route.
struct Setup {
    /// Where publishers connect.
    nats: SocketAddr,
    /// Where readers connect: `nats`, or the other node of a cluster.
    far: SocketAddr,
    ws: Option<SocketAddr>,
    targets: Vec<Target>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        for target in &mut self.targets {
            if let Target::Reference(child) = target {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Setup {
    /// Slow consumers counted by the servers (Junction only).
    fn slow_consumers(&self) -> Option<u64> {
        let mut total = 0;
        for target in &self.targets {
            match target {
                Target::Junction(s) => {
                    total += s
                        .server
                        .stats
                        .slow_consumers
                        .load(std::sync::atomic::Ordering::Relaxed)
                }
                Target::Reference(_) => return None,
            }
        }
        Some(total)
    }

    /// Routes each node has (Junction only).
    fn routes(&self) -> Option<Vec<usize>> {
        self.targets
            .iter()
            .map(|t| match t {
                Target::Junction(s) => Some(s.cluster.as_ref().map_or(0, |c| c.linked_peers())),
                Target::Reference(_) => None,
            })
            .collect()
    }
}

/// Limits a scenario runs with; `None` keeps the server's defaults.
#[derive(Default, Clone, Copy)]
struct Limits {
    max_pending: Option<usize>,
    write_deadline: Option<Duration>,
    websocket: bool,
    /// Two nodes joined by a route: publishers on one, readers on the other.
    across_route: bool,
}

async fn setup(limits: Limits) -> Setup {
    if let Ok(bin) = std::env::var("JUNCTION_REFERENCE_SERVER") {
        return reference(&bin, limits);
    }
    let defaults = Options::default();
    let node = |routes: Vec<String>| {
        let cluster = limits.across_route.then(|| ClusterOptions {
            name: Some("bp".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes,
            ..ClusterOptions::default()
        });
        common::start(Options {
            max_pending: limits.max_pending.unwrap_or(defaults.max_pending),
            write_deadline: limits.write_deadline.unwrap_or(defaults.write_deadline),
            cluster,
            ..Options::default()
        })
    };
    let server = node(Vec::new()).await;
    let mut far = server.addr;
    let mut targets = Vec::new();
    if limits.across_route {
        let seed = format!("nats://{}", server.cluster.as_ref().unwrap().addr);
        let other = node(vec![seed]).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while other.cluster.as_ref().unwrap().linked_peers() != 1 {
            assert!(Instant::now() < deadline, "the route did not form");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        far = other.addr;
        targets.push(Target::Junction(other));
    }
    let ws = if limits.websocket {
        let opts = WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 0,
            ..WebsocketOptions::default()
        };
        Some(
            junction::websocket::start(server.server.clone(), &opts, None)
                .await
                .unwrap(),
        )
    } else {
        None
    };
    let nats = server.addr;
    targets.insert(0, Target::Junction(server));
    Setup {
        nats,
        far,
        ws,
        targets,
    }
}

/// Starts reference servers (nats-server) with the same limits.
fn reference(bin: &str, limits: Limits) -> Setup {
    let cluster_ports = [common::free_port(), common::free_port()];
    let start = |i: usize| {
        let port = common::free_port();
        let mut conf = format!("listen: 127.0.0.1:{port}\n");
        if let Some(mp) = limits.max_pending {
            conf += &format!("max_pending: {mp}\n");
        }
        if let Some(wd) = limits.write_deadline {
            conf += &format!("write_deadline: \"{}ms\"\n", wd.as_millis());
        }
        let ws = (limits.websocket && i == 0).then(|| {
            let p = common::free_port();
            conf += &format!("websocket {{ listen: \"127.0.0.1:{p}\", no_tls: true }}\n");
            SocketAddr::from(([127, 0, 0, 1], p))
        });
        if limits.across_route {
            conf += &format!(
                "cluster {{ name: bp, listen: \"127.0.0.1:{}\", routes: [\"nats://127.0.0.1:{}\"] }}\n",
                cluster_ports[i],
                cluster_ports[1 - i]
            );
        }
        let path = std::env::temp_dir().join(format!("backpressure-{port}.conf"));
        std::fs::write(&path, conf).unwrap();
        let child = std::process::Command::new(bin)
            .arg("-c")
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let nats = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(nats).is_err() {
            assert!(Instant::now() < deadline, "reference server did not start");
            thread::sleep(Duration::from_millis(20));
        }
        (nats, ws, Target::Reference(child))
    };
    let (nats, ws, first) = start(0);
    let mut targets = vec![first];
    let mut far = nats;
    if limits.across_route {
        let (other, _, second) = start(1);
        far = other;
        targets.push(second);
    }
    Setup {
        nats,
        far,
        ws,
        targets,
    }
}

/// Waits until a subscription made on `far` is known on `near`: a probe
/// subscribed after it on `far` receives what `near` publishes (interest
/// from one node travels in order over the route).
fn wait_for_interest(near: SocketAddr, far: SocketAddr) {
    if near == far {
        return;
    }
    let mut probe = Conn::tcp(far);
    probe.subscribe("probe");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishing = {
        let done = done.clone();
        thread::spawn(move || {
            let mut publisher = Conn::tcp(near);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                publisher.wire.send(b"PUB probe 8\r\n12345678\r\n").unwrap();
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    loop {
        match probe.next(|_| {}) {
            Event::Msg { .. } => break,
            Event::Pong => {}
            Event::Closed => panic!("probe closed"),
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    publishing.join().unwrap();
}

/// Bytes to and from the server, over TCP or WebSocket frames.
trait Wire: Send {
    /// The next bytes; `Ok(None)` once the server closed the connection.
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>>;
    fn send(&mut self, data: &[u8]) -> io::Result<()>;
}

struct Tcp {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Tcp {
    fn open(addr: SocketAddr) -> Tcp {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Tcp {
            stream,
            buf: vec![0; 64 * 1024],
        }
    }
}

impl Wire for Tcp {
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.stream.read(&mut self.buf) {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(self.buf[..n].to_vec())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data)
    }
}

struct Ws(tungstenite::WebSocket<TcpStream>);

impl Ws {
    fn open(addr: SocketAddr) -> Ws {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://{addr}/"), stream).unwrap();
        Ws(ws)
    }
}

impl Wire for Ws {
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            match self.0.read() {
                Ok(tungstenite::Message::Binary(b)) => return Ok(Some(b.to_vec())),
                Ok(tungstenite::Message::Text(t)) => return Ok(Some(t.as_bytes().to_vec())),
                Ok(tungstenite::Message::Close(_)) => return Ok(None),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(None)
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Ok(None)
                }
                Err(tungstenite::Error::Protocol(_)) => return Ok(None),
                Err(tungstenite::Error::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.0
            .send(tungstenite::Message::Binary(data.to_vec().into()))
            .map_err(io::Error::other)
    }
}

/// A NATS client over a `Wire`, parsing what arrives.
struct Conn {
    wire: Box<dyn Wire>,
    inbox: Vec<u8>,
}

enum Event {
    Msg { publisher: u32, seq: u32 },
    Pong,
    Closed,
}

impl Conn {
    fn new(wire: Box<dyn Wire>) -> Conn {
        let mut c = Conn {
            wire,
            inbox: Vec::new(),
        };
        // INFO, then no verbose acknowledgements.
        c.wire
            .send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
            .unwrap();
        c
    }

    fn tcp(addr: SocketAddr) -> Conn {
        Conn::new(Box::new(Tcp::open(addr)))
    }

    fn ws(addr: SocketAddr) -> Conn {
        Conn::new(Box::new(Ws::open(addr)))
    }

    /// Subscribes and waits until the server has the subscription.
    fn subscribe(&mut self, subject: &str) {
        self.wire
            .send(format!("SUB {subject} 1\r\nPING\r\n").as_bytes())
            .unwrap();
        self.until_pong();
    }

    fn until_pong(&mut self) {
        loop {
            match self.next(|_| {}) {
                Event::Pong => return,
                Event::Closed => panic!("closed while waiting for PONG"),
                Event::Msg { .. } => {}
            }
        }
    }

    /// The next event; `on_read` sees the size of each read from the wire.
    fn next(&mut self, mut on_read: impl FnMut(usize)) -> Event {
        loop {
            if let Some(event) = self.parse() {
                return event;
            }
            match self.wire.recv() {
                Ok(Some(data)) => {
                    on_read(data.len());
                    self.inbox.extend_from_slice(&data);
                }
                Ok(None) => return Event::Closed,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    fn parse(&mut self) -> Option<Event> {
        loop {
            let end = self.inbox.windows(2).position(|w| w == b"\r\n")?;
            let line = std::str::from_utf8(&self.inbox[..end]).unwrap().to_string();
            if let Some(args) = line.strip_prefix("MSG ") {
                let len: usize = args.rsplit(' ').next().unwrap().parse().unwrap();
                let total = end + 2 + len + 2;
                if self.inbox.len() < total {
                    return None;
                }
                let payload = &self.inbox[end + 2..end + 2 + len];
                let publisher = u32::from_le_bytes(payload[0..4].try_into().unwrap());
                let seq = u32::from_le_bytes(payload[4..8].try_into().unwrap());
                self.inbox.drain(..total);
                return Some(Event::Msg { publisher, seq });
            }
            self.inbox.drain(..end + 2);
            match line.as_str() {
                "PONG" => return Some(Event::Pong),
                "PING" => self.wire.send(b"PONG\r\n").unwrap(),
                _ => {} // INFO, +OK
            }
        }
    }
}

/// Publishes `count` messages of 1 KiB to `subject` as fast as the socket
/// takes them, numbered per publisher, then waits for the server's PONG.
fn publish_burst(mut conn: Conn, subject: &str, publisher: u32, count: u32) {
    let mut chunk = Vec::with_capacity(256 * (MSG_SIZE + 40));
    let mut payload = vec![b'x'; MSG_SIZE];
    payload[0..4].copy_from_slice(&publisher.to_le_bytes());
    for seq in 0..count {
        payload[4..8].copy_from_slice(&seq.to_le_bytes());
        chunk.extend_from_slice(format!("PUB {subject} {MSG_SIZE}\r\n").as_bytes());
        chunk.extend_from_slice(&payload);
        chunk.extend_from_slice(b"\r\n");
        if chunk.len() >= 256 * MSG_SIZE || seq + 1 == count {
            conn.wire.send(&chunk).expect("publisher kept connected");
            chunk.clear();
        }
    }
    conn.wire.send(b"PING\r\n").unwrap();
    conn.until_pong();
}

/// What a reader saw.
#[derive(Debug)]
struct Received {
    /// Messages per publisher, each checked to arrive in order.
    counts: HashMap<u32, u32>,
    /// The server still answered a PING at the end.
    alive: bool,
}

/// Reads at `rate` bytes per second (unpaced with `None`) until `expected`
/// messages arrived from each of `publishers`, checking the order.
fn read_paced(mut conn: Conn, rate: Option<usize>, publishers: u32, expected: u32) -> Received {
    let start = Instant::now();
    let mut bytes = 0usize;
    let mut counts: HashMap<u32, u32> = HashMap::new();
    let total = publishers as u64 * expected as u64;
    let mut got = 0u64;
    while got < total {
        let event = conn.next(|n| {
            bytes += n;
            if let Some(rate) = rate {
                let due = Duration::from_secs_f64(bytes as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    thread::sleep(wait);
                }
            }
        });
        match event {
            Event::Msg { publisher, seq } => {
                let next = counts.entry(publisher).or_default();
                assert_eq!(seq, *next, "publisher {publisher}: message out of order or lost");
                *next += 1;
                got += 1;
            }
            Event::Pong => {}
            Event::Closed => {
                return Received { counts, alive: false };
            }
        }
    }
    conn.wire.send(b"PING\r\n").unwrap();
    let alive = loop {
        match conn.next(|_| {}) {
            Event::Pong => break true,
            Event::Closed => break false,
            Event::Msg { .. } => {}
        }
    };
    Received { counts, alive }
}

/// Whether the server closed a connection that never read; drains what it
/// had buffered to find the end.
fn was_closed(mut conn: Conn) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match conn.wire.recv() {
            Ok(None) => return true,
            Ok(Some(_)) => {}
            Err(_) => return false,
        }
    }
    false
}

fn assert_all(r: &Received, publishers: u32, expected: u32) {
    assert!(r.alive, "the reading subscriber was disconnected: {r:?}");
    for p in 0..publishers {
        assert_eq!(
            r.counts.get(&p).copied().unwrap_or(0),
            expected,
            "publisher {p}: {r:?}"
        );
    }
}

/// One publisher, one paced reader: every message arrives, nobody is cut off.
async fn one_paced_reader(limits: Limits, burst_bytes: usize, rate: usize) {
    let s = setup(limits).await;
    let count = (burst_bytes / MSG_SIZE) as u32;
    let reader_addr = s.ws.unwrap_or(s.far);
    let ws = limits.websocket;
    let (nats, far) = (s.nats, s.far);
    let received = tokio::task::spawn_blocking(move || {
        let mut sub = if ws {
            Conn::ws(reader_addr)
        } else {
            Conn::tcp(reader_addr)
        };
        sub.subscribe("burst");
        wait_for_interest(nats, far);
        let reader = thread::spawn(move || read_paced(sub, Some(rate), 1, count));
        publish_burst(Conn::tcp(nats), "burst", 0, count);
        reader.join().unwrap()
    })
    .await
    .unwrap();
    assert_all(&received, 1, count);
    assert_eq!(s.slow_consumers().unwrap_or(0), 0);
    if let Some(routes) = s.routes() {
        assert!(
            routes.iter().all(|&n| n == usize::from(limits.across_route)),
            "{routes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_reader_gets_a_300mb_burst_with_default_limits() {
    one_paced_reader(Limits::default(), 300 * MB, 60 * MB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_reader_gets_a_100mb_burst_with_1mb_max_pending() {
    let limits = Limits {
        max_pending: Some(MIB),
        ..Limits::default()
    };
    one_paced_reader(limits, 100 * MB, 50 * MB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_websocket_reader_gets_a_burst_with_1mb_max_pending() {
    let limits = Limits {
        max_pending: Some(MIB),
        websocket: true,
        ..Limits::default()
    };
    one_paced_reader(limits, 50 * MB, 50 * MB).await;
}

/// A subscriber that never reads is cut off after `write_deadline`; the one
/// reading beside it gets everything.
async fn stalled_and_paced(websocket: bool, across_route: bool) {
    let limits = Limits {
        max_pending: Some(MIB),
        write_deadline: Some(Duration::from_secs(1)),
        websocket,
        across_route,
    };
    let s = setup(limits).await;
    let count = (50 * MB / MSG_SIZE) as u32;
    let reader_addr = s.ws.unwrap_or(s.far);
    let (nats, far) = (s.nats, s.far);
    let (received, stalled_closed) = tokio::task::spawn_blocking(move || {
        let open = |addr| {
            if websocket {
                Conn::ws(addr)
            } else {
                Conn::tcp(addr)
            }
        };
        let mut stalled = open(reader_addr);
        stalled.subscribe("burst");
        let mut sub = open(reader_addr);
        sub.subscribe("burst");
        wait_for_interest(nats, far);
        let reader = thread::spawn(move || read_paced(sub, Some(50 * MB), 1, count));
        publish_burst(Conn::tcp(nats), "burst", 0, count);
        let received = reader.join().unwrap();
        (received, was_closed(stalled))
    })
    .await
    .unwrap();
    assert_all(&received, 1, count);
    assert!(stalled_closed, "the subscriber that never reads was not cut off");
    if let Some(n) = s.slow_consumers() {
        assert_eq!(n, 1);
    }
    if let Some(routes) = s.routes() {
        assert!(
            routes.iter().all(|&n| n == usize::from(across_route)),
            "{routes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_is_cut_off_and_paced_one_gets_everything() {
    stalled_and_paced(false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_websocket_subscriber_is_cut_off_and_paced_one_gets_everything() {
    stalled_and_paced(true, false).await;
}

/// The reader on one node, the publisher on another: the pressure goes
/// back through the route to the publishing client, as the Go
/// client run showed nats-server does not do (it cut the reader).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_reader_across_a_route_gets_a_300mb_burst() {
    let limits = Limits {
        across_route: true,
        ..Limits::default()
    };
    one_paced_reader(limits, 300 * MB, 60 * MB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_reader_across_a_route_gets_a_burst_with_1mb_max_pending() {
    let limits = Limits {
        max_pending: Some(MIB),
        across_route: true,
        ..Limits::default()
    };
    one_paced_reader(limits, 100 * MB, 50 * MB).await;
}

/// A stalled reader on the far node is cut off; the route stays up and the
/// reader beside it gets everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_across_a_route_is_cut_off_and_the_route_stays() {
    stalled_and_paced(false, true).await;
}

/// While one publisher waits for a subscriber that stopped reading, another
/// publisher and its subscriber carry on as if nothing happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscriber_does_not_hold_back_other_publishers() {
    let s = setup(Limits {
        max_pending: Some(MIB),
        write_deadline: Some(Duration::from_secs(3)),
        ..Limits::default()
    })
    .await;
    let nats = s.nats;
    let (elapsed, received, stalled_closed) = tokio::task::spawn_blocking(move || {
        let mut stalled = Conn::tcp(nats);
        stalled.subscribe("blocked");
        // Fills the stalled subscriber's socket and then waits for it.
        let blocked = thread::spawn(move || publish_burst(Conn::tcp(nats), "blocked", 0, 20_000));
        thread::sleep(Duration::from_millis(300));
        let mut sub = Conn::tcp(nats);
        sub.subscribe("free");
        let started = Instant::now();
        let reader = thread::spawn(move || read_paced(sub, None, 1, 5_000));
        publish_burst(Conn::tcp(nats), "free", 0, 5_000);
        let received = reader.join().unwrap();
        let elapsed = started.elapsed();
        blocked.join().unwrap();
        (elapsed, received, was_closed(stalled))
    })
    .await
    .unwrap();
    assert_all(&received, 1, 5_000);
    assert!(
        elapsed < Duration::from_secs(2),
        "the other publisher's messages took {elapsed:?}, held back by a stalled subscriber"
    );
    assert!(stalled_closed, "the subscriber that never reads was not cut off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_to_one_paced_and_three_fast_readers() {
    let s = setup(Limits {
        max_pending: Some(MIB),
        ..Limits::default()
    })
    .await;
    let count = (50 * MB / MSG_SIZE) as u32;
    let nats = s.nats;
    let results = tokio::task::spawn_blocking(move || {
        let mut readers = Vec::new();
        for rate in [Some(40 * MB), None, None, None] {
            let mut sub = Conn::tcp(nats);
            sub.subscribe("fan");
            readers.push(thread::spawn(move || read_paced(sub, rate, 1, count)));
        }
        publish_burst(Conn::tcp(nats), "fan", 0, count);
        readers.into_iter().map(|r| r.join().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for r in &results {
        assert_all(r, 1, count);
    }
    assert_eq!(s.slow_consumers().unwrap_or(0), 0);
}

async fn many_publishers_to_one_paced_reader(across_route: bool) {
    let s = setup(Limits {
        max_pending: Some(MIB),
        across_route,
        ..Limits::default()
    })
    .await;
    const PUBLISHERS: u32 = 8;
    let count = (40 * MB / MSG_SIZE) as u32 / PUBLISHERS;
    let (nats, far) = (s.nats, s.far);
    let received = tokio::task::spawn_blocking(move || {
        let mut sub = Conn::tcp(far);
        sub.subscribe("many.*");
        wait_for_interest(nats, far);
        let reader = thread::spawn(move || read_paced(sub, Some(40 * MB), PUBLISHERS, count));
        let go = Arc::new(Barrier::new(PUBLISHERS as usize));
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                let go = go.clone();
                thread::spawn(move || {
                    let conn = Conn::tcp(nats);
                    go.wait();
                    publish_burst(conn, &format!("many.{p}"), p, count);
                })
            })
            .collect();
        for p in publishers {
            p.join().unwrap();
        }
        reader.join().unwrap()
    })
    .await
    .unwrap();
    assert_all(&received, PUBLISHERS, count);
    assert_eq!(s.slow_consumers().unwrap_or(0), 0);
    if let Some(routes) = s.routes() {
        assert!(
            routes.iter().all(|&n| n == usize::from(across_route)),
            "{routes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_publishers_to_one_paced_reader_on_one_node() {
    many_publishers_to_one_paced_reader(false).await;
}

/// Eight publishers fill the route at once; with `max_pending: 1MB` the
/// route must hold them back, not be cut off as a slow consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_publishers_to_one_paced_reader_across_a_route() {
    many_publishers_to_one_paced_reader(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_publisher_is_slowed_to_a_paced_tcp_reader() {
    let s = setup(Limits {
        max_pending: Some(MIB),
        websocket: true,
        ..Limits::default()
    })
    .await;
    let count = (30 * MB / MSG_SIZE) as u32;
    let (nats, ws) = (s.nats, s.ws.unwrap());
    let received = tokio::task::spawn_blocking(move || {
        let mut sub = Conn::tcp(nats);
        sub.subscribe("wspub");
        let reader = thread::spawn(move || read_paced(sub, Some(40 * MB), 1, count));
        publish_burst(Conn::ws(ws), "wspub", 0, count);
        reader.join().unwrap()
    })
    .await
    .unwrap();
    assert_all(&received, 1, count);
    assert_eq!(s.slow_consumers().unwrap_or(0), 0);
}

/// The same scenarios against `JUNCTION_REFERENCE_SERVER` (nats-server).
#[test]
#[ignore = "needs JUNCTION_REFERENCE_SERVER"]
fn reference_server_behaves_the_same() {
    assert!(std::env::var("JUNCTION_REFERENCE_SERVER").is_ok());
    paced_reader_gets_a_300mb_burst_with_default_limits();
    paced_reader_gets_a_100mb_burst_with_1mb_max_pending();
    stalled_subscriber_is_cut_off_and_paced_one_gets_everything();
    stalled_subscriber_does_not_hold_back_other_publishers();
    fan_out_to_one_paced_and_three_fast_readers();
    many_publishers_to_one_paced_reader_on_one_node();
    paced_websocket_reader_gets_a_burst_with_1mb_max_pending();
    stalled_websocket_subscriber_is_cut_off_and_paced_one_gets_everything();
    websocket_publisher_is_slowed_to_a_paced_tcp_reader();
}

/// The route scenarios against two `JUNCTION_REFERENCE_SERVER` nodes.
#[test]
#[ignore = "needs JUNCTION_REFERENCE_SERVER"]
fn reference_cluster_behaves_the_same() {
    assert!(std::env::var("JUNCTION_REFERENCE_SERVER").is_ok());
    paced_reader_across_a_route_gets_a_300mb_burst();
    paced_reader_across_a_route_gets_a_burst_with_1mb_max_pending();
    stalled_subscriber_across_a_route_is_cut_off_and_the_route_stays();
    many_publishers_to_one_paced_reader_across_a_route();
}
