//! MQTT through rumqttc (3.1.1 and 5) against the real server: delivery
//! between MQTT, NATS and JetStream, QoS 1 and 2, retained messages, wills,
//! persistent sessions (across a restart too) and takeover.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, QoS};
use tokio::sync::mpsc;

struct Broker {
    server: junction::RunningServer,
    mqtt: SocketAddr,
    /// The accounts' MQTT state, shared with MQTT over WebSocket.
    state: std::sync::Arc<junction::mqtt::Mqtt>,
}

async fn start_in(dir: &std::path::Path) -> Broker {
    start_with(dir, junction::options::MqttOptions::default()).await
}

/// A broker from a configuration file written in `dir`: `conf` after a
/// `jetstream {}` block storing under `dir`, with its `mqtt {}` block.
async fn start_from_file(dir: &std::path::Path, conf: &str) -> Broker {
    let path = dir.join("m.conf");
    let text = format!("jetstream {{ store_dir: {:?} }}\n{conf}", dir.join("store"));
    std::fs::write(&path, text).unwrap();
    let opts = junction::config::load_options(&path).unwrap();
    let mqtt_opts = opts.mqtt.clone().expect("an mqtt block");
    let server = common::start(opts).await;
    let state = std::sync::Arc::default();
    let mqtt = junction::mqtt::start(server.server.clone(), &mqtt_opts, std::sync::Arc::clone(&state))
        .await
        .unwrap();
    Broker { server, mqtt, state }
}

/// A broker with JetStream in `dir` and MQTT on a random local port, with
/// the other `mqtt {}` options of `opts`.
async fn start_with(dir: &std::path::Path, opts: junction::options::MqttOptions) -> Broker {
    let server = common::start(junction::Options {
        jetstream: true,
        store_dir: Some(dir.to_path_buf()),
        ..junction::Options::default()
    })
    .await;
    let opts = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..opts
    };
    let state = std::sync::Arc::default();
    let mqtt = junction::mqtt::start(server.server.clone(), &opts, std::sync::Arc::clone(&state))
        .await
        .unwrap();
    Broker { server, mqtt, state }
}

/// An MQTT 3.1.1 client whose events arrive on a channel.
struct Client {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Incoming>,
    /// The event loop; aborting it drops the socket without DISCONNECT.
    task: tokio::task::JoinHandle<()>,
}

fn options(broker: &Broker, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", broker.mqtt.port());
    o.set_keep_alive(Duration::from_secs(30));
    o
}

fn spawn(client: AsyncClient, mut eventloop: EventLoop) -> Client {
    let (tx, events) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(i)) => {
                    if tx.send(i).is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(_) => return,
            }
        }
    });
    Client { client, events, task }
}

async fn connect_with(o: MqttOptions) -> Client {
    connect_present(o).await.0
}

/// Connects; also says whether the server had a session for the client.
async fn connect_present(o: MqttOptions) -> (Client, bool) {
    let (client, eventloop) = AsyncClient::new(o, 100);
    let mut c = spawn(client, eventloop);
    match c.next_event().await {
        Incoming::ConnAck(a) => {
            assert_eq!(a.code, rumqttc::ConnectReturnCode::Success);
            (c, a.session_present)
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

async fn connect(broker: &Broker, id: &str) -> Client {
    connect_with(options(broker, id)).await
}

impl Client {
    async fn next_event(&mut self) -> Incoming {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("an MQTT event in time")
            .expect("the event loop is running")
    }

    /// The next PUBLISH, skipping acks and pings.
    async fn next_publish(&mut self) -> rumqttc::Publish {
        loop {
            if let Incoming::Publish(p) = self.next_event().await {
                return p;
            }
        }
    }

    /// Nothing published to this client for `wait`.
    async fn no_publish(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return,
                Ok(Some(Incoming::Publish(p))) => panic!("unexpected {p:?}"),
                Ok(Some(_)) => {}
                Ok(None) => return,
            }
        }
    }

    async fn subscribe(&mut self, filter: &str, qos: QoS) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client.subscribe(filter, qos).await.unwrap();
        loop {
            if let Incoming::SubAck(a) = self.next_event().await {
                return a.return_codes;
            }
        }
    }

    async fn publish(&self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
        self.client
            .publish(topic, qos, retain, payload.to_vec())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn mqtt_and_nats_share_one_subject_space() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
    let mut from_mqtt = nats.subscribe("sensors.kitchen.temp").await.unwrap();
    nats.flush().await.unwrap();
    let mut device = connect(&broker, "sensor-1").await;
    device
        .publish("sensors/kitchen/temp", QoS::AtMostOnce, false, b"21.5")
        .await;
    let m = tokio::time::timeout(Duration::from_secs(5), from_mqtt.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"21.5");
    // And back: a NATS publish reaches an MQTT wildcard subscription at QoS 0.
    let codes = device.subscribe("sensors/+/temp", QoS::AtLeastOnce).await;
    assert_eq!(codes, [rumqttc::SubscribeReasonCode::Success(QoS::AtLeastOnce)]);
    nats.publish("sensors.hall.temp", "19".into()).await.unwrap();
    nats.flush().await.unwrap();
    let p = device.next_publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos),
        ("sensors/hall/temp", &b"19"[..], QoS::AtMostOnce)
    );
    // Dots in topics and empty levels map as nats-server maps them.
    let mut odd = nats.subscribe("/.v1//0.x./").await.unwrap();
    nats.flush().await.unwrap();
    device.publish("/v1.0/x/", QoS::AtMostOnce, false, b"odd").await;
    let m = tokio::time::timeout(Duration::from_secs(5), odd.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"odd");
    let http = junction::monitor::start(broker.server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let varz = common::http_json(http, "/varz").await;
    assert_eq!(varz["mqtt"]["port"], broker.mqtt.port(), "{}", varz["mqtt"]);
    assert_eq!(varz["mqtt"]["host"], "127.0.0.1");
    let mut conns = common::http_json(http, "/connz").await;
    let list = conns["connections"].take();
    let mqtt: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["mqtt_client"] == "sensor-1")
        .collect();
    assert_eq!(mqtt.len(), 1, "{list}");
}

#[tokio::test]
async fn qos1_messages_are_stored_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let mut sub = connect(&broker, "sub-1").await;
    sub.subscribe("orders/#", QoS::AtLeastOnce).await;
    let mut publisher = connect(&broker, "pub-1").await;
    for i in 0..50u32 {
        publisher
            .publish(&format!("orders/{i}"), QoS::AtLeastOnce, false, &i.to_be_bytes())
            .await;
    }
    let mut acked = 0;
    while acked < 50 {
        if let Incoming::PubAck(_) = publisher.next_event().await {
            acked += 1;
        }
    }
    for i in 0..50u32 {
        let p = sub.next_publish().await;
        assert_eq!(
            (p.topic, p.qos, &p.payload[..]),
            (format!("orders/{i}"), QoS::AtLeastOnce, &i.to_be_bytes()[..])
        );
    }
    // Once; not a second time through the plain subscription.
    sub.no_publish(Duration::from_millis(300)).await;
    // The store is visible to JetStream tooling.
    let js = async_nats::jetstream::new(async_nats::connect(common::url(&broker.server)).await.unwrap());
    let names: Vec<String> = js.stream_names().map(|n| n.unwrap()).collect().await;
    for stream in ["$MQTT_msgs", "$MQTT_rmsgs", "$MQTT_sess"] {
        assert!(names.iter().any(|n| n == stream), "{names:?}");
    }
}

