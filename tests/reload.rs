//! Configuration reload of the `junction` binary, as operators do it: the
//! file is rewritten and the server told with SIGHUP or `--signal reload`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Raw;
use futures::StreamExt;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server started from `conf`, logging to `log`.
struct Server {
    running: Running,
    addr: std::net::SocketAddr,
    conf: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts on a random port (`-p -1`, which a reload keeps, as flags
    /// win over the file), or on the file's `port` when `file_port`.
    fn start(dir: &Path, conf_text: &str) -> Server {
        let log = dir.join("junction.log");
        Server::start_with(dir, conf_text, &["-p", "-1", "-l", log.to_str().unwrap()])
    }

    fn start_with(dir: &Path, conf_text: &str, flags: &[&str]) -> Server {
        let conf = dir.join("reload.conf");
        let log = dir.join("junction.log");
        std::fs::write(&conf, conf_text).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_junction"))
            .args(["-a", "127.0.0.1"])
            .args(flags)
            .arg("--ports_file_dir")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("spawn junction");
        let ports = dir.join(format!("junction_{}.ports", child.id()));
        let running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = loop {
            if let Some(url) = std::fs::read_to_string(&ports)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|j| j["nats"][0].as_str().map(str::to_string))
            {
                break url.trim_start_matches("nats://").parse().unwrap();
            }
            assert!(Instant::now() < deadline, "ports file never appeared");
            std::thread::sleep(Duration::from_millis(20));
        };
        Server {
            running,
            addr,
            conf,
            log,
        }
    }

