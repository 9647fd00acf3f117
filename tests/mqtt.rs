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
}

async fn start_in(dir: &std::path::Path) -> Broker {
    let server = common::start(junction::Options {
        jetstream: true,
        store_dir: Some(dir.to_path_buf()),
        ..junction::Options::default()
    })
    .await;
    let opts = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..Default::default()
    };
    let mqtt = junction::mqtt::start(server.server.clone(), &opts).await.unwrap();
    Broker { server, mqtt }
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
    let mut conns = common::http_json(
        junction::monitor::start(broker.server.server.clone(), "127.0.0.1", 0)
            .await
            .unwrap(),
        "/connz",
    )
    .await;
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

    #[tokio::test]
    async fn credentials_map_to_users_and_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("m.conf");
        std::fs::write(
            &conf,
            format!(
                "jetstream {{ store_dir: {:?} }}\naccounts {{ IOT {{ jetstream: enabled, users: [{{user: dev, password: secret}}] }}, OPS {{ jetstream: enabled, users: [{{user: ops, password: pw}}] }} }}\nmqtt {{ listen: \"127.0.0.1:-1\" }}\n",
                dir.path().join("store")
            ),
        )
        .unwrap();
        let opts = junction::config::load_options(&conf).unwrap();
        let mqtt_opts = opts.mqtt.clone().unwrap();
        let server = common::start(opts).await;
        let mqtt = junction::mqtt::start(server.server.clone(), &mqtt_opts)
            .await
            .unwrap();
        let broker = Broker { server, mqtt };
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
