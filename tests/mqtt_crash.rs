//! MQTT's "acknowledged means stored": a QoS 1 publisher waits for each
//! PUBACK while the server binary is killed with SIGKILL at random moments
//! and started again over the same store. A persistent session subscribed
//! before the first kill must then receive every acknowledged message.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};

const ROUNDS: usize = 12;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with MQTT on `port` over `store`, once the port answers.
fn start(dir: &Path, port: u16) -> Running {
    let conf = dir.join("crash.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: \"127.0.0.1:-1\"\njetstream {{ store_dir: {:?} }}\nmqtt {{ listen: \"127.0.0.1:{port}\" }}\n",
            dir.join("store")
        ),
    )
    .unwrap();
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_junction"))
            .arg("-c")
            .arg(&conf)
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("server.log"))
                    .expect("server log"),
            )
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn junction"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            panic!(
                "the server refused to start after a crash: {status}; its log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        assert!(Instant::now() < deadline, "MQTT port never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn options(id: &str, port: u16, clean: bool) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(clean);
    o
}

/// Publishes numbered QoS 1 messages one at a time for `run_for`, noting
/// each number whose PUBACK arrived.
async fn publish_round(port: u16, next: &mut u64, acked: &mut Vec<u64>, run_for: Duration) {
    let (client, mut events) = AsyncClient::new(options("crash-pub", port, true), 10);
    let deadline = tokio::time::Instant::now() + run_for;
    let mut waiting: Option<u64> = None;
    loop {
        if waiting.is_none() {
            if client
                .publish("crash/n", QoS::AtLeastOnce, false, next.to_be_bytes().to_vec())
                .await
                .is_err()
            {
                return;
            }
            waiting = Some(*next);
            *next += 1;
        }
        match tokio::time::timeout_at(deadline, events.poll()).await {
            Err(_) => return,
            Ok(Err(_)) => return,
            Ok(Ok(Event::Incoming(Incoming::PubAck(_)))) => {
                acked.push(waiting.take().expect("a publish in flight"));
            }
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn every_acknowledged_qos1_message_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    // The persistent session that must get everything in the end.
    {
        let _server = start(dir.path(), port);
        let (client, mut events) = AsyncClient::new(options("keeper", port, false), 10);
        client.subscribe("crash/#", QoS::AtLeastOnce).await.unwrap();
        loop {
            if let Event::Incoming(Incoming::SubAck(_)) = events.poll().await.unwrap() {
                break;
            }
        }
        client.disconnect().await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(2), events.poll()).await;
    }
    let (mut next, mut acked) = (0u64, Vec::new());
    for _ in 0..ROUNDS {
        let server = start(dir.path(), port);
        let run_for = Duration::from_millis(rand::thread_rng().gen_range(100..600));
        publish_round(port, &mut next, &mut acked, run_for).await;
        drop(server); // SIGKILL, whatever was in flight
    }
    assert!(acked.len() > 50, "only {} acknowledged publishes", acked.len());
    let _server = start(dir.path(), port);
    let (client, mut events) = AsyncClient::new(options("keeper", port, false), 1000);
    let mut got = BTreeSet::new();
    let mut present = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(3), events.poll()).await {
            Err(_) => break,
            Ok(Err(e)) => panic!("keeper: {e}"),
            Ok(Ok(Event::Incoming(Incoming::ConnAck(a)))) => present = Some(a.session_present),
            Ok(Ok(Event::Incoming(Incoming::Publish(p)))) => {
                got.insert(u64::from_be_bytes(p.payload[..8].try_into().unwrap()));
            }
            Ok(Ok(_)) => {}
        }
    }
    drop(client);
    assert_eq!(present, Some(true), "the session was kept");
    let missing: Vec<u64> = acked.iter().copied().filter(|n| !got.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(20)]
    );
}