#[tokio::test]
async fn retained_messages_are_kept_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let mut publisher = connect(&broker, "lights").await;
    publisher
        .publish("home/light", QoS::AtLeastOnce, true, b"on")
        .await;
    publisher
        .publish("home/door", QoS::AtMostOnce, true, b"shut")
        .await;
    loop {
        if let Incoming::PubAck(_) = publisher.next_event().await {
            break;
        }
    }
    let mut late = connect(&broker, "late").await;
    late.subscribe("home/#", QoS::AtLeastOnce).await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let p = late.next_publish().await;
        assert!(p.retain, "{p:?}");
        got.push((p.topic, p.payload.to_vec(), p.qos));
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("home/door".to_string(), b"shut".to_vec(), QoS::AtMostOnce),
            ("home/light".to_string(), b"on".to_vec(), QoS::AtLeastOnce)
        ]
    );
    // A live subscriber gets a new retained message without the flag.
    publisher
        .publish("home/light", QoS::AtMostOnce, true, b"off")
        .await;
    let p = late.next_publish().await;
    assert_eq!((&p.payload[..], p.retain), (&b"off"[..], false));
    // An empty retained message clears it.
    publisher.publish("home/light", QoS::AtMostOnce, true, b"").await;
    let _ = late.next_publish().await;
    let mut later = connect(&broker, "later").await;
    later.subscribe("home/light", QoS::AtMostOnce).await;
    later.no_publish(Duration::from_millis(300)).await;
    // `$` topics are not matched by a leading wildcard.
    publisher
        .publish("$internal/x", QoS::AtMostOnce, true, b"hidden")
        .await;
    let mut all = connect(&broker, "all").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    let p = all.next_publish().await;
    assert_eq!(p.topic, "home/door");
    all.no_publish(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_will_goes_out_on_a_dropped_connection_only() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let mut watcher = connect(&broker, "watcher").await;
    watcher.subscribe("status/#", QoS::AtLeastOnce).await;
    let with_will = |id: &str| {
        let mut o = options(&broker, id);
        o.set_last_will(rumqttc::LastWill::new(
            format!("status/{id}"),
            "gone",
            QoS::AtLeastOnce,
            true,
        ));
        o
    };
    // A clean DISCONNECT: no will.
    let polite = connect_with(with_will("polite")).await;
    polite.client.disconnect().await.unwrap();
    watcher.no_publish(Duration::from_millis(300)).await;
    // A dropped socket: the will, retained as asked.
    let rude = connect_with(with_will("rude")).await;
    rude.task.abort();
    let p = watcher.next_publish().await;
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("status/rude", &b"gone"[..]));
    let mut late = connect(&broker, "late").await;
    late.subscribe("status/rude", QoS::AtMostOnce).await;
    assert!(late.next_publish().await.retain);
}

#[tokio::test]
async fn persistent_sessions_keep_messages_while_away_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let persistent = |broker: &Broker| {
        let mut o = options(broker, "worker");
        o.set_clean_session(false);
        o
    };
    let (mut worker, present) = connect_present(persistent(&broker)).await;
    assert!(!present);
    worker.subscribe("jobs/#", QoS::AtLeastOnce).await;
    worker.client.disconnect().await.unwrap();
    let _ = worker.task.await;
    let mut boss = connect(&broker, "boss").await;
    for i in 0..5 {
        boss.publish(&format!("jobs/{i}"), QoS::AtLeastOnce, false, b"do it")
            .await;
    }
    let mut acked = 0;
    while acked < 5 {
        if let Incoming::PubAck(_) = boss.next_event().await {
            acked += 1;
        }
    }
    let (mut worker, present) = connect_present(persistent(&broker)).await;
    assert!(present, "the session was kept");
    for i in 0..5 {
        assert_eq!(worker.next_publish().await.topic, format!("jobs/{i}"));
    }
    worker.client.disconnect().await.unwrap();
    let _ = worker.task.await;
    // Queued while away, then the server restarts on the same store.
    for i in 5..8 {
        boss.publish(&format!("jobs/{i}"), QoS::AtLeastOnce, false, b"later")
            .await;
    }
    let mut acked = 0;
    while acked < 3 {
        if let Incoming::PubAck(_) = boss.next_event().await {
            acked += 1;
        }
    }
    boss.task.abort();
    broker.server.server.shutdown();
    broker.server.server.wait_closed(Duration::from_secs(5)).await;
    broker.server.wait().await;
    let broker = start_in(dir.path()).await;
    let (mut worker, present) = connect_present(persistent(&broker)).await;
    assert!(present, "the session survived the restart");
    for i in 5..8 {
        let p = worker.next_publish().await;
        assert_eq!((p.topic, &p.payload[..]), (format!("jobs/{i}"), &b"later"[..]));
    }
    // A clean session forgets it all.
    worker.client.disconnect().await.unwrap();
    let _ = worker.task.await;
    let mut o = persistent(&broker);
    o.set_clean_session(true);
    let (_clean, present) = connect_present(o).await;
    assert!(!present);
}

#[tokio::test]
async fn a_second_connection_with_the_same_id_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let mut first = connect(&broker, "twin").await;
    first.subscribe("t", QoS::AtMostOnce).await;
    let mut second = connect(&broker, "twin").await;
    // The first connection is closed by the server.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if first.events.recv().await.is_none() {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the first connection was not closed");
    second.subscribe("t", QoS::AtMostOnce).await;
    let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
    nats.publish("t", "hi".into()).await.unwrap();
    nats.flush().await.unwrap();
    assert_eq!(&second.next_publish().await.payload[..], b"hi");
    let twins = broker
        .server
        .server
        .clients()
        .iter()
        .filter(|c| c.mqtt_client().as_deref() == Some("twin"))
        .count();
    assert_eq!(twins, 1);
}

