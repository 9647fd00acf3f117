//! The `junction` binary as an operator runs it: nats-server's flags,
//! random ports with a ports file, pid file, signals and lame duck mode.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Raw;

fn junction() -> Command {
    Command::new(env!("CARGO_BIN_EXE_junction"))
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `-p -1 --ports_file_dir DIR` plus `args` and
/// returns the client address read from the ports file.
fn start(dir: &Path, args: &[&str]) -> (Running, std::net::SocketAddr) {
    let child = junction()
        .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
        .arg(dir)
        .args(args)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn junction");
    let pid = child.id();
    let running = Running(child);
    let ports = dir.join(format!("junction_{pid}.ports"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ports) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                let url = json["nats"][0].as_str().expect("nats url").to_string();
                let addr = url.trim_start_matches("nats://").parse().expect("addr");
                return (running, addr);
            }
        }
        assert!(
            Instant::now() < deadline,
            "ports file {} never appeared",
            ports.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn version_flag() {
    let out = junction().arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("junction: v"));
}

#[test]
fn unknown_flag_is_a_clear_error() {
    let out = junction().arg("--no-such-flag").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[tokio::test]
async fn random_port_ports_file_and_go_style_flags() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("j.pid");
    let (mut running, addr) = start(
        dir.path(),
        &["-n", "edge-1", "-P", pid_file.to_str().unwrap(), "-js", "-DV"],
    );
    let raw = Raw::connect(addr).await;
    assert!(raw.info.contains("\"server_name\":\"edge-1\""), "{}", raw.info);
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, running.0.id());
    drop(raw);
    signal(&running.0, libc::SIGTERM);
    let status = wait_exit(&mut running.0, Duration::from_secs(10)).expect("exits on SIGTERM");
    assert!(status.success());
    assert!(!pid_file.exists(), "pid file removed at shutdown");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "ports file removed"
    );
}

#[tokio::test]
async fn sigint_shuts_down_and_closes_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, addr) = start(dir.path(), &[]);
    let mut raw = Raw::handshake(addr, r#"{"verbose":false}"#).await;
    signal(&running.0, libc::SIGINT);
    raw.read_to_close().await;
    let status = wait_exit(&mut running.0, Duration::from_secs(10)).expect("exits on SIGINT");
    assert!(status.success());
}