    /// SIGHUP: read the configuration again.
    fn hangup(&self) {
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(self.running.0.id() as i32, libc::SIGHUP) };
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the server wrote to stderr (where it logs without a log file).
    fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.log.with_file_name("stderr.log")).unwrap_or_default()
    }

    /// Rewrites the file, sends SIGHUP and waits until the log has `count`
    /// lines containing `marker`.
    async fn reload(&self, conf_text: &str, marker: &str, count: usize) {
        std::fs::write(&self.conf, conf_text).unwrap();
        self.hangup();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log_text().matches(marker).count() < count {
            assert!(
                Instant::now() < deadline,
                "no {marker:?} in the log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Round `i`'s file: the steady publisher and subscriber, user `u<i>` (the
/// one of the round before is gone), user `perm` allowed to publish to
/// `a.>` in even rounds and `b.>` in odd ones, and a `max_payload` that
/// changes every round.
fn round_conf(i: usize) -> String {
    let allowed = if i.is_multiple_of(2) { "a.>" } else { "b.>" };
    format!(
        "max_payload: {}\nauthorization {{ users: [\n  {{user: pub, password: p}}\n  {{user: sub, password: p}}\n  {{user: u{i}, password: p}}\n  {{user: perm, password: p, permissions: {{publish: \"{allowed}\"}}}}\n] }}\n",
        512 * 1024 + i * 1024
    )
}

fn connect_json(user: &str) -> String {
    format!(r#"{{"user":"{user}","pass":"p","verbose":false}}"#)
}

/// Reads the next `-ERR` line or PONG.
async fn next_answer(raw: &mut Raw) -> String {
    loop {
        let line = raw.read_line().await;
        if line.starts_with("-ERR") || line.starts_with("PONG") || line.is_empty() {
            return line;
        }
    }
}

/// Fifty reloads while a publisher and a subscriber exchange numbered
/// messages: every message arrives, in order; only removed users' clients
/// are closed; added users connect; permission changes apply to a client
/// already connected.
#[tokio::test]
async fn fifty_reloads_under_load_lose_nothing_and_close_only_removed_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &round_conf(0));
    let url = format!("nats://{}", server.addr);
    let connect = |user: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), "p".into()).connect(url.clone())
    };
    let subscriber = connect("sub").await.unwrap();
    let mut data = subscriber.subscribe("data").await.unwrap();
    subscriber.flush().await.unwrap();
    let publisher = connect("pub").await.unwrap();
    // Proves the subscription is in place before counting starts.
    publisher.publish("data", "0".into()).await.unwrap();
    publisher.flush().await.unwrap();
    assert_eq!(&data.next().await.unwrap().payload[..], b"0");

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let pumping = {
        let (stop, sent, publisher) = (stop.clone(), sent.clone(), publisher.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                publisher.publish("data", n.to_string().into()).await.unwrap();
                if n.is_multiple_of(100) {
                    publisher.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                sent.store(n, Ordering::Relaxed);
            }
            publisher.flush().await.unwrap();
            n
        })
    };
    let receiving = tokio::spawn(async move {
        let mut expected = 1u64;
        let mut last = 0;
        while let Some(m) = data.next().await {
            let n: u64 = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
            assert_eq!(n, expected, "messages lost or out of order");
            expected += 1;
            last = n;
            if m.headers.is_some() {
                break;
            }
        }
        last
    });

    let mut previous = Raw::handshake(server.addr, &connect_json("u0")).await;
    let mut perm = Raw::handshake(server.addr, &connect_json("perm")).await;
    for i in 1..=50 {
        server
            .reload(&round_conf(i), "Reloaded server configuration", i)
            .await;
        // The user of the round before is gone: its client is told and closed.
        assert_eq!(
            previous.read_line().await,
            "-ERR 'Authorization Violation'\r\n",
            "round {i}"
        );
        assert_eq!(previous.read_to_close().await, "");
        // The new one connects.
        previous = Raw::handshake(server.addr, &connect_json(&format!("u{i}"))).await;
        // The connected `perm` client has its new permission.
        let (allowed, denied) = if i.is_multiple_of(2) {
            ("a.x", "b.x")
        } else {
            ("b.x", "a.x")
        };
        perm.send(&format!("PUB {allowed} 1\r\nx\r\nPING\r\n")).await;
        assert_eq!(next_answer(&mut perm).await, "PONG\r\n", "round {i}");
        perm.send(&format!("PUB {denied} 1\r\nx\r\nPING\r\n")).await;
        assert_eq!(
            next_answer(&mut perm).await,
            format!("-ERR 'Permissions Violation for Publish to \"{denied}\"'\r\n"),
            "round {i}"
        );
        assert_eq!(next_answer(&mut perm).await, "PONG\r\n");
    }
    stop.store(true, Ordering::Relaxed);
    let published = pumping.await.unwrap();
    // The end marker carries a header.
    let mut end = async_nats::HeaderMap::new();
    end.insert("end", "1");
    publisher
        .publish_with_headers("data", end, (published + 1).to_string().into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), receiving)
        .await
        .expect("the subscriber finishes")
        .unwrap();
    assert_eq!(received, published + 1);
    assert!(
        published > 1000,
        "only {published} messages went during the reloads"
    );
    // Neither steady client was dropped.
    assert_eq!(
        publisher.connection_state(),
        async_nats::connection::State::Connected
    );
    let log = server.log_text();
    assert_eq!(log.matches("Reloaded: max_payload").count(), 50, "{log}");
    assert!(!log.contains("Failed to reload"), "{log}");
}

/// A file with an error, or one that changes the port, is refused as a
/// whole: the log says why and the server keeps serving as before.
#[tokio::test]
async fn refused_reloads_keep_the_old_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = format!("port: {port}\nauthorization {{ users: [ {{user: a, password: p}} ] }}\n");
    let log = dir.path().join("junction.log");
    let server = Server::start_with(dir.path(), &conf, &["-l", log.to_str().unwrap()]);
    let mut client = Raw::handshake(server.addr, &connect_json("a")).await;

    // A syntax error, with file, line and column; the new user is not added.
    server
        .reload(
            &format!("port: {port}\nauthorization {{ users: [ {{user: a, password: p}}, {{user: b, password: p}} \n"),
            "Failed to reload server configuration",
            1,
        )
        .await;
    let log = server.log_text();
    assert!(log.contains("reload.conf:2:24: unexpected end of file"), "{log}");
    let mut refused = Raw::connect(server.addr).await;
    refused
        .send(&format!("CONNECT {}\r\nPING\r\n", connect_json("b")))
        .await;
    assert_eq!(refused.read_line().await, "-ERR 'Authorization Violation'\r\n");

    // A port change, with nats-server's message; nothing else applies.
    server
        .reload(
            &format!(
                "port: {}\nauthorization {{ users: [ {{user: b, password: p}} ] }}\n",
                port + 1
            ),
            "Failed to reload server configuration",
            2,
        )
        .await;
    let log = server.log_text();
    assert!(
        log.contains(&format!(
            "config reload not supported for Port: old={port}, new={}",
            port + 1
        )),
        "{log}"
    );
    // Monitoring ports cannot move either; nats-server writes off as 0.
    server
        .reload(
            &format!(
                "port: {port}\nhttps_port: 8443\nauthorization {{ users: [ {{user: b, password: p}} ] }}\n"
            ),
            "Failed to reload server configuration",
            3,
        )
        .await;
    let log = server.log_text();
    assert!(
        log.contains("config reload not supported for HTTPSPort: old=0, new=8443"),
        "{log}"
    );
    // `a` is still served; `b` still unknown.
    client.send("PING\r\n").await;
    client.expect("PONG\r\n").await;
    let mut refused = Raw::connect(server.addr).await;
    refused
        .send(&format!("CONNECT {}\r\nPING\r\n", connect_json("b")))
        .await;
    assert_eq!(refused.read_line().await, "-ERR 'Authorization Violation'\r\n");
}