#[tokio::test]
async fn qos2_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let mut sub = connect(&broker, "q2-sub").await;
    assert_eq!(
        sub.subscribe("pay/#", QoS::ExactlyOnce).await,
        [rumqttc::SubscribeReasonCode::Success(QoS::ExactlyOnce)]
    );
    let mut publisher = connect(&broker, "q2-pub").await;
    for i in 0..20u8 {
        publisher.publish("pay/now", QoS::ExactlyOnce, false, &[i]).await;
    }
    let mut completed = 0;
    while completed < 20 {
        if let Incoming::PubComp(_) = publisher.next_event().await {
            completed += 1;
        }
    }
    for i in 0..20u8 {
        let p = sub.next_publish().await;
        assert_eq!((p.qos, &p.payload[..]), (QoS::ExactlyOnce, &[i][..]));
    }
    sub.no_publish(Duration::from_millis(500)).await;
}

mod raw {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const CONNECT_V311: &[u8] = b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02id";

    async fn open(broker: &Broker) -> TcpStream {
        TcpStream::connect(broker.mqtt).await.unwrap()
    }

    /// Everything the server sends until it closes the connection.
    async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .expect("the server closes the connection")
            .ok();
        out
    }

    async fn exchange(broker: &Broker, bytes: &[u8]) -> Vec<u8> {
        let mut s = open(broker).await;
        s.write_all(bytes).await.unwrap();
        read_to_close(&mut s).await
    }

    #[tokio::test]
    async fn connect_answers_and_refusals_in_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        // A healthy bystander that must keep being served throughout.
        let mut bystander = connect(&broker, "bystander").await;
        bystander.subscribe("still/here", QoS::AtMostOnce).await;

        let mut s = open(&broker).await;
        s.write_all(CONNECT_V311).await.unwrap();
        s.write_all(b"\xc0\x00").await.unwrap();
        let mut got = [0u8; 6];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(
            &got, b"\x20\x02\x00\x00\xd0\x00",
            "CONNACK accepted, then PINGRESP"
        );
        // A second CONNECT is a protocol violation: closed without an answer.
        s.write_all(CONNECT_V311).await.unwrap();
        assert_eq!(read_to_close(&mut s).await, b"");

        // Protocol level 3 (MQIsdp) and 6: return code 1.
        let v3 = b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02id";
        assert_eq!(exchange(&broker, v3).await, b"\x20\x02\x00\x01");
        let mut v6 = CONNECT_V311.to_vec();
        v6[8] = 6;
        assert_eq!(exchange(&broker, &v6).await, b"\x20\x02\x00\x01");
        // An empty client id without a clean session: return code 2.
        let empty = b"\x10\x0c\x00\x04MQTT\x04\x00\x00\x3c\x00\x00";
        assert_eq!(exchange(&broker, empty).await, b"\x20\x02\x00\x02");
        // With a clean session it is accepted.
        let mut s = open(&broker).await;
        s.write_all(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
            .await
            .unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x20\x02\x00\x00");
        // Packets before CONNECT, wrong fixed-header flags, a bad remaining
        // length, a reserved CONNECT flag: closed, nothing sent.
        assert_eq!(exchange(&broker, b"\xc0\x00").await, b"");
        let mut bad_flags = CONNECT_V311.to_vec();
        bad_flags.extend_from_slice(b"\x83\x08\x00\x01\x00\x03a/b\x00");
        assert_eq!(exchange(&broker, &bad_flags).await, b"\x20\x02\x00\x00");
        let mut bad_length = CONNECT_V311.to_vec();
        bad_length.extend_from_slice(b"\x30\xff\xff\xff\xff\x01");
        assert_eq!(exchange(&broker, &bad_length).await, b"\x20\x02\x00\x00");
        let mut reserved = CONNECT_V311.to_vec();
        reserved[9] = 0x03;
        assert_eq!(exchange(&broker, &reserved).await, b"");
        // A publish topic with a wildcard.
        let mut wildcard = CONNECT_V311.to_vec();
        wildcard.extend_from_slice(b"\x30\x05\x00\x03a/+");
        assert_eq!(exchange(&broker, &wildcard).await, b"\x20\x02\x00\x00");
        // Wrong credentials when the server needs none are still fine; the
        // bystander saw none of this.
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        nats.publish("still.here", "yes".into()).await.unwrap();
        nats.flush().await.unwrap();
        assert_eq!(&bystander.next_publish().await.payload[..], b"yes");
    }

    #[tokio::test]
    async fn keepalive_is_enforced_at_one_and_a_half_times() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let mut s = open(&broker).await;
        // Keep alive of 1 s.
        s.write_all(b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x01\x00\x02ka")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        assert_eq!(read_to_close(&mut s).await, b"\x20\x02\x00\x00");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(1400) && waited < Duration::from_millis(3000),
            "{waited:?}"
        );
    }

    /// The `mqtt { authorization {} }` block applies to MQTT clients only.
    #[tokio::test]
    async fn the_mqtt_blocks_own_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_from_file(
            dir.path(),
            "mqtt { listen: \"127.0.0.1:-1\", authorization { username: dev, password: pw } }\n",
        )
        .await;
        // No credentials, and a wrong password: return code 5.
        assert_eq!(exchange(&broker, CONNECT_V311).await, b"\x20\x02\x00\x05");
        let wrong = b"\x10\x19\x00\x04MQTT\x04\xc2\x00\x3c\x00\x02id\x00\x03dev\x00\x04nope";
        assert_eq!(exchange(&broker, wrong).await, b"\x20\x02\x00\x05");
        let mut o = options(&broker, "dev-client");
        o.set_credentials("dev", "pw");
        let mut c = connect_with(o).await;
        c.subscribe("ok", QoS::AtMostOnce).await;
        // NATS clients are not asked for them.
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        nats.publish("ok", "fine".into()).await.unwrap();
        nats.flush().await.unwrap();
        assert_eq!(&c.next_publish().await.payload[..], b"fine");
    }

    #[tokio::test]
    async fn credentials_map_to_users_and_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_from_file(dir.path(), "accounts { IOT { jetstream: enabled, users: [{user: dev, password: secret}] }, OPS { jetstream: enabled, users: [{user: ops, password: pw}] } }\nmqtt { listen: \"127.0.0.1:-1\" }\n").await;
        // Bad password: return code 5 (not authorized), as nats-server answers.
        let bad = b"\x10\x21\x00\x04MQTT\x04\xc2\x00\x3c\x00\x02id\x00\x03dev\x00\x0cwrong-secret";
        assert_eq!(exchange(&broker, bad).await, b"\x20\x02\x00\x05");
        let mut o = options(&broker, "meter");
        o.set_credentials("dev", "secret");
        let mut meter = connect_with(o).await;
        meter.subscribe("m", QoS::AtMostOnce).await;
        // Only the IOT account sees what IOT publishes.
        let ops = async_nats::ConnectOptions::with_user_and_password("ops".into(), "pw".into())
            .connect(common::url(&broker.server))
            .await
            .unwrap();
        let dev = async_nats::ConnectOptions::with_user_and_password("dev".into(), "secret".into())
            .connect(common::url(&broker.server))
            .await
            .unwrap();
        ops.publish("m", "from ops".into()).await.unwrap();
        ops.flush().await.unwrap();
        dev.publish("m", "from dev".into()).await.unwrap();
        dev.flush().await.unwrap();
        assert_eq!(&meter.next_publish().await.payload[..], b"from dev");
        meter.no_publish(Duration::from_millis(300)).await;
    }
}