#[tokio::test]
async fn lame_duck_signal_announces_ldm_and_refuses_new_clients() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("j.pid");
    let (running, addr) = start(dir.path(), &["-P", pid_file.to_str().unwrap()]);
    let mut raw = Raw::handshake(addr, r#"{"verbose":false}"#).await;
    // The same way an operator would: `junction --signal ldm=<pidfile>`.
    let out = junction()
        .arg("--signal")
        .arg(format!("ldm={}", pid_file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info = raw.read_line().await;
    assert!(
        info.starts_with("INFO {") && info.contains("\"ldm\":true"),
        "{info}"
    );
    // New connections are no longer served.
    let refused = match tokio::net::TcpStream::connect(addr).await {
        Err(_) => true,
        Ok(mut s) => {
            use tokio::io::AsyncReadExt;
            let mut b = [0u8; 16];
            matches!(
                tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await,
                Ok(Ok(0)) | Ok(Err(_))
            )
        }
    };
    assert!(refused);
    drop(running);
}

#[tokio::test]
async fn lame_duck_closes_clients_then_stops() {
    let server = common::start(junction::Options {
        lame_duck_duration: Duration::from_millis(300),
        lame_duck_grace_period: Duration::from_millis(100),
        ..junction::Options::default()
    })
    .await;
    let mut a = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    let mut b = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    let handle = server.server.clone();
    tokio::spawn(handle.lame_duck());
    for raw in [&mut a, &mut b] {
        let info = raw.read_line().await;
        assert!(info.contains("\"ldm\":true"), "{info}");
        raw.read_to_close().await;
    }
    tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("server stops");
}

#[tokio::test]
async fn trace_flag_logs_client_operations_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("junction.log");
    let (running, addr) = start(dir.path(), &["-DV", "-l", log.to_str().unwrap()]);
    let mut raw = Raw::handshake(addr, r#"{"verbose":false}"#).await;
    raw.send("SUB trace.me 1\r\nPING\r\n").await;
    raw.expect("PONG\r\n").await;
    drop(running);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Server is ready"), "{text}");
    assert!(text.contains("<<- [SUB trace.me 1]"), "{text}");
}

/// A mapped publish is traced as nats-server traces it, after the PUB.
#[tokio::test]
async fn trace_shows_a_mapped_publish() {
    let dir = tempfile::tempdir().unwrap();
    let (log, conf) = (dir.path().join("junction.log"), dir.path().join("m.conf"));
    std::fs::write(&conf, "mappings { foo: bar }\n").unwrap();
    let (running, addr) = start(
        dir.path(),
        &["-DV", "-l", log.to_str().unwrap(), "-c", conf.to_str().unwrap()],
    );
    let mut raw = Raw::handshake(addr, r#"{"verbose":false}"#).await;
    raw.send("PUB foo 1\r\nx\r\nPING\r\n").await;
    raw.expect("PONG\r\n").await;
    drop(running);
    let text = std::fs::read_to_string(&log).unwrap();
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s:?} in {text}"));
    assert!(at("<<- [PUB foo 1]") < at("<<- [MAPPING foo -> bar]"));
}

/// logrotate's way: move the file, then `--signal reopen`; new lines go to
/// a new file at the old path, and the server keeps serving.
#[tokio::test]
async fn reopen_signal_starts_a_new_log_file_after_a_move() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("junction.log");
    let rotated = dir.path().join("junction.log.1");
    let pid_file = dir.path().join("j.pid");
    let (running, addr) = start(
        dir.path(),
        &[
            "-DV",
            "-l",
            log.to_str().unwrap(),
            "-P",
            pid_file.to_str().unwrap(),
        ],
    );
    let mut raw = Raw::handshake(addr, r#"{"verbose":false}"#).await;
    raw.send("SUB before.rotation 1\r\nPING\r\n").await;
    raw.expect("PONG\r\n").await;
    std::fs::rename(&log, &rotated).unwrap();
    let out = junction()
        .arg("--signal")
        .arg(format!("reopen={}", pid_file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Reopened log file")) {
        assert!(Instant::now() < deadline, "no new log file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still serving, and logging to the new file only.
    raw.send("SUB after.rotation 2\r\nPING\r\n").await;
    raw.expect("PONG\r\n").await;
    drop(running);
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(
        old.contains("before.rotation") && !old.contains("after.rotation"),
        "{old}"
    );
    assert!(
        new.contains("after.rotation") && !new.contains("before.rotation"),
        "{new}"
    );
}

/// Without a log file, SIGUSR1 is harmless (it used to kill the process).
#[tokio::test]
async fn reopen_signal_without_a_log_file_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let (running, addr) = start(dir.path(), &[]);
    signal(&running.0, libc::SIGUSR1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut raw = Raw::handshake(addr, r#"{"verbose":false}"#).await;
    raw.send("PING\r\n").await;
    raw.expect("PONG\r\n").await;
}

/// The monitoring URL in the ports file a server started with `flags` writes to `dir`.
fn monitoring_url(dir: &Path, flags: &[&str]) -> (Running, String) {
    let (running, _addr) = start(dir, flags);
    let ports = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ports).unwrap()).unwrap();
    let url = json["monitoring"][0].as_str().expect("monitoring url");
    (running, url.to_string())
}

#[tokio::test]
async fn monitoring_port_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let (running, url) = monitoring_url(dir.path(), &["-m", &port.to_string()]);
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    let http: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(common::http_json(http, "/healthz").await["status"], "ok");
    drop(running);
}

/// `-m -1` and `-ms -1` pick random ports, as in nats-server; `-ms` serves
/// HTTPS with the `--tlscert` certificate and the ports file says `https`.
#[tokio::test]
async fn random_monitoring_ports_over_http_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let (running, url) = monitoring_url(dir.path(), &["-m", "-1"]);
    let http: std::net::SocketAddr = url.strip_prefix("http://").expect(&url).parse().unwrap();
    assert_eq!(common::http_json(http, "/healthz").await["status"], "ok");
    drop(running);

    let dir = tempfile::tempdir().unwrap();
    let pki = common::pki::Pki::new();
    healthz_over_https(&pki, dir.path(), &["-ms", "-1"]).await;
}

/// Starts the binary with `flags` and the TLS flags of `pki`'s server
/// certificate, and checks its monitoring port answers `/healthz` over HTTPS.
async fn healthz_over_https(pki: &common::pki::Pki, dir: &Path, flags: &[&str]) {
    let (cert, key) = (pki.path("server.pem"), pki.path("server-key.pem"));
    let mut args = flags.to_vec();
    args.extend([
        "--tls",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        key.to_str().unwrap(),
    ]);
    let (running, url) = monitoring_url(dir, &args);
    let https: std::net::SocketAddr = url.strip_prefix("https://").expect(&url).parse().unwrap();
    let response = pki.https_get(https, "/healthz").await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");
    drop(running);
}

/// Lifts this test process's soft limit on open files (2,000 client sockets).
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Connections opened one after another with a blocking connect, as scripts
/// and health checkers open them: none may wait for a SYN retransmission
/// (a full accept queue), every one gets its PONG, and a publish reaches all.
#[test]
fn two_thousand_sequential_connects_are_accepted_promptly() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    const CONNS: usize = 2000;
    raise_open_files_limit();
    let dir = tempfile::tempdir().unwrap();
    let (_running, addr) = start(dir.path(), &[]);
    let started = Instant::now();
    let mut conns: Vec<TcpStream> = (0..CONNS)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {i}: {e}")))
        .collect();
    let connecting = started.elapsed();
    assert!(
        connecting < Duration::from_millis(700),
        "{CONNS} sequential connects took {connecting:?}"
    );
    for c in &mut conns {
        c.write_all(b"CONNECT {\"verbose\":false}\r\nSUB all 1\r\nPING\r\n")
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen: Vec<Vec<u8>> = vec![Vec::new(); CONNS];
    let read_until = |c: &mut TcpStream, seen: &mut Vec<u8>, want: &[u8]| {
        let mut buf = [0u8; 4096];
        while !seen.windows(want.len()).any(|w| w == want) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {:?} in time", String::from_utf8_lossy(want));
            c.set_read_timeout(Some(left)).unwrap();
            let n = c.read(&mut buf).expect("read");
            assert!(n > 0, "closed");
            seen.extend_from_slice(&buf[..n]);
        }
    };
    for (c, seen) in conns.iter_mut().zip(&mut seen) {
        read_until(c, seen, b"PONG\r\n");
    }
    let mut publisher = TcpStream::connect(addr).unwrap();
    publisher
        .write_all(b"CONNECT {\"verbose\":false}\r\nPUB all 5\r\nhello\r\n")
        .unwrap();
    for (c, seen) in conns.iter_mut().zip(&mut seen) {
        read_until(c, seen, b"MSG all 1 5\r\nhello\r\n");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// Runs the binary to its exit with `args` and returns its stderr.
fn refused_start(args: &[&str]) -> String {
    let out = junction()
        .args(["-a", "127.0.0.1", "-p", "-1"])
        .args(args)
        .output()
        .expect("run junction");
    assert!(!out.status.success(), "junction started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// As with nats-server, the flags count before the rules that tie options
/// together: `-js -sd` satisfy an `mqtt {}` block in a file without
/// `jetstream {}`, and without them the start is refused in nats-server's
/// words.
#[tokio::test]
async fn mqtt_in_the_file_with_jetstream_from_the_flags() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mqtt_port = common::free_port();
    let conf = dir.path().join("mqtt.conf");
    std::fs::write(&conf, format!("mqtt {{ listen: \"127.0.0.1:{mqtt_port}\" }}\n")).unwrap();
    let err = refused_start(&["-c", conf.to_str().unwrap()]);
    assert!(
        err.contains("mqtt requires JetStream to be enabled if running in standalone mode"),
        "{err}"
    );

    let ports = dir.path().join("ports");
    std::fs::create_dir(&ports).unwrap();
    let store = dir.path().join("store");
    let (running, _) = start(
        &ports,
        &[
            "-js",
            "-sd",
            store.to_str().unwrap(),
            "-c",
            conf.to_str().unwrap(),
        ],
    );
    // MQTT 3.1.1 CONNECT, clean session, client id "a"; CONNACK accepted.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", mqtt_port))
        .await
        .unwrap();
    tcp.write_all(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a")
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut connack))
        .await
        .expect("CONNACK")
        .unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
    // The stores are under the flag's directory.
    assert!(store.join("jetstream").exists());
    drop(running);
}

/// The monitoring ports' rules read the merged options too: the TLS flags
/// give the file's `https_port` its certificate, and `-m` beside a file's
/// `https_port` is two ports, refused as nats-server refuses them.
#[tokio::test]
async fn monitoring_rules_see_the_flags_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("https.conf");
    std::fs::write(&conf, "https_port: -1\n").unwrap();
    let pki = common::pki::Pki::new();
    let err = refused_start(&["-c", conf.to_str().unwrap()]);
    assert!(
        err.contains("Can't start monitoring: TLS cert and key required for HTTPS"),
        "{err}"
    );
    let err = refused_start(&["-c", conf.to_str().unwrap(), "-m", "-1"]);
    assert!(err.contains("can't specify both HTTP"), "{err}");

    let ports = dir.path().join("ports");
    std::fs::create_dir(&ports).unwrap();
    healthz_over_https(&pki, &ports, &["-c", conf.to_str().unwrap()]).await;
}

#[tokio::test]
async fn cluster_flags_mesh_two_processes() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let seed_port = common::free_port();
    let seed_cluster = format!("nats://127.0.0.1:{seed_port}");
    // Go-style single-dash flags, as in nats-server's quick starts.
    let (_seed, seed_addr) = start(dir.path(), &["-cluster", &seed_cluster, "-cluster_name", "c1"]);
    let (_other, other_addr) = start(
        dir.path(),
        &[
            "--cluster",
            "nats://127.0.0.1:-1",
            "--cluster_name",
            "c1",
            "--routes",
            &seed_cluster,
        ],
    );
    let service = async_nats::connect(format!("nats://{other_addr}")).await.unwrap();
    let mut requests = service.subscribe("across").await.unwrap();
    let answer = service.clone();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            let _ = answer
                .publish(m.reply.unwrap(), "from the other node".into())
                .await;
        }
    });
    service.flush().await.unwrap();
    let asker = async_nats::connect(format!("nats://{seed_addr}")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match asker.request("across", "".into()).await {
            Ok(reply) => break assert_eq!(reply.payload, "from the other node"),
            Err(e) => assert!(Instant::now() < deadline, "no route formed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
