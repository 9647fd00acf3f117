//! The JetStream crash test: a publisher waiting for PubAcks and a consumer
//! acking, while the server is killed with SIGKILL at random moments and
//! started again, 100 times over the same store. Every acknowledged message
//! must be in the stream exactly once and in order, the consumer must
//! never skip a message, an ack the server confirmed must never be
//! forgotten (its message delivered again), and the server must always
//! start.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use futures::StreamExt;
use rand::Rng;

const ROUNDS: usize = 100;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free port over `store`; returns it and its URL.
fn start(store: &Path, ports: &Path) -> (Running, String) {
    for f in std::fs::read_dir(ports).unwrap().flatten() {
        let _ = std::fs::remove_file(f.path());
    }
    let child = Command::new(env!("CARGO_BIN_EXE_junction"))
        .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
        .arg(store)
        .arg("--ports_file_dir")
        .arg(ports)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn junction");
    let file = ports.join(format!("junction_{}.ports", child.id()));
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                let url = json["nats"][0].as_str().expect("nats url").to_string();
                return (running, url);
            }
        }
        if let Ok(Some(status)) = running.0.try_wait() {
            panic!("the server refused to start after a crash: {status}");
        }
        assert!(Instant::now() < deadline, "no ports file");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Default)]
struct Log {
    /// Payload numbers whose PubAck arrived, with their stream sequence.
    acked: Vec<(u64, u64)>,
    /// Stream sequences whose ack the server confirmed (double acks).
    consumed: BTreeSet<u64>,
    /// Stream sequences the consumer sent an ack for, confirmed or not (a
    /// crash may take the confirmation of a written ack).
    ack_sent: BTreeSet<u64>,
    /// Confirmed acks that came back as deliveries after a crash.
    confirmed_again: Vec<u64>,
    next_number: u64,
}

async fn round(url: &str, log: Arc<Mutex<Log>>, run_for: Duration) {
    let Ok(client) = async_nats::connect(url).await else {
        return;
    };
    let js = jetstream::new(client);
    let Ok(stream) = js
        .get_or_create_stream(stream::Config {
            name: "CRASH".into(),
            subjects: vec!["crash".into()],
            ..Default::default()
        })
        .await
    else {
        return;
    };
    let Ok(consumer) = stream
        .get_or_create_consumer(
            "c",
            pull::Config {
                durable_name: Some("c".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .await
    else {
        return;
    };
    let publisher = {
        let log = log.clone();
        let js = js.clone();
        async move {
            loop {
                let n = {
                    let mut l = log.lock().unwrap();
                    l.next_number += 1;
                    l.next_number
                };
                let Ok(ack) = js.publish("crash", n.to_string().into()).await else {
                    return;
                };
                let Ok(ack) = ack.await else { return };
                log.lock().unwrap().acked.push((n, ack.sequence));
            }
        }
    };
    let reader = {
        let log = log.clone();
        async move {
            let Ok(mut messages) = consumer.messages().await else {
                return;
            };
            while let Some(Ok(m)) = messages.next().await {
                let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                {
                    let mut l = log.lock().unwrap();
                    if l.consumed.contains(&seq) {
                        l.confirmed_again.push(seq);
                    }
                    l.ack_sent.insert(seq);
                }
                if m.double_ack().await.is_ok() {
                    log.lock().unwrap().consumed.insert(seq);
                }
            }
        }
    };
    let _ = tokio::time::timeout(run_for, async {
        tokio::join!(publisher, reader);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let store = tempfile::tempdir().unwrap();
    let ports = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    for _ in 0..ROUNDS {
        let (server, url) = start(store.path(), ports.path());
        let run_for = Duration::from_millis(rand::thread_rng().gen_range(30..200));
        round(&url, log.clone(), run_for).await;
        let mut server = server;
        server.0.kill().unwrap(); // SIGKILL
        server.0.wait().unwrap();
    }
    let (_server, url) = start(store.path(), ports.path());
    let js = jetstream::new(async_nats::connect(&url).await.unwrap());
    let stream = js.get_stream("CRASH").await.unwrap();
    let log = std::mem::take(&mut *log.lock().unwrap());
    eprintln!(
        "{ROUNDS} kills: {} publishes acknowledged, {} consumed",
        log.acked.len(),
        log.consumed.len()
    );
    assert!(
        log.acked.len() > 100,
        "only {} acknowledged publishes",
        log.acked.len()
    );
    // Every acknowledged message is stored under its sequence, once, in order.
    let mut last = 0;
    for &(n, seq) in &log.acked {
        assert!(seq > last, "acknowledged sequences out of order at {n}");
        last = seq;
        let m = stream
            .get_raw_message(seq)
            .await
            .unwrap_or_else(|e| panic!("acknowledged message {n} (seq {seq}) lost: {e}"));
        assert_eq!(m.payload, n.to_string(), "seq {seq}");
    }
    // A confirmed ack is written before its confirmation goes out.
    assert!(
        log.confirmed_again.is_empty(),
        "confirmed acks forgotten by a crash: {:?}",
        log.confirmed_again
    );
    // The consumer never skipped one: below the highest it saw, every
    // stored message had an ack sent for it (confirmed, or written before
    // a crash took its confirmation).
    let stored: BTreeSet<u64> = log.acked.iter().map(|&(_, s)| s).collect();
    if let Some(&top) = log.consumed.iter().next_back() {
        for seq in stored.range(..=top) {
            assert!(
                log.ack_sent.contains(seq),
                "the consumer skipped stream sequence {seq}"
            );
        }
    }
}