mod websocket {
    use super::*;
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as Frame;

    type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

    async fn read_bytes(ws: &mut Ws, want: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < want {
            let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .unwrap();
            if let Frame::Binary(b) = frame {
                out.extend_from_slice(&b);
            }
        }
        out
    }

    #[tokio::test]
    async fn mqtt_over_websocket_by_subprotocol_and_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let ws_addr = junction::websocket::start(
            broker.server.server.clone(),
            &junction::options::WebsocketOptions {
                host: "127.0.0.1".into(),
                port: 0,
                ..Default::default()
            },
            Some(broker.state.clone()),
        )
        .await
        .unwrap();
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        for (path, subprotocol) in [("/", true), ("/mqtt", false)] {
            let mut req = format!("ws://{ws_addr}{path}").into_client_request().unwrap();
            if subprotocol {
                req.headers_mut()
                    .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
            }
            let (mut ws, answer) = tokio_tungstenite::connect_async(req).await.unwrap();
            if subprotocol {
                assert_eq!(answer.headers()["sec-websocket-protocol"], "mqtt");
            }
            // CONNECT split over two frames, then SUBSCRIBE `ws/+` at QoS 0.
            ws.send(Frame::Binary(b"\x10\x0e\x00\x04MQTT"[..].into()))
                .await
                .unwrap();
            ws.send(Frame::Binary(b"\x04\x02\x00\x3c\x00\x02ws"[..].into()))
                .await
                .unwrap();
            assert_eq!(read_bytes(&mut ws, 4).await, b"\x20\x02\x00\x00");
            ws.send(Frame::Binary(b"\x82\x09\x00\x07\x00\x04ws/+\x00"[..].into()))
                .await
                .unwrap();
            assert_eq!(read_bytes(&mut ws, 5).await, b"\x90\x03\x00\x07\x00");
            nats.publish("ws.in", "hello".into()).await.unwrap();
            nats.flush().await.unwrap();
            assert_eq!(read_bytes(&mut ws, 14).await, b"\x30\x0c\x00\x05ws/inhello");
            // And a PUBLISH from the browser reaches NATS.
            let mut sub = nats.subscribe("from.browser").await.unwrap();
            nats.flush().await.unwrap();
            ws.send(Frame::Binary(b"\x30\x10\x00\x0cfrom/browserhi"[..].into()))
                .await
                .unwrap();
            let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&m.payload[..], b"hi");
            ws.send(Frame::Binary(b"\xe0\x00"[..].into())).await.unwrap();
        }
    }
}

