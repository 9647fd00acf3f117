//! Subject mappings (`mappings { }` at the top and in accounts) as a
//! nats-server user sees them: what a client publishes arrives mapped, for
//! NATS and MQTT publishers and for streams; permissions check the mapped
//! subject; reply subjects stay; weights split the traffic; `/accountz`
//! shows them; a reload replaces them.

mod common;

use std::time::Duration;

use common::Raw;
use futures::StreamExt;
use junction::Options;

/// Options from configuration text, as the server reads its file.
fn options(text: &str) -> Options {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mappings.conf");
    std::fs::write(&path, text).unwrap();
    junction::config::load_options(&path).unwrap_or_else(|e| panic!("{e}"))
}

const MAPPINGS: &str = r#"
mappings {
  foo: bar
  "orders.*.*": "o.$2.$1"
  "svc": "svc.v2"
  "gone": { destination: gone, weight: 0% }
  "split.*": [
    { destination: "left.$1", weight: 40% }
    { destination: "right.$1", weight: 60% }
  ]
}
"#;

/// `MSG` lines (subject and payload) read until `PONG`.
async fn messages_until_pong(raw: &mut Raw) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let line = raw.read_line().await;
        if line == "PONG\r\n" {
            return out;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts[0], "MSG", "{line}");
        let size: usize = parts.last().unwrap().parse().unwrap();
        let body = raw.read_exact(size + 2).await;
        out.push((
            parts[1].to_string(),
            String::from_utf8_lossy(&body[..size]).into_owned(),
        ));
    }
}

#[tokio::test]
async fn published_subjects_arrive_mapped() {
    let server = common::start(options(MAPPINGS)).await;
    let mut sub = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    sub.send("SUB > 1\r\nPING\r\n").await;
    sub.expect("PONG\r\n").await;
    let mut publisher = Raw::connect(server.addr).await;
    publisher.send("CONNECT {\"verbose\":true}\r\n").await;
    publisher.expect("+OK\r\n").await;
    publisher
        .send("PUB foo 1\r\na\r\nPUB orders.eu.new 1\r\nb\r\nPUB gone 1\r\nc\r\nPUB other 1\r\nd\r\nPING\r\n")
        .await;
    // Every publish is acknowledged, the one mapped nowhere too.
    for _ in 0..4 {
        publisher.expect("+OK\r\n").await;
    }
    publisher.expect("PONG\r\n").await;
    sub.send("PING\r\n").await;
    assert_eq!(
        messages_until_pong(&mut sub).await,
        [("bar", "a"), ("o.new.eu", "b"), ("other", "d")].map(|(s, p)| (s.to_string(), p.to_string()))
    );
}

/// The reply subject is not mapped: a request to a mapped subject gets its
/// answer; official clients see the mapped subject.
#[tokio::test]
async fn requests_to_a_mapped_subject_are_answered() {
    let server = common::start(options(MAPPINGS)).await;
    let url = common::url(&server);
    let service = async_nats::connect(&url).await.unwrap();
    let mut requests = service.subscribe("svc.v2").await.unwrap();
    service.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            let answer = format!("{} via {}", String::from_utf8_lossy(&m.payload), m.subject);
            service.publish(m.reply.unwrap(), answer.into()).await.unwrap();
        }
    });
    let client = async_nats::connect(&url).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), client.request("svc", "ping".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&reply.payload[..], b"ping via svc.v2");
}

/// Weighted destinations split what is published by their weights.
#[tokio::test]
async fn weights_split_the_traffic() {
    let server = common::start(options(MAPPINGS)).await;
    let client = async_nats::connect(common::url(&server)).await.unwrap();
    let mut left = client.subscribe("left.x").await.unwrap();
    let mut right = client.subscribe("right.x").await.unwrap();
    client.flush().await.unwrap();
    for _ in 0..1000 {
        client.publish("split.x", "m".into()).await.unwrap();
    }
    client.flush().await.unwrap();
    let mut counts = (0, 0);
    while counts.0 + counts.1 < 1000 {
        tokio::select! {
            Some(_) = left.next() => counts.0 += 1,
            Some(_) = right.next() => counts.1 += 1,
            _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("only {counts:?}"),
        }
    }
    assert!((300..500).contains(&counts.0), "{counts:?}");
}