/// `--signal reload=<pid file>` reloads too, and `/varz` shows the new
/// `config_load_time` and values.
#[tokio::test]
async fn signal_reload_updates_varz() {
    let dir = tempfile::tempdir().unwrap();
    let http = common::free_port();
    let pid_file = dir.path().join("j.pid");
    let conf = |max: u32| {
        format!(
            "http: \"127.0.0.1:{http}\"\npid_file: {:?}\nmax_connections: {max}\n",
            pid_file
        )
    };
    let server = Server::start(dir.path(), &conf(100));
    let varz = || async {
        let body = reqwest_lite(http).await;
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let before = varz().await;
    assert_eq!(before["max_connections"], 100);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&server.conf, conf(7)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_junction"))
        .arg("--signal")
        .arg(format!("reload={}", pid_file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log_text().contains("Reloaded server configuration") {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = varz().await;
    assert_eq!(after["max_connections"], 7);
    assert_ne!(after["config_load_time"], before["config_load_time"]);
    assert_eq!(after["start"], before["start"]);
}

/// A plain HTTP GET of `/varz`.
async fn reqwest_lite(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET /varz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// An account that loses an import stops receiving through it at once, and
/// gets it back with the next reload; its clients stay connected.
#[tokio::test]
async fn a_removed_import_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let conf = |import: bool| {
        let imports = if import {
            "imports: [ {stream: {account: A, subject: \"feed.>\"}} ]"
        } else {
            ""
        };
        format!(
            "accounts {{\n  A {{ users: [ {{user: a, password: p}} ], exports: [ {{stream: \"feed.>\"}} ] }}\n  B {{ users: [ {{user: b, password: p}} ], {imports} }}\n}}\n"
        )
    };
    let server = Server::start(dir.path(), &conf(true));
    let mut b = Raw::handshake(server.addr, &connect_json("b")).await;
    b.send("SUB feed.> 1\r\nPING\r\n").await;
    b.expect("PONG\r\n").await;
    let mut a = Raw::handshake(server.addr, &connect_json("a")).await;
    let publish = |n: u32| format!("PUB feed.x 1\r\n{n}\r\nPING\r\n");
    a.send(&publish(1)).await;
    a.expect("PONG\r\n").await;
    b.expect("MSG feed.x 1 1\r\n1\r\n").await;

    server
        .reload(&conf(false), "Reloaded server configuration", 1)
        .await;
    a.send(&publish(2)).await;
    a.expect("PONG\r\n").await;
    // Only the PONG comes: nothing through the import.
    b.send("PING\r\n").await;
    b.expect("PONG\r\n").await;

    server
        .reload(&conf(true), "Reloaded server configuration", 2)
        .await;
    a.send(&publish(3)).await;
    a.expect("PONG\r\n").await;
    b.expect("MSG feed.x 1 1\r\n3\r\n").await;
    assert!(server.log_text().contains("Reloaded: accounts"));
}

/// MQTT clients are checked again too: one whose user was removed is
/// closed (3.1.1 has no server DISCONNECT), one that stays keeps being served.
#[tokio::test]
async fn mqtt_clients_are_checked_again() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mqtt_port = common::free_port();
    let conf = |users: &str| {
        format!(
            "jetstream {{ store_dir: {:?} }}\nmqtt {{ listen: \"127.0.0.1:{mqtt_port}\" }}\nauthorization {{ users: [ {users} ] }}\n",
            dir.path().join("store")
        )
    };
    let server = Server::start(
        dir.path(),
        &conf("{user: dev1, password: p}, {user: dev2, password: p}"),
    );
    // CONNECT 3.1.1 with user name and password, clean session.
    let connect = |user: &str| {
        let mut body = b"\x00\x04MQTT\x04\xc2\x00\x3c".to_vec();
        for field in [user.as_bytes(), user.as_bytes(), b"p"] {
            body.extend_from_slice(&(field.len() as u16).to_be_bytes());
            body.extend_from_slice(field);
        }
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend_from_slice(&body);
        packet
    };
    let mut open = Vec::new();
    for user in ["dev1", "dev2"] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", mqtt_port))
            .await
            .unwrap();
        s.write_all(&connect(user)).await.unwrap();
        let mut ack = [0u8; 4];
        s.read_exact(&mut ack).await.unwrap();
        assert_eq!(&ack, b"\x20\x02\x00\x00");
        open.push(s);
    }
    server
        .reload(
            &conf("{user: dev2, password: p}"),
            "Reloaded server configuration",
            1,
        )
        .await;
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), open[0].read_to_end(&mut rest))
        .await
        .expect("dev1 is closed")
        .ok();
    // dev2 still answers pings.
    open[1].write_all(b"\xc0\x00").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), open[1].read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\xd0\x00");
}