mod v5 {
    use super::*;
    use bytes::Bytes;
    use rumqttc::v5::mqttbytes::v5::{ConnAck, Filter, Packet, PublishProperties, SubscribeProperties};
    use rumqttc::v5::mqttbytes::QoS as Q;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};

    struct C5 {
        client: AsyncClient,
        events: mpsc::UnboundedReceiver<Packet>,
        task: tokio::task::JoinHandle<()>,
    }

    fn opts(broker: &Broker, id: &str) -> MqttOptions {
        let mut o = MqttOptions::new(id, "127.0.0.1", broker.mqtt.port());
        o.set_keep_alive(Duration::from_secs(30));
        o
    }

    async fn connect5(o: MqttOptions) -> (C5, ConnAck) {
        let (client, mut eventloop) = AsyncClient::new(o, 100);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok(e) = eventloop.poll().await {
                if let Event::Incoming(p) = e {
                    if tx.send(p).is_err() {
                        return;
                    }
                }
            }
        });
        let mut c = C5 { client, events, task };
        match c.next().await {
            Packet::ConnAck(a) => (c, a),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    impl C5 {
        async fn next(&mut self) -> Packet {
            tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .expect("an MQTT event in time")
                .expect("the event loop is running")
        }

        async fn next_publish(&mut self) -> rumqttc::v5::mqttbytes::v5::Publish {
            loop {
                if let Packet::Publish(p) = self.next().await {
                    return p;
                }
            }
        }

        async fn no_publish(&mut self, wait: Duration) {
            let deadline = tokio::time::Instant::now() + wait;
            while let Ok(Some(p)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
                if let Packet::Publish(p) = p {
                    panic!("unexpected {p:?}");
                }
            }
        }

        async fn subscribe(&mut self, filter: Filter, id: Option<usize>) {
            let props = SubscribeProperties {
                id,
                user_properties: Vec::new(),
            };
            self.client
                .subscribe_many_with_properties(vec![filter], props)
                .await
                .unwrap();
            loop {
                if let Packet::SubAck(_) = self.next().await {
                    return;
                }
            }
        }
    }

    fn filter(path: &str, qos: Q) -> Filter {
        Filter::new(path, qos)
    }

    #[tokio::test]
    async fn user_properties_and_nats_headers_cross_over() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let (mut c, ack) = connect5(opts(&broker, "v5-props")).await;
        let props = ack.properties.unwrap();
        assert_eq!(props.shared_subscription_available, Some(1));
        assert!(props.topic_alias_max.unwrap() > 0);
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        let mut sub = nats.subscribe("t.a").await.unwrap();
        nats.flush().await.unwrap();
        let props = PublishProperties {
            user_properties: vec![("unit".into(), "C".into())],
            ..Default::default()
        };
        c.client
            .publish_with_properties("t/a", Q::AtMostOnce, false, "20", props)
            .await
            .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.headers.unwrap().get("unit").map(|v| v.as_str()), Some("C"));
        c.subscribe(filter("t/b", Q::AtMostOnce), Some(7)).await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("trace", "42");
        nats.publish_with_headers("t.b", headers, "x".into())
            .await
            .unwrap();
        nats.flush().await.unwrap();
        let p = c.next_publish().await;
        let props = p.properties.unwrap();
        assert_eq!(props.user_properties, [("trace".to_string(), "42".to_string())]);
        assert_eq!(props.subscription_identifiers, [7]);
    }

    /// Content type and payload format reach a QoS 1 subscriber through the
    /// store and show as headers to NATS; No Local holds at QoS 1 too.
    #[tokio::test]
    async fn forwarded_properties_and_no_local_at_qos1() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let (mut me, _) = connect5(opts(&broker, "v5-me")).await;
        let (mut other, _) = connect5(opts(&broker, "v5-other")).await;
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        let mut seen = nats.subscribe("p.>").await.unwrap();
        nats.flush().await.unwrap();
        let mut no_local = filter("p/#", Q::AtLeastOnce);
        no_local.nolocal = true;
        me.subscribe(no_local, Some(3)).await;
        other.subscribe(filter("p/#", Q::AtLeastOnce), None).await;
        let props = PublishProperties {
            payload_format_indicator: Some(1),
            content_type: Some("application/json".into()),
            message_expiry_interval: Some(60),
            ..Default::default()
        };
        me.client
            .publish_with_properties("p/mine", Q::AtLeastOnce, false, "{}", props.clone())
            .await
            .unwrap();
        other
            .client
            .publish_with_properties("p/theirs", Q::AtLeastOnce, false, "{}", props)
            .await
            .unwrap();
        // The other client gets both, with the properties.
        for _ in 0..2 {
            let p = other.next_publish().await;
            let got = p.properties.unwrap();
            assert_eq!(got.payload_format_indicator, Some(1));
            assert_eq!(got.content_type.as_deref(), Some("application/json"));
            assert!(got.message_expiry_interval.is_some_and(|s| s > 0 && s <= 60));
        }
        // Mine only theirs: No Local skips my own QoS 1 message.
        let p = me.next_publish().await;
        assert_eq!(&p.topic[..], b"p/theirs");
        assert_eq!(p.properties.unwrap().subscription_identifiers, [3]);
        me.no_publish(Duration::from_millis(500)).await;
        // NATS sees them as headers.
        let m = tokio::time::timeout(Duration::from_secs(5), seen.next())
            .await
            .unwrap()
            .unwrap();
        let headers = m.headers.unwrap();
        assert_eq!(
            headers.get("Nmqtt-Content-Type").map(|v| v.as_str()),
            Some("application/json")
        );
        assert_eq!(headers.get("Nmqtt-Payload-Format").map(|v| v.as_str()), Some("1"));
    }

    #[tokio::test]
    async fn an_mqtt5_client_calls_a_nats_service_and_answers_nats_requests() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        // A NATS service.
        let mut service = nats.subscribe("svc.time").await.unwrap();
        let responder = nats.clone();
        tokio::spawn(async move {
            while let Some(req) = service.next().await {
                if let Some(reply) = req.reply {
                    responder.publish(reply, "noon".into()).await.unwrap();
                }
            }
        });
        nats.flush().await.unwrap();
        let (mut c, _) = connect5(opts(&broker, "v5-rr")).await;
        c.subscribe(filter("replies/me", Q::AtLeastOnce), None).await;
        let props = PublishProperties {
            response_topic: Some("replies/me".into()),
            correlation_data: Some(Bytes::from_static(b"req-1")),
            ..Default::default()
        };
        c.client
            .publish_with_properties("svc/time", Q::AtMostOnce, false, "now?", props)
            .await
            .unwrap();
        let p = c.next_publish().await;
        assert_eq!((&p.topic[..], &p.payload[..]), (&b"replies/me"[..], &b"noon"[..]));
        assert_eq!(
            p.properties.unwrap().correlation_data.as_deref(),
            Some(&b"req-1"[..])
        );
        // The other way: a NATS request answered by the MQTT 5 client.
        c.subscribe(filter("ask/+", Q::AtMostOnce), None).await;
        let asker = nats.clone();
        let request = tokio::spawn(async move { asker.request("ask.weather", "?".into()).await });
        let p = c.next_publish().await;
        let topic = p.properties.unwrap().response_topic.expect("a response topic");
        c.client
            .publish(topic, Q::AtMostOnce, false, "sunny")
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), request)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(&answer.payload[..], b"sunny");
    }

    #[tokio::test]
    async fn a_qos1_request_keeps_its_response_topic_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let (mut responder, _) = connect5(opts(&broker, "responder")).await;
        responder.subscribe(filter("svc2/#", Q::AtLeastOnce), None).await;
        let (mut requester, _) = connect5(opts(&broker, "requester")).await;
        requester.subscribe(filter("resp/r", Q::AtLeastOnce), None).await;
        let props = PublishProperties {
            response_topic: Some("resp/r".into()),
            correlation_data: Some(Bytes::from_static(b"c9")),
            ..Default::default()
        };
        requester
            .client
            .publish_with_properties("svc2/x", Q::AtLeastOnce, false, "q", props)
            .await
            .unwrap();
        let req = responder.next_publish().await;
        assert_eq!(req.qos, Q::AtLeastOnce);
        let props = req.properties.unwrap();
        let topic = props.response_topic.expect("a response topic");
        assert_eq!(props.correlation_data.as_deref(), Some(&b"c9"[..]));
        let answer = PublishProperties {
            correlation_data: props.correlation_data.clone(),
            ..Default::default()
        };
        responder
            .client
            .publish_with_properties(topic, Q::AtLeastOnce, false, "a", answer)
            .await
            .unwrap();
        let p = requester.next_publish().await;
        assert_eq!((&p.topic[..], &p.payload[..]), (&b"resp/r"[..], &b"a"[..]));
        assert_eq!(
            p.properties.unwrap().correlation_data.as_deref(),
            Some(&b"c9"[..])
        );
    }

    #[tokio::test]
    async fn shared_subscriptions_no_local_and_topic_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        let (mut a, _) = connect5(opts(&broker, "worker-a")).await;
        let (mut b, _) = connect5(opts(&broker, "worker-b")).await;
        a.subscribe(filter("$share/g/work/#", Q::AtMostOnce), None).await;
        b.subscribe(filter("$share/g/work/#", Q::AtMostOnce), None).await;
        for i in 0..40 {
            nats.publish(format!("work.{i}"), "job".into()).await.unwrap();
        }
        nats.flush().await.unwrap();
        let mut seen = std::collections::HashSet::new();
        let (mut from_a, mut from_b) = (0, 0);
        while seen.len() < 40 {
            tokio::select! {
                Some(Packet::Publish(p)) = a.events.recv() => { from_a += 1; assert!(seen.insert(p.topic)); }
                Some(Packet::Publish(p)) = b.events.recv() => { from_b += 1; assert!(seen.insert(p.topic)); }
                _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("only {} of 40", seen.len()),
            }
        }
        assert!(from_a > 0 && from_b > 0, "{from_a} / {from_b}");
        a.no_publish(Duration::from_millis(200)).await;
        b.no_publish(Duration::from_millis(200)).await;
        // No-local: a client does not get its own publications back.
        let mut own = filter("echo", Q::AtMostOnce);
        own.nolocal = true;
        a.subscribe(own, None).await;
        b.subscribe(filter("echo", Q::AtMostOnce), None).await;
        a.client
            .publish("echo", Q::AtMostOnce, false, "mine")
            .await
            .unwrap();
        assert_eq!(&b.next_publish().await.payload[..], b"mine");
        a.no_publish(Duration::from_millis(300)).await;
        // Topic aliases: the topic once, then the alias alone.
        let mut sub = nats.subscribe("long.topic.name").await.unwrap();
        nats.flush().await.unwrap();
        for (topic, body) in [("long/topic/name", "1"), ("", "2")] {
            let props = PublishProperties {
                topic_alias: Some(1),
                ..Default::default()
            };
            a.client
                .publish_with_properties(topic, Q::AtMostOnce, false, body, props)
                .await
                .unwrap();
        }
        for body in ["1", "2"] {
            let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&m.payload[..], body.as_bytes());
        }
    }

    #[tokio::test]
    async fn session_and_message_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let session = |id: &str, expiry: u32| {
            let mut o = opts(&broker, id);
            o.set_clean_start(false);
            let mut p = rumqttc::v5::mqttbytes::v5::ConnectProperties::new();
            p.session_expiry_interval = Some(expiry);
            o.set_connect_properties(p);
            o
        };
        // Session expiry 0: nothing kept after the connection ends.
        let (c, ack) = connect5(session("short", 0)).await;
        assert!(!ack.session_present);
        c.client.disconnect().await.unwrap();
        let _ = c.task.await;
        let (c, ack) = connect5(session("short", 0)).await;
        assert!(!ack.session_present);
        c.client.disconnect().await.unwrap();
        // A kept session; messages that expire while it is away are not sent.
        let (mut c, _) = connect5(session("long", 300)).await;
        c.subscribe(filter("alerts/#", Q::AtLeastOnce), None).await;
        c.client.disconnect().await.unwrap();
        let _ = c.task.await;
        let (publisher, _) = connect5(opts(&broker, "alerter")).await;
        for (topic, expiry) in [("alerts/stale", 1), ("alerts/fresh", 300)] {
            let props = PublishProperties {
                message_expiry_interval: Some(expiry),
                ..Default::default()
            };
            publisher
                .client
                .publish_with_properties(topic, Q::AtLeastOnce, false, "!", props)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let (mut c, ack) = connect5(session("long", 300)).await;
        assert!(ack.session_present);
        let p = c.next_publish().await;
        assert_eq!(&p.topic[..], b"alerts/fresh");
        let left = p.properties.unwrap().message_expiry_interval.unwrap();
        assert!((290..=300).contains(&left), "{left}");
        c.no_publish(Duration::from_millis(300)).await;
    }

    #[tokio::test]
    async fn enhanced_authentication_is_refused_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let mut s = tokio::net::TcpStream::connect(broker.mqtt).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // MQTT 5 CONNECT with an authentication method "SCRAM".
        s.write_all(b"\x10\x17\x00\x04MQTT\x05\x02\x00\x3c\x08\x15\x00\x05SCRAM\x00\x02id")
            .await
            .unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out, b"\x20\x03\x00\x8c\x00");
    }

    #[tokio::test]
    async fn retain_as_published_keeps_the_publishers_flag_on_live_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let (mut keep, _) = connect5(opts(&broker, "rap-on")).await;
        let (mut plain, _) = connect5(opts(&broker, "rap-off")).await;
        for qos in [Q::AtMostOnce, Q::AtLeastOnce] {
            let mut f = filter("dev/#", qos);
            f.preserve_retain = true;
            keep.subscribe(f, None).await;
            plain.subscribe(filter("dev/#", qos), None).await;
            let (publisher, _) = connect5(opts(&broker, "rap-pub")).await;
            for (topic, retain) in [("dev/a", true), ("dev/b", false)] {
                publisher.client.publish(topic, qos, retain, "v").await.unwrap();
                let got = keep.next_publish().await;
                assert_eq!(
                    (&got.topic[..], got.retain),
                    (topic.as_bytes(), retain),
                    "{qos:?}"
                );
                let got = plain.next_publish().await;
                assert_eq!((&got.topic[..], got.retain), (topic.as_bytes(), false), "{qos:?}");
            }
            publisher.client.disconnect().await.unwrap();
            keep.client.unsubscribe("dev/#").await.unwrap();
            plain.client.unsubscribe("dev/#").await.unwrap();
            // Clear the retained message before the next round.
            let (clear, _) = connect5(opts(&broker, "rap-clear")).await;
            clear
                .client
                .publish("dev/a", Q::AtLeastOnce, true, "")
                .await
                .unwrap();
            clear.client.disconnect().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), keep.events.recv()).await
            {
            }
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), plain.events.recv()).await
            {
            }
        }
    }

    /// The receive maximum bounds unacknowledged QoS 1 messages over all of a
    /// client's subscriptions; the rest wait, in order, and nothing is lost.
    #[tokio::test]
    async fn the_receive_maximum_holds_back_deliveries_per_connection() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let mut o = opts(&broker, "slow-device");
        o.set_manual_acks(true);
        o.set_receive_maximum(Some(2));
        let (mut c, _) = connect5(o).await;
        c.subscribe(filter("a/#", Q::AtLeastOnce), None).await;
        c.subscribe(filter("b/#", Q::AtLeastOnce), None).await;
        let (publisher, _) = connect5(opts(&broker, "busy-publisher")).await;
        for i in 0..6 {
            let topic = if i % 2 == 0 { "a/x" } else { "b/x" };
            publisher
                .client
                .publish(topic, Q::AtLeastOnce, false, i.to_string())
                .await
                .unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 6 {
            let first = c.next_publish().await;
            let second = c.next_publish().await;
            // Two out, none more until one is acknowledged.
            c.no_publish(Duration::from_millis(300)).await;
            for p in [first, second] {
                got.push(String::from_utf8(p.payload.to_vec()).unwrap());
                c.client.ack(&p).await.unwrap();
            }
        }
        got.sort();
        assert_eq!(got, ["0", "1", "2", "3", "4", "5"]);
    }

    /// A will with a delay goes out after it, and not at all when the client
    /// comes back in time.
    #[tokio::test]
    async fn the_will_delay_interval() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        let (mut watcher, _) = connect5(opts(&broker, "will-watcher")).await;
        watcher.subscribe(filter("gone/#", Q::AtMostOnce), None).await;
        let with_will = |id: &str| {
            let mut o = opts(&broker, id);
            o.set_clean_start(false);
            let mut p = rumqttc::v5::mqttbytes::v5::ConnectProperties::new();
            p.session_expiry_interval = Some(60);
            o.set_connect_properties(p);
            let props = rumqttc::v5::mqttbytes::v5::LastWillProperties {
                delay_interval: Some(2),
                payload_format_indicator: None,
                message_expiry_interval: None,
                content_type: None,
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            };
            o.set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                format!("gone/{id}"),
                "bye",
                Q::AtMostOnce,
                false,
                Some(props),
            ));
            o
        };
        // Dropped, and not back: the will comes after about two seconds.
        let (c, _) = connect5(with_will("lost")).await;
        let dropped = std::time::Instant::now();
        c.task.abort();
        let p = watcher.next_publish().await;
        let waited = dropped.elapsed();
        assert_eq!(&p.topic[..], b"gone/lost");
        assert!(waited >= Duration::from_millis(1800), "{waited:?}");
        // Dropped, and back within the delay: no will.
        let (c, _) = connect5(with_will("flaky")).await;
        c.task.abort();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (back, _) = connect5(with_will("flaky")).await;
        watcher.no_publish(Duration::from_millis(2500)).await;
        back.client.disconnect().await.unwrap();
    }
}