/// As in nats-server, publish permissions apply to the mapped subject.
#[tokio::test]
async fn permissions_check_the_mapped_subject() {
    let server = common::start(options(&format!(
        "{MAPPINGS}\nauthorization {{ users: [\n  {{user: to_bar, password: p, permissions: {{publish: bar}}}}\n  {{user: to_foo, password: p, permissions: {{publish: foo}}}}\n] }}\n"
    )))
    .await;
    let mut allowed = Raw::handshake(server.addr, r#"{"verbose":false,"user":"to_bar","pass":"p"}"#).await;
    allowed.send("PUB foo 1\r\na\r\nPING\r\n").await;
    allowed.expect("PONG\r\n").await;
    let mut denied = Raw::handshake(server.addr, r#"{"verbose":false,"user":"to_foo","pass":"p"}"#).await;
    denied.send("PUB foo 1\r\na\r\nPING\r\n").await;
    assert_eq!(
        denied.read_line().await,
        "-ERR 'Permissions Violation for Publish to \"bar\"'\r\n"
    );
}

/// An account's mappings apply to its clients only; the top-level block is
/// the global account's. `/accountz` shows them with cumulative weights.
#[tokio::test]
async fn account_mappings_stay_in_their_account_and_accountz_shows_them() {
    let server = common::start(options(
        r#"
accounts {
  A: { users: [{user: a, password: p}], mappings: { "in.*": [{dest: "in.one.$1", weight: 30}] } }
  B: { users: [{user: b, password: p}] }
}
"#,
    ))
    .await;
    for (user, expect) in [("a", "in.one.x"), ("b", "in.x")] {
        let mut raw = Raw::handshake(
            server.addr,
            &format!(r#"{{"verbose":false,"user":"{user}","pass":"p"}}"#),
        )
        .await;
        raw.send("SUB in.> 1\r\nPING\r\n").await;
        raw.expect("PONG\r\n").await;
        // 30% go to in.one.x; publish until one does (or, for B, none may).
        let mut seen = Vec::new();
        for _ in 0..20 {
            raw.send("PUB in.x 1\r\nm\r\nPING\r\n").await;
            seen.extend(messages_until_pong(&mut raw).await.into_iter().map(|(s, _)| s));
        }
        assert!(seen.iter().any(|s| s == expect), "{user}: {seen:?}");
        if user == "b" {
            assert!(seen.iter().all(|s| s == "in.x"), "{seen:?}");
        }
    }
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let detail = common::http_json(http, "/accountz?acc=A").await["account_detail"].clone();
    assert_eq!(
        detail["mappings"],
        serde_json::json!({"in.*": [{"subject": "in.one.$1", "weight": 30}, {"subject": "in.$1", "weight": 100}]})
    );
    let keys: Vec<&String> = detail.as_object().unwrap().keys().collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert_eq!(at("mappings") + 1, at("exports"));
    let detail = common::http_json(http, "/accountz?acc=B").await["account_detail"].clone();
    assert!(detail.get("mappings").is_none(), "{detail}");
}

/// MQTT publishers are mapped too, and a stream stores the mapped subject.
#[tokio::test]
async fn mqtt_publishes_and_streams_see_the_mapped_subject() {
    let store = tempfile::tempdir().unwrap();
    let mut opts = options(MAPPINGS);
    opts.jetstream = true;
    opts.store_dir = Some(store.path().to_path_buf());
    let mqtt = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..Default::default()
    };
    opts.mqtt = Some(mqtt.clone());
    let server = common::start(opts).await;
    let mqtt_addr = junction::mqtt::start(server.server.clone(), &mqtt, Default::default())
        .await
        .unwrap();
    let nc = async_nats::connect(common::url(&server)).await.unwrap();
    let js = async_nats::jetstream::new(nc.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "BARS".into(),
        subjects: vec!["bar".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut sub = nc.subscribe("bar").await.unwrap();
    nc.flush().await.unwrap();
    // A NATS publish to `foo` is stored under `bar`.
    let ack = js
        .publish("foo", "from nats".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.stream, "BARS");

    let mut options = rumqttc::MqttOptions::new("mapper", "127.0.0.1", mqtt_addr.port());
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 10);
    client
        .publish("foo", rumqttc::QoS::AtLeastOnce, false, "from mqtt")
        .await
        .unwrap();
    let acked = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = events.poll().await.unwrap() {
                break;
            }
        }
    });
    acked.await.expect("PUBACK");
    for expected in ["from nats", "from mqtt"] {
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((m.subject.as_str(), &m.payload[..]), ("bar", expected.as_bytes()));
    }
    let mut stream = js.get_stream("BARS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 2);
}

/// A reload replaces the mappings for clients already connected.
#[tokio::test]
async fn a_reload_replaces_the_mappings() {
    let server = common::start(options("mappings { foo: bar }")).await;
    let mut sub = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    sub.send("SUB > 1\r\nPING\r\n").await;
    sub.expect("PONG\r\n").await;
    let mut publisher = Raw::handshake(server.addr, r#"{"verbose":false}"#).await;
    let round = |text: &'static str| {
        let mut new = (*server.server.opts()).clone();
        new.mappings = options(text).mappings;
        server.server.reload(new).unwrap();
    };
    for (conf, subject) in [
        ("mappings { foo: bar }", "bar"),
        ("mappings { foo: baz }", "baz"),
        ("", "foo"),
    ] {
        round(conf);
        publisher.send("PUB foo 1\r\nm\r\nPING\r\n").await;
        publisher.expect("PONG\r\n").await;
        sub.send("PING\r\n").await;
        assert_eq!(
            messages_until_pong(&mut sub).await,
            [(subject.to_string(), "m".to_string())],
            "{conf}"
        );
    }
}

/// A service request crossing accounts is mapped twice, once per account:
/// by the requester's mappings, then by the exporter's.
#[tokio::test]
async fn a_service_import_applies_the_exporters_mappings() {
    let server = common::start(options(
        r#"
accounts {
  S: { users: [{user: s, password: p}], exports: [{service: req}], mappings: { req: "req.v2" } }
  C: { users: [{user: c, password: p}], imports: [{service: {account: S, subject: req}}], mappings: { creq: req } }
}
"#,
    ))
    .await;
    let url = common::url(&server);
    let connect = |user: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), "p".into()).connect(url.clone())
    };
    let service = connect("s").await.unwrap();
    let mut requests = service.subscribe("req.v2").await.unwrap();
    service.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            let answer = format!("answered on {}", m.subject);
            service.publish(m.reply.unwrap(), answer.into()).await.unwrap();
        }
    });
    let client = connect("c").await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), client.request("creq", "q".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&reply.payload[..], b"answered on req.v2");
}