/// A lower `max_payload` applies to clients already connected, as in
/// nats-server.
#[tokio::test]
async fn a_new_max_payload_applies_to_connected_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "max_payload: 1024\n");
    let mut client = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    let body = "x".repeat(200);
    client.send(&format!("PUB big 200\r\n{body}\r\nPING\r\n")).await;
    client.expect("PONG\r\n").await;
    server
        .reload("max_payload: 100\n", "Reloaded server configuration", 1)
        .await;
    client.send(&format!("PUB big 200\r\n{body}\r\n")).await;
    assert_eq!(client.read_line().await, "-ERR 'Maximum Payload Violation'\r\n");
}

/// `log_file` may move with a reload: the lines after it go to the new file.
#[tokio::test]
async fn a_reload_moves_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("junction.log"), dir.path().join("moved.log"));
    let conf = |path: &Path| format!("log_file: {path:?}\n");
    let server = Server::start_with(dir.path(), &conf(&first), &["-p", "-1"]);
    std::fs::write(&server.conf, conf(&second)).unwrap();
    server.hangup();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&second).is_ok_and(|t| t.contains("Reloaded server configuration")) {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let old = std::fs::read_to_string(&first).unwrap();
    assert!(
        old.contains("Server is ready") && !old.contains("Reloaded"),
        "{old}"
    );
    let new = std::fs::read_to_string(&second).unwrap();
    assert!(new.contains("Reloaded: log_file"), "{new}");
    // Still serving.
    let mut client = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    client.send("PING\r\n").await;
    client.expect("PONG\r\n").await;
}

/// A reload may start logging to a file and stop again, as nats-server
/// switches its logger: each time the lines after it go to the new place.
#[tokio::test]
async fn a_reload_starts_and_stops_logging_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junction.log");
    let server = Server::start_with(dir.path(), "debug: false\n", &["-p", "-1"]);
    assert!(server.stderr_text().contains("Server is ready"));
    assert!(!file.exists());

    server
        .reload(
            &format!("log_file: {file:?}\n"),
            "Reloaded server configuration",
            1,
        )
        .await;
    assert!(server.log_text().contains("Reloaded: log_file"));
    assert!(!server.stderr_text().contains("Reloaded"));

    std::fs::write(&server.conf, "debug: true\n").unwrap();
    server.hangup();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr_text().contains("Reloaded server configuration") {
        assert!(Instant::now() < deadline, "{}", server.stderr_text());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stderr = server.stderr_text();
    assert!(stderr.contains("Reloaded: log_file = \n"), "{stderr}");
    assert!(stderr.contains("Reloaded: debug = true"), "{stderr}");
    // Nothing after the reload went to the file.
    assert_eq!(
        server.log_text().matches("Reloaded server configuration").count(),
        1
    );
    let mut client = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    client.send("PING\r\n").await;
    client.expect("PONG\r\n").await;
}