mod qos2_state {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// CONNECT for client id `q2` with clean session off.
    const CONNECT_KEEP: &[u8] = b"\x10\x0e\x00\x04MQTT\x04\x00\x00\x3c\x00\x02q2";

    async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
            .await
            .expect("bytes in time")
            .unwrap();
        buf
    }

    async fn restart(broker: Broker, dir: &std::path::Path) -> Broker {
        broker.server.server.shutdown();
        broker.server.server.wait_closed(Duration::from_secs(5)).await;
        broker.server.wait().await;
        start_in(dir).await
    }

    #[tokio::test]
    async fn qos2_exchanges_resume_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut broker = start_in(dir.path()).await;
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        let mut seen = nats.subscribe("in2").await.unwrap();
        nats.flush().await.unwrap();

        // Incoming: PUBLISH QoS 2 (id 9) is delivered and answered with
        // PUBREC; the client goes before sending PUBREL.
        let mut s = TcpStream::connect(broker.mqtt).await.unwrap();
        s.write_all(CONNECT_KEEP).await.unwrap();
        assert_eq!(read_n(&mut s, 4).await, b"\x20\x02\x00\x00");
        // And subscribe to `out2` at QoS 2 for the outgoing half.
        s.write_all(b"\x82\x09\x00\x01\x00\x04out2\x02").await.unwrap();
        assert_eq!(read_n(&mut s, 5).await, b"\x90\x03\x00\x01\x02");
        s.write_all(b"\x34\x08\x00\x03in2\x00\x09x").await.unwrap();
        assert_eq!(read_n(&mut s, 4).await, b"\x50\x02\x00\x09");
        let m = tokio::time::timeout(Duration::from_secs(5), seen.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&m.payload[..], b"x");
        // Outgoing: a QoS 2 message to us, PUBREC from us, PUBREL from the
        // server, and we go before PUBCOMP.
        let (publisher, _) = {
            let mut p = connect(&broker, "q2-pub").await;
            p.publish("out2", QoS::ExactlyOnce, false, b"y").await;
            loop {
                if let Incoming::PubComp(_) = p.next_event().await {
                    break;
                }
            }
            (p, ())
        };
        let publish = read_n(&mut s, 11).await;
        assert_eq!((&publish[..8], publish[10]), (&b"\x34\x09\x00\x04out2"[..], b'y'));
        let pid = [publish[8], publish[9]];
        s.write_all(&[0x50, 0x02, pid[0], pid[1]]).await.unwrap();
        assert_eq!(read_n(&mut s, 4).await, [0x62, 0x02, pid[0], pid[1]]);
        drop(s);
        publisher.task.abort();
        drop(nats);

        broker = restart(broker, dir.path()).await;
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        let mut seen = nats.subscribe("in2").await.unwrap();
        nats.flush().await.unwrap();
        let mut s = TcpStream::connect(broker.mqtt).await.unwrap();
        s.write_all(CONNECT_KEEP).await.unwrap();
        // Session present, then the PUBREL still owed; the message is not
        // sent again.
        assert_eq!(read_n(&mut s, 4).await, b"\x20\x02\x01\x00");
        assert_eq!(read_n(&mut s, 4).await, [0x62, 0x02, pid[0], pid[1]]);
        s.write_all(&[0x70, 0x02, pid[0], pid[1]]).await.unwrap();
        // The resent incoming PUBLISH (DUP) is recognised: PUBREC, no
        // second delivery; then PUBREL gets PUBCOMP.
        s.write_all(b"\x3c\x08\x00\x03in2\x00\x09x").await.unwrap();
        assert_eq!(read_n(&mut s, 4).await, b"\x50\x02\x00\x09");
        s.write_all(b"\x62\x02\x00\x09").await.unwrap();
        assert_eq!(read_n(&mut s, 4).await, b"\x70\x02\x00\x09");
        assert!(
            tokio::time::timeout(Duration::from_millis(500), seen.next())
                .await
                .is_err(),
            "delivered twice"
        );
        // Nothing else is pending for the session.
        s.write_all(b"\xc0\x00").await.unwrap();
        assert_eq!(read_n(&mut s, 2).await, b"\xd0\x00");
    }
}

