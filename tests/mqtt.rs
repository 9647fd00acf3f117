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
}

fn options(broker: &Broker, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", broker.mqtt.port());
    o.set_keep_alive(Duration::from_secs(30));
    o
}

fn spawn(client: AsyncClient, mut eventloop: EventLoop) -> Client {
    let (tx, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
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
    Client { client, events }
}

async fn connect_with(o: MqttOptions) -> Client {
    let (client, eventloop) = AsyncClient::new(o, 100);
    let mut c = spawn(client, eventloop);
    match c.next_event().await {
        Incoming::ConnAck(a) => assert_eq!(a.code, rumqttc::ConnectReturnCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    c
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