/// The `mqtt {}` block reloads as in nats-server: its acknowledgement
/// settings apply to subscriptions made from then on, while a change to
/// anything else in it (here `js_domain`, and the port) is refused.
#[tokio::test]
async fn the_mqtt_block_reloads_its_ack_settings_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mqtt_port = common::free_port();
    let conf = |port: u16, extra: &str| {
        format!(
            "jetstream {{ store_dir: {:?} }}\nmqtt {{\n  listen: \"127.0.0.1:{port}\"\n  ack_wait: \"5s\"\n  {extra}\n}}\n",
            dir.path().join("store")
        )
    };
    let server = Server::start(dir.path(), &conf(mqtt_port, ""));
    // A QoS 1 subscription by a persistent session `c<n>`; returns the
    // ack_wait its consumer got, through the JetStream API.
    let subscribe = |n: u32| async move {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", mqtt_port))
            .await
            .unwrap();
        let id = format!("c{n}");
        let mut body = b"\x00\x04MQTT\x04\x00\x00\x3c".to_vec();
        body.extend_from_slice(&(id.len() as u16).to_be_bytes());
        body.extend_from_slice(id.as_bytes());
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend_from_slice(&body);
        // SUBSCRIBE packet id 1, `t/<n>` at QoS 1.
        let topic = format!("t/{n}");
        let mut sub = vec![0x00, 0x01];
        sub.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        sub.extend_from_slice(topic.as_bytes());
        sub.push(1);
        packet.push(0x82);
        packet.push(sub.len() as u8);
        packet.extend_from_slice(&sub);
        s.write_all(&packet).await.unwrap();
        let mut answer = [0u8; 9];
        s.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"\x20\x02\x00\x00\x90\x03\x00\x01\x01");
        s
    };
    let consumer_ack_waits = || async {
        let nc = async_nats::connect(format!("nats://{}", server.addr))
            .await
            .unwrap();
        let js = async_nats::jetstream::new(nc);
        let mut stream = js.get_stream("$MQTT_msgs").await.unwrap();
        let mut waits = Vec::new();
        let mut names = stream.consumers();
        while let Some(info) = names.next().await {
            let info = info.unwrap();
            waits.push(info.config.ack_wait);
        }
        waits.sort();
        let _ = &mut stream;
        waits
    };
    let _first = subscribe(1).await;
    assert_eq!(consumer_ack_waits().await, [Duration::from_secs(5)]);

    server
        .reload(
            &conf(mqtt_port, "ack_wait: \"7s\"\n  max_ack_pending: 50"),
            "Reloaded: MQTT max_ack_pending = 50",
            1,
        )
        .await;
    let _second = subscribe(2).await;
    assert_eq!(
        consumer_ack_waits().await,
        [Duration::from_secs(5), Duration::from_secs(7)]
    );
    assert!(server.log_text().contains("Reloaded: MQTT ack_wait = 7s"));

    // Anything else in the block is refused as a whole.
    for (text, why) in [
        (conf(mqtt_port, "ack_wait: \"9s\"\n  js_domain: other"), "MQTT"),
        (conf(common::free_port(), "ack_wait: \"9s\""), "MQTT"),
    ] {
        let before = server.log_text().matches("Failed to reload").count();
        server.reload(&text, "Failed to reload", before + 1).await;
        assert!(
            server
                .log_text()
                .contains(&format!("config reload not supported for {why}")),
            "{}",
            server.log_text()
        );
    }
    assert!(!server.log_text().contains("ack_wait = 9s"));
}