#[tokio::test]
async fn a_shared_qos1_subscription_outlives_one_members_unsubscribe() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let mut a = connect(&broker, "member-a").await;
    let mut b = connect(&broker, "member-b").await;
    a.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    b.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    a.client.unsubscribe("$share/g/jobs").await.unwrap();
    loop {
        if let Incoming::UnsubAck(_) = a.next_event().await {
            break;
        }
    }
    let mut publisher = connect(&broker, "boss").await;
    for i in 0..10u8 {
        publisher.publish("jobs", QoS::AtLeastOnce, false, &[i]).await;
    }
    let mut acked = 0;
    while acked < 10 {
        if let Incoming::PubAck(_) = publisher.next_event().await {
            acked += 1;
        }
    }
    for i in 0..10u8 {
        assert_eq!(&b.next_publish().await.payload[..], &[i]);
    }
    a.no_publish(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_clean_sessions_consumer_left_by_a_crash_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_in(dir.path()).await;
    let _c = connect(&broker, "first").await;
    let js = async_nats::jetstream::new(async_nats::connect(common::url(&broker.server)).await.unwrap());
    // What a crash leaves: a clean session's consumer that no session owns.
    js.get_stream("$MQTT_msgs")
        .await
        .unwrap()
        .create_consumer(async_nats::jetstream::consumer::push::Config {
            durable_name: Some("mqttc_left".into()),
            deliver_subject: "$MQTT.sub.mqttc_left".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    broker.server.server.shutdown();
    broker.server.server.wait_closed(Duration::from_secs(5)).await;
    broker.server.wait().await;
    let broker = start_in(dir.path()).await;
    let js = async_nats::jetstream::new(async_nats::connect(common::url(&broker.server)).await.unwrap());
    let names = |js: async_nats::jetstream::Context| async move {
        let s = js.get_stream("$MQTT_msgs").await.unwrap();
        s.consumer_names()
            .map(|n| n.unwrap())
            .collect::<Vec<String>>()
            .await
    };
    assert_eq!(
        names(js.clone()).await,
        ["mqttc_left"],
        "recovered as any consumer"
    );
    // The account's MQTT state opens with the first MQTT client.
    let _second = connect(&broker, "second").await;
    assert!(names(js).await.is_empty());
}

/// `consumer_inactive_threshold`: a persistent session's consumer lives as
/// long as its client is connected, and goes that long after it left.
#[tokio::test]
async fn the_consumer_inactive_threshold_counts_from_when_the_client_left() {
    let dir = tempfile::tempdir().unwrap();
    let opts = junction::options::MqttOptions {
        consumer_inactive_threshold: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let broker = start_with(dir.path(), opts).await;
    let js = async_nats::jetstream::new(async_nats::connect(common::url(&broker.server)).await.unwrap());
    let count = |js: async_nats::jetstream::Context| async move {
        let s = js.get_stream("$MQTT_msgs").await.unwrap();
        s.consumer_names().count().await
    };
    let mut o = options(&broker, "sleepy");
    o.set_clean_session(false);
    let mut c = connect_with(o).await;
    c.subscribe("t", QoS::AtLeastOnce).await;
    // Connected for longer than the threshold: still delivering.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(js.clone()).await, 1);
    let publisher = connect(&broker, "pub").await;
    publisher.publish("t", QoS::AtLeastOnce, false, b"x").await;
    assert_eq!(&c.next_publish().await.payload[..], b"x");
    c.client.disconnect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(count(js).await, 0);
}

/// MQTT 5 in exact bytes: the Receive Maximum the server announces and
/// enforces, and the topic aliases it sets towards clients that take them.
mod v5_raw {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// One whole packet: fixed header, remaining length, the rest.
    async fn read_packet(s: &mut TcpStream) -> Vec<u8> {
        let read = async {
            let mut packet = vec![s.read_u8().await?];
            let (mut len, mut shift) = (0usize, 0);
            loop {
                let b = s.read_u8().await?;
                packet.push(b);
                len |= ((b & 0x7f) as usize) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            let start = packet.len();
            packet.resize(start + len, 0);
            s.read_exact(&mut packet[start..]).await?;
            std::io::Result::Ok(packet)
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a packet in time")
            .expect("a packet")
    }

    /// An MQTT 5 CONNECT for client id `id` with CONNECT properties `props`
    /// (without their length); the CONNACK it gets.
    async fn connect5(broker: &Broker, id: &str, props: &[u8]) -> (TcpStream, Vec<u8>) {
        let mut body = b"\x00\x04MQTT\x05\x02\x00\x3c".to_vec();
        body.push(props.len() as u8);
        body.extend_from_slice(props);
        body.extend_from_slice(&(id.len() as u16).to_be_bytes());
        body.extend_from_slice(id.as_bytes());
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend_from_slice(&body);
        let mut s = TcpStream::connect(broker.mqtt).await.unwrap();
        s.write_all(&packet).await.unwrap();
        let connack = read_packet(&mut s).await;
        assert_eq!(
            &connack[..4],
            &[0x20, connack[1], 0x00, 0x00],
            "accepted: {connack:x?}"
        );
        (s, connack)
    }

    /// A QoS 2 PUBLISH to `a/b` with packet id `id`.
    fn qos2(id: u8) -> [u8; 11] {
        [0x34, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, id, 0x00, b'x']
    }

    #[tokio::test]
    async fn the_receive_maximum_is_announced_and_bounds_unacknowledged_qos2() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_with(
            dir.path(),
            junction::options::MqttOptions {
                receive_maximum: 2,
                ..Default::default()
            },
        )
        .await;
        let (mut s, connack) = connect5(&broker, "rm", b"").await;
        // Property 0x21, Receive Maximum, two bytes.
        assert!(
            connack.windows(3).any(|w| w == [0x21, 0x00, 0x02]),
            "{connack:x?}"
        );
        s.write_all(&[qos2(1), qos2(2)].concat()).await.unwrap();
        assert_eq!(read_packet(&mut s).await, b"\x50\x02\x00\x01");
        assert_eq!(read_packet(&mut s).await, b"\x50\x02\x00\x02");
        // PUBREL 1 settles one: a third is within the maximum again.
        s.write_all(b"\x62\x02\x00\x01").await.unwrap();
        assert_eq!(read_packet(&mut s).await, b"\x70\x02\x00\x01");
        s.write_all(&qos2(3)).await.unwrap();
        assert_eq!(read_packet(&mut s).await, b"\x50\x02\x00\x03");
        // 2 and 3 await PUBREL: a fourth is one too many.
        s.write_all(&qos2(4)).await.unwrap();
        assert_eq!(read_packet(&mut s).await, b"\xe0\x02\x93\x00");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"", "closed after DISCONNECT 0x93");
    }

    #[tokio::test]
    async fn topics_sent_again_go_as_aliases_to_clients_that_take_them() {
        let dir = tempfile::tempdir().unwrap();
        let broker = start_in(dir.path()).await;
        // Topic Alias Maximum 2 (property 0x22).
        let (mut s, _) = connect5(&broker, "ta", b"\x22\x00\x02").await;
        // SUBSCRIBE id 1, no properties, filter `#` at QoS 0.
        s.write_all(b"\x82\x07\x00\x01\x00\x00\x01#\x00").await.unwrap();
        assert_eq!(read_packet(&mut s).await, b"\x90\x04\x00\x01\x00\x00");
        // A client that sets no maximum gets full topics.
        let (mut plain, _) = connect5(&broker, "plain", b"").await;
        plain
            .write_all(b"\x82\x07\x00\x01\x00\x00\x01#\x00")
            .await
            .unwrap();
        read_packet(&mut plain).await;
        let nats = async_nats::connect(common::url(&broker.server)).await.unwrap();
        for subject in [
            "long.topic",
            "long.topic",
            "next.topic",
            "third.one",
            "a.b",
            "next.topic",
        ] {
            nats.publish(subject, "p".into()).await.unwrap();
        }
        nats.flush().await.unwrap();
        // Topic, alias property (0x23), payload.
        let alias = |topic: &[u8], n: u8| {
            let mut p = vec![0x30, (2 + topic.len() + 4 + 1) as u8];
            p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
            p.extend_from_slice(topic);
            p.extend_from_slice(&[0x03, 0x23, 0x00, n, b'p']);
            p
        };
        let full = |topic: &[u8]| {
            let mut p = vec![0x30, (2 + topic.len() + 1 + 1) as u8];
            p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
            p.extend_from_slice(topic);
            p.extend_from_slice(&[0x00, b'p']);
            p
        };
        assert_eq!(read_packet(&mut s).await, alias(b"long/topic", 1));
        assert_eq!(read_packet(&mut s).await, alias(b"", 1));
        assert_eq!(read_packet(&mut s).await, alias(b"next/topic", 2));
        // Both aliases are taken: in full. A short topic gains nothing.
        assert_eq!(read_packet(&mut s).await, full(b"third/one"));
        assert_eq!(read_packet(&mut s).await, full(b"a/b"));
        assert_eq!(read_packet(&mut s).await, alias(b"", 2));
        for topic in [
            "long/topic",
            "long/topic",
            "next/topic",
            "third/one",
            "a/b",
            "next/topic",
        ] {
            assert_eq!(read_packet(&mut plain).await, full(topic.as_bytes()));
        }
    }
}