/// `logtime` reloads: lines after the reload have no time in front.
#[tokio::test]
async fn logtime_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "logtime: true\n");
    let stamped = |line: &str| line.chars().next().is_some_and(|c| c.is_ascii_digit());
    assert!(server
        .log_text()
        .lines()
        .filter(|l| l.contains("Listening for client connections"))
        .all(stamped));
    for on in [false, true] {
        let marker = format!("Reloaded: logtime = {on}");
        server.reload(&format!("logtime: {on}\n"), &marker, 1).await;
        let text = server.log_text();
        let line = text.lines().find(|l| l.contains(&marker)).unwrap();
        assert_eq!(stamped(line), on, "{line:?}");
    }
}

/// `logfile_size_limit` rotates the log as nats-server does, keeping
/// `logfile_max_num` files; both reload.
#[tokio::test]
async fn the_log_file_rotates_at_its_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let conf = |i: usize, limit: &str| format!("max_payload: {}\n{limit}\n", 10_000 + i);
    let server = Server::start(dir.path(), &conf(0, ""));
    let all_logs = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("junction.log"))
            .collect();
        names.sort();
        names
    };
    let text_of_all = || {
        all_logs()
            .iter()
            .map(|n| std::fs::read_to_string(dir.path().join(n)).unwrap_or_default())
            .collect::<String>()
    };
    let reload = |i: usize, limit: &'static str| {
        std::fs::write(&server.conf, conf(i, limit)).unwrap();
        server.hangup();
        let marker = format!("Reloaded: max_payload = {}", 10_000 + i);
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !text_of_all().contains(&marker) {
                assert!(Instant::now() < deadline, "no {marker:?}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    // No limit: one file however much is written.
    for i in 1..=5 {
        reload(i, "").await;
    }
    assert_eq!(all_logs(), ["junction.log"]);
    let limit = "logfile_size_limit: 600\nlogfile_max_num: 3";
    for i in 6..=40 {
        reload(i, limit).await;
    }
    let logs = all_logs();
    // The current file and two rotated ones, named with the time.
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert_eq!(logs[0], "junction.log");
    for backup in &logs[1..] {
        let stamp = backup.strip_prefix("junction.log.").unwrap();
        assert_eq!(stamp.split('.').count(), 7, "{backup}");
    }
    let current = std::fs::read_to_string(dir.path().join("junction.log")).unwrap();
    assert!(current.contains("Rotated log, backup saved as"), "{current}");
    assert!(current.len() < 2000, "{} bytes", current.len());
    // The last reload's lines are there, in the current file or the newest backup.
    assert!(text_of_all().contains("Reloaded: max_payload = 10040"));
}

/// A lower `max_connections` closes connections past it at once, each told
/// `-ERR 'maximum connections exceeded'`, as nats-server does; the oldest
/// stay.
#[tokio::test]
async fn a_lower_max_connections_closes_the_excess() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "max_connections: 10\n");
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut raw = Raw::handshake(server.addr, "{\"verbose\":false}").await;
        raw.send("PING\r\n").await;
        raw.expect("PONG\r\n").await;
        clients.push(raw);
    }
    server
        .reload(
            "max_connections: 2\n",
            "Closed 2 connections to fall within max_connections",
            1,
        )
        .await;
    for raw in &mut clients[2..] {
        raw.expect("-ERR 'maximum connections exceeded'\r\n").await;
    }
    for raw in &mut clients[..2] {
        raw.send("PING\r\n").await;
        raw.expect("PONG\r\n").await;
    }
    // And a new one is refused while two are open.
    let mut late = Raw::connect(server.addr).await;
    late.expect("-ERR 'maximum connections exceeded'\r\n").await;
}

/// A reload's `ping_interval` and `ping_max` reach connections already
/// open: a client that stops answering PINGs is closed as stale on the new
/// schedule, not the old one-minute one.
#[tokio::test]
async fn a_new_ping_interval_applies_to_connected_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "ping_interval: \"1m\"\nping_max: 2\n");
    let mut raw = Raw::handshake(server.addr, "{\"verbose\":false}").await;
    server
        .reload(
            "ping_interval: \"200ms\"\nping_max: 2\n",
            "Reloaded: ping_interval",
            1,
        )
        .await;
    let started = Instant::now();
    // PINGs go unanswered: two, then the stale error.
    raw.expect("PING\r\n").await;
    raw.expect("PING\r\n").await;
    raw.expect("-ERR 'Stale Connection'\r\n").await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A lower `max_pending` reaches connected clients: a subscriber that
/// stopped reading, with more pending than the new limit, is cut off as a
/// slow consumer by the next message for it, where the old limit would
/// have kept it (and its publisher waiting) until `write_deadline`.
#[tokio::test]
async fn a_lower_max_pending_applies_to_connected_clients() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = common::start(junction::Options {
        write_deadline: Duration::from_secs(60),
        ..junction::Options::default()
    })
    .await;
    // The stalled subscriber: a small receive buffer, read up to its PONG
    // and never again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr).await.unwrap();
    stalled
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPING\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("PONG\r\n") {
        let mut buf = [0u8; 1024];
        let n = stalled.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    // A publisher fills its socket and then the server's buffer for it.
    let addr = server.addr;
    let flood = tokio::spawn(async move {
        let mut publisher = Raw::handshake(addr, r#"{"verbose":false}"#).await;
        let body = vec![b'a'; 64 * 1024];
        for _ in 0..128 {
            publisher.send("PUB x 65536\r\n").await;
            publisher.send_bytes(&body).await;
            publisher.send("\r\n").await;
        }
    });
    let pending = || {
        server
            .server
            .clients()
            .iter()
            .map(|c| c.pending_bytes())
            .max()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending() < 256 * 1024 {
        assert!(Instant::now() < deadline, "pending {}", pending());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut lower = (*server.server.opts()).clone();
    lower.max_pending = 64 * 1024;
    server.server.reload(lower).unwrap();

    let mut other = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    other.send("PUB x 2\r\nhi\r\nPING\r\n").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let slow = || server.server.stats.slow_consumers.load(Ordering::Relaxed);
    while slow() == 0 {
        assert!(
            Instant::now() < deadline,
            "the stalled subscriber was not cut off"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(slow(), 1);
    other.expect("PONG\r\n").await;
    let closed = server.server.closed_connections();
    assert!(
        closed.iter().any(|c| c
            .stopped
            .and_then(|(_, why)| why)
            .map(|r| r.to_string())
            .as_deref()
            == Some("Slow Consumer (Pending Bytes)")),
        "{closed:?}"
    );
    flood.abort();
}

/// `$SYS.REQ.SERVER.<id>.RELOAD` reads the file again as SIGHUP does:
/// a user added to it can connect once the answer came; a broken file is
/// refused in the answer's error and the server keeps going.
#[tokio::test]
async fn a_reload_asked_over_the_system_account() {
    let dir = tempfile::tempdir().unwrap();
    let conf = |users: &str| {
        format!(
            "accounts {{\n  SYS: {{ users: [{{user: sys, password: sys}}] }}\n  APP: {{ users: [{users}] }}\n}}\nsystem_account: SYS\n"
        )
    };
    let server = Server::start(dir.path(), &conf("{user: a, password: a}"));
    let url = format!("nats://{}", server.addr);
    let sys = common::connect_retrying(&url, || {
        async_nats::ConnectOptions::with_user_and_password("sys".into(), "sys".into())
    })
    .await;
    let id = sys.server_info().server_id.clone();
    let subject = format!("$SYS.REQ.SERVER.{id}.RELOAD");
    let newcomer = || async_nats::ConnectOptions::with_user_and_password("b".into(), "b".into());
    assert!(newcomer().connect(&url).await.is_err(), "b is not a user yet");
    std::fs::write(
        &server.conf,
        conf("{user: a, password: a}, {user: b, password: b}"),
    )
    .unwrap();
    let answer = sys.request(subject.clone(), "".into()).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(body["server"]["id"], id.as_str(), "{body}");
    assert!(body.get("error").is_none(), "{body}");
    newcomer()
        .connect(&url)
        .await
        .expect("b connects after the reload");
    // A file that does not parse: the error is in the answer.
    std::fs::write(&server.conf, "accounts {").unwrap();
    let answer = sys.request(subject, "".into()).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(body["error"]["code"], 500, "{body}");
    assert!(sys.flush().await.is_ok());
}
