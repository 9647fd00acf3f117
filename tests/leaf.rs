//! Leaf nodes with real peers: Junction as a leaf of nats-server 2.15.1 and
//! 2.9.10 hubs, nats-server leaf nodes of a Junction hub, and Junction on
//! both sides; official clients on each side, exact delivery counts.

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use junction::options::{LeafNodeOptions, LeafRemote};
use junction::{Options, RunningServer};

/// A Junction hub: its leaf node port on a free loopback port.
async fn junction_hub(auth: Option<(&str, &str)>) -> RunningServer {
    let mut leaf = LeafNodeOptions {
        listen: Some(("127.0.0.1".into(), 0)),
        ..LeafNodeOptions::default()
    };
    if let Some((user, pass)) = auth {
        leaf.auth.username = Some(user.into());
        leaf.auth.password = Some(pass.into());
    }
    common::start(Options {
        leafnodes: Some(leaf),
        ..Options::default()
    })
    .await
}

/// A node of the Junction hub cluster `hubs`, with a leaf node port,
/// routed to `routes`.
fn hub_node(routes: Vec<String>) -> Options {
    Options {
        cluster: Some(junction::options::ClusterOptions {
            name: Some("hubs".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes,
            ..Default::default()
        }),
        leafnodes: Some(LeafNodeOptions {
            listen: Some(("127.0.0.1".into(), 0)),
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    }
}

fn leaf_url(hub: &RunningServer) -> String {
    format!("nats-leaf://{}", hub.leafnodes.as_ref().unwrap().addr.unwrap())
}

/// A Junction leaf of the hub at `url`.
async fn junction_leaf(url: &str) -> RunningServer {
    common::start(Options {
        leafnodes: Some(LeafNodeOptions {
            remotes: vec![LeafRemote {
                urls: vec![url.to_string()],
                ..LeafRemote::default()
            }],
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await
}

struct Reference {
    _process: common::Process,
    client: u16,
    leaf_port: u16,
}

/// A nats-server of `version`: a hub (with a leaf node port) or, given
/// `remote`, a leaf of that hub.
fn reference(version: &str, remote: Option<&str>) -> Reference {
    let client = common::free_port();
    let leaf_port = common::free_port();
    let leafnodes = match remote {
        Some(url) => format!("leafnodes {{ remotes: [ {{ url: \"{url}\" }} ] }}"),
        None => format!("leafnodes {{ listen: 127.0.0.1:{leaf_port} }}"),
    };
    let conf = format!("listen: 127.0.0.1:{client}\n{leafnodes}\n");
    Reference {
        _process: common::reference_with_config(version, &conf),
        client,
        leaf_port,
    }
}

async fn connect(url: &str) -> async_nats::Client {
    common::connect_retrying(url, async_nats::ConnectOptions::new).await
}

/// Waits until a message published on `from` reaches a subscriber on `to`
/// (the leaf connection is up and the interest has crossed it).
async fn linked(to: &async_nats::Client, from: &async_nats::Client) {
    let subject = format!("probe.{}", rand::random::<u32>());
    let mut sub = to.subscribe(subject.clone()).await.unwrap();
    to.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        from.publish(subject.clone(), "p".into()).await.unwrap();
        from.flush().await.unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the leaf connection never carried a message"
        );
    }
}

/// Messages, headers, requests and queue groups, both ways between a
/// client of the leaf and one of the hub.
async fn both_ways(leaf: &async_nats::Client, hub: &async_nats::Client) {
    linked(leaf, hub).await;
    linked(hub, leaf).await;
    // Hub to leaf, in order, once each, headers kept.
    let mut on_leaf = leaf.subscribe("down.>").await.unwrap();
    leaf.flush().await.unwrap();
    linked(leaf, hub).await;
    for i in 0..100 {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Seq", i.to_string().as_str());
        hub.publish_with_headers(format!("down.{i}"), headers, i.to_string().into())
            .await
            .unwrap();
    }
    hub.flush().await.unwrap();
    let got = common::take_exactly(&mut on_leaf, 100).await;
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.payload, i.to_string().as_bytes());
        assert_eq!(
            m.headers.as_ref().unwrap().get("Seq").unwrap().as_str(),
            i.to_string()
        );
    }
    // Leaf to hub, to a queue group of three there: each message to one.
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(hub.queue_subscribe("up.work", "workers".into()).await.unwrap());
    }
    hub.flush().await.unwrap();
    linked(hub, leaf).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    // The group's interest reaches the leaf after the probe's.
    loop {
        let reply = leaf.request("up.work", "first".into());
        if tokio::time::timeout(Duration::from_millis(100), reply)
            .await
            .is_err()
        {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    for i in 0..60 {
        leaf.publish("up.work", i.to_string().into()).await.unwrap();
    }
    leaf.flush().await.unwrap();
    let mut total = 0;
    for m in members.iter_mut() {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), m.next()).await {
            total += 1;
        }
    }
    // The probe request above may have reached a member too.
    assert!((60..=61).contains(&total), "{total} deliveries for 60 messages");
    // Requests both ways.
    for (asker, answerer, subject) in [(leaf, hub, "svc.hub"), (hub, leaf, "svc.leaf")] {
        let mut service = answerer.subscribe(subject).await.unwrap();
        answerer.flush().await.unwrap();
        let answering = answerer.clone();
        let task = tokio::spawn(async move {
            while let Some(m) = service.next().await {
                let body = format!("re: {}", String::from_utf8_lossy(&m.payload));
                answering.publish(m.reply.unwrap(), body.into()).await.unwrap();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let answer = loop {
            match tokio::time::timeout(Duration::from_millis(500), asker.request(subject, "q".into())).await {
                Ok(Ok(m)) => break m,
                _ => assert!(Instant::now() < deadline, "no answer on {subject}"),
            }
        };
        assert_eq!(answer.payload, "re: q".as_bytes());
        task.abort();
    }
}

#[tokio::test]
async fn a_junction_leaf_of_a_nats_server_2_15_hub() {
    let hub = reference("2.15", None);
    let leaf = junction_leaf(&format!("nats-leaf://127.0.0.1:{}", hub.leaf_port)).await;
    let on_hub = connect(&format!("nats://127.0.0.1:{}", hub.client)).await;
    let on_leaf = connect(&common::url(&leaf)).await;
    both_ways(&on_leaf, &on_hub).await;
    // The leaf's /leafz: one connection, dialled by it.
    let http = junction::monitor::start(leaf.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let leafz = common::http_json(http, "/leafz?subs=1").await;
    assert_eq!(leafz["leafnodes"], 1, "{leafz}");
    let l = &leafz["leafs"][0];
    assert_eq!(
        (l["is_spoke"].as_bool(), l["account"].as_str()),
        (Some(true), Some("$G"))
    );
    assert!(l["in_msgs"].as_u64().unwrap() >= 100, "{l}");
    let list = l["subscriptions_list"].as_array().unwrap();
    assert!(
        list.iter().any(|s| s.as_str().unwrap().starts_with("$LDS.")),
        "{l}"
    );
}

#[tokio::test]
async fn a_junction_leaf_of_a_nats_server_2_9_hub() {
    let hub = reference("2.9", None);
    let leaf = junction_leaf(&format!("nats-leaf://127.0.0.1:{}", hub.leaf_port)).await;
    let on_hub = connect(&format!("nats://127.0.0.1:{}", hub.client)).await;
    let on_leaf = connect(&common::url(&leaf)).await;
    both_ways(&on_leaf, &on_hub).await;
}

#[tokio::test]
async fn nats_server_leaf_nodes_of_a_junction_hub() {
    let hub = junction_hub(None).await;
    let on_hub = connect(&common::url(&hub)).await;
    let mut leafs = Vec::new();
    for version in ["2.15", "2.9"] {
        let leaf = reference(version, Some(&leaf_url(&hub)));
        let on_leaf = connect(&format!("nats://127.0.0.1:{}", leaf.client)).await;
        both_ways(&on_leaf, &on_hub).await;
        leafs.push(leaf);
    }
    // The hub's /leafz and /varz, with both leaf nodes linked.
    let http = junction::monitor::start(hub.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let leafz = common::http_json(http, "/leafz").await;
    assert_eq!(leafz["leafnodes"], 2, "{leafz}");
    assert_eq!(leafz["leafs"][0]["is_spoke"], false);
    let varz = common::http_json(http, "/varz").await;
    assert_eq!(varz["leafnodes"], 2);
    let port = hub.leafnodes.as_ref().unwrap().addr.unwrap().port();
    assert_eq!(varz["leaf"]["port"], port);
}

#[tokio::test]
async fn junction_on_both_sides_with_credentials() {
    let hub = junction_hub(Some(("leafy", "s3cret"))).await;
    let addr = hub.leafnodes.as_ref().unwrap().addr.unwrap();
    // Wrong credentials: the hub never links it.
    let refused = junction_leaf(&format!("nats-leaf://leafy:wrong@{addr}")).await;
    let leaf = junction_leaf(&format!("nats-leaf://leafy:s3cret@{addr}")).await;
    let on_hub = connect(&common::url(&hub)).await;
    let on_leaf = connect(&common::url(&leaf)).await;
    both_ways(&on_leaf, &on_hub).await;
    assert_eq!(hub.leafnodes.as_ref().unwrap().leafs().len(), 1);
    assert!(refused.leafnodes.as_ref().unwrap().leafs().len() <= 1);
    let on_refused = connect(&common::url(&refused)).await;
    let mut sub = on_hub.subscribe("never").await.unwrap();
    on_hub.flush().await.unwrap();
    on_refused.publish("never", "x".into()).await.unwrap();
    on_refused.flush().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(500), sub.next())
        .await
        .is_err());
}

/// A leaf that sends the hub's own loop detection subject back is in a
/// loop: the hub says so in nats-server's words and closes the connection.
#[tokio::test]
async fn a_loop_is_detected_by_the_hub_s_own_subject_coming_back() {
    let hub = junction_hub(None).await;
    let addr = hub.leafnodes.as_ref().unwrap().addr.unwrap();
    let mut raw = common::Raw::connect(addr).await;
    assert!(raw.info.contains("\"leafnode_urls\""), "{}", raw.info);
    raw.send("CONNECT {\"name\":\"raw\",\"server_id\":\"NRAW\",\"headers\":true}\r\n")
        .await;
    let lds = loop {
        let line = raw.read_line().await;
        if let Some(subject) = line.strip_prefix("LS+ $LDS.") {
            break format!("$LDS.{}", subject.trim_end());
        }
    };
    raw.send(&format!("LS+ {lds}\r\n")).await;
    let rest = raw.read_to_close().await;
    assert!(
        rest.contains(
            "-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'"
        ),
        "{rest}"
    );
}

/// A leaf node's CONNECT is checked against `leafnodes { authorization }`.
#[tokio::test]
async fn wrong_leaf_credentials_are_refused() {
    let hub = junction_hub(Some(("leafy", "s3cret"))).await;
    let addr = hub.leafnodes.as_ref().unwrap().addr.unwrap();
    let mut raw = common::Raw::connect(addr).await;
    raw.send("CONNECT {\"name\":\"raw\",\"user\":\"leafy\",\"pass\":\"nope\"}\r\n")
        .await;
    assert_eq!(raw.read_to_close().await, "-ERR 'Authorization Violation'\r\n");
}

/// The edge: MQTT devices on a Junction leaf node, services on a central
/// nats-server hub, talking both ways.
#[tokio::test]
async fn mqtt_devices_on_a_junction_leaf_talk_to_services_on_a_nats_server_hub() {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
    let hub = reference("2.15", None);
    let dir = tempfile::tempdir().unwrap();
    let edge = common::start(Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        leafnodes: Some(LeafNodeOptions {
            remotes: vec![LeafRemote {
                urls: vec![format!("nats-leaf://127.0.0.1:{}", hub.leaf_port)],
                ..LeafRemote::default()
            }],
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let mqtt_opts = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..Default::default()
    };
    let mqtt = junction::mqtt::start(edge.server.clone(), &mqtt_opts, std::sync::Arc::default())
        .await
        .unwrap();
    let on_hub = connect(&format!("nats://127.0.0.1:{}", hub.client)).await;
    let on_edge = connect(&common::url(&edge)).await;
    linked(&on_hub, &on_edge).await;
    let mut readings = on_hub.subscribe("sensors.>").await.unwrap();
    on_hub.flush().await.unwrap();
    linked(&on_hub, &on_edge).await;

    let (device, mut events) = AsyncClient::new(MqttOptions::new("sensor-1", "127.0.0.1", mqtt.port()), 64);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(i) = event {
                let _ = tx.send(i);
            }
        }
    });
    device.subscribe("commands/#", QoS::AtMostOnce).await.unwrap();
    while !matches!(rx.recv().await, Some(Incoming::SubAck(_))) {}
    // A reading from the device reaches the service on the hub.
    device
        .publish("sensors/temp", QoS::AtMostOnce, false, "21.5")
        .await
        .unwrap();
    let reading = tokio::time::timeout(Duration::from_secs(5), readings.next())
        .await
        .expect("the reading crossed the leaf connection")
        .unwrap();
    assert_eq!(
        (reading.subject.as_str(), &reading.payload[..]),
        ("sensors.temp", &b"21.5"[..])
    );
    // A command from the hub reaches the device, once its interest has.
    let deadline = Instant::now() + Duration::from_secs(10);
    let command = loop {
        on_hub.publish("commands.lamp", "on".into()).await.unwrap();
        on_hub.flush().await.unwrap();
        if let Ok(Some(Incoming::Publish(p))) =
            tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
        {
            break p;
        }
        assert!(Instant::now() < deadline, "the command never reached the device");
    };
    assert_eq!(
        (command.topic.as_str(), &command.payload[..]),
        ("commands/lamp", &b"on"[..])
    );
}

/// A leaf node of one node of a Junction cluster reaches clients of the
/// other node: the hub tells the leaf of its peers' interest, and the
/// peers of the leaf's.
#[tokio::test]
async fn a_leaf_of_one_cluster_node_reaches_the_other_nodes() {
    use junction::options::ClusterOptions;
    let clustered = |routes: Vec<String>, leaf_port: bool| Options {
        cluster: Some(ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes,
            ..ClusterOptions::default()
        }),
        leafnodes: leaf_port.then(|| LeafNodeOptions {
            listen: Some(("127.0.0.1".into(), 0)),
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    };
    let a = common::start(clustered(Vec::new(), true)).await;
    let seed = format!("nats://{}", a.cluster.as_ref().unwrap().addr);
    let b = common::start(clustered(vec![seed], false)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.cluster.as_ref().unwrap().linked_peers() != 1 {
        assert!(Instant::now() < deadline, "no route");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leaf = reference("2.15", Some(&leaf_url(&a)));
    let on_leaf = connect(&format!("nats://127.0.0.1:{}", leaf.client)).await;
    let on_b = connect(&common::url(&b)).await;
    both_ways(&on_leaf, &on_b).await;
}

/// A Junction leaf authenticates to a nats-server hub in operator mode with
/// a `.creds` file (user JWT, nonce signed with its seed), as edges connect
/// to a central NATS system; it is bound to the user's account there.
#[tokio::test]
async fn a_junction_leaf_with_credentials_joins_an_operator_mode_hub() {
    use junction::jwt::{self, AccountClaims, OperatorClaims, UserClaims};
    use nkeys::KeyPair;
    let operator = KeyPair::new_operator();
    let (system, app) = (KeyPair::new_account(), KeyPair::new_account());
    let mut op = OperatorClaims::new("op", operator.public_key());
    op.nats.system_account = system.public_key();
    let operator_jwt = jwt::encode(&op, &operator).unwrap();
    let system_jwt = jwt::encode(&AccountClaims::new("SYS", system.public_key()), &operator).unwrap();
    let app_jwt = jwt::encode(&AccountClaims::new("APP", app.public_key()), &operator).unwrap();
    let user = |name: &str| {
        let kp = KeyPair::new_user();
        let token = jwt::encode(&UserClaims::new(name, kp.public_key()), &app).unwrap();
        jwt::format_creds(&token, &kp.seed().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let operator_file = dir.path().join("op.jwt");
    std::fs::write(&operator_file, &operator_jwt).unwrap();
    let (client, leaf_port) = (common::free_port(), common::free_port());
    let conf = format!(
        "listen: 127.0.0.1:{client}\noperator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {}: \"{system_jwt}\"\n  {}: \"{app_jwt}\"\n}}\n\
         leafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n",
        operator_file.display(),
        system.public_key(),
        system.public_key(),
        app.public_key(),
    );
    let _hub = common::reference_with_config("2.15", &conf);
    let creds = dir.path().join("edge.creds");
    std::fs::write(&creds, user("edge")).unwrap();
    let edge = common::start(Options {
        leafnodes: Some(LeafNodeOptions {
            remotes: vec![LeafRemote {
                urls: vec![format!("nats-leaf://127.0.0.1:{leaf_port}")],
                credentials: Some(creds),
                ..LeafRemote::default()
            }],
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let service_creds = user("service");
    let on_hub = common::connect_retrying(&format!("nats://127.0.0.1:{client}"), || {
        async_nats::ConnectOptions::with_credentials(&service_creds).unwrap()
    })
    .await;
    let on_edge = connect(&common::url(&edge)).await;
    both_ways(&on_edge, &on_hub).await;
}

/// Leaf connections through a hub's WebSocket port (`ws://`, nats-server's
/// `/leafnode` path), both ways with nats-server 2.15.1.
#[tokio::test]
async fn leaf_nodes_over_websocket_both_ways() {
    use junction::options::WebsocketOptions;
    // A Junction leaf of a nats-server hub's WebSocket port.
    let (client, ws_port, leaf_port) = (common::free_port(), common::free_port(), common::free_port());
    let _hub = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{client}\nwebsocket {{ listen: \"127.0.0.1:{ws_port}\", no_tls: true }}\n\
             leafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n"
        ),
    );
    let edge = junction_leaf(&format!("ws://127.0.0.1:{ws_port}")).await;
    let on_hub = connect(&format!("nats://127.0.0.1:{client}")).await;
    let on_edge = connect(&common::url(&edge)).await;
    both_ways(&on_edge, &on_hub).await;

    // A nats-server leaf of a Junction hub's WebSocket port.
    let hub = junction_hub(None).await;
    let ws = junction::websocket::start(
        hub.server.clone(),
        &WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 0,
            no_tls: true,
            ..WebsocketOptions::default()
        },
        None,
    )
    .await
    .unwrap();
    let leaf = reference("2.15", Some(&format!("ws://{ws}")));
    let on_leaf = connect(&format!("nats://127.0.0.1:{}", leaf.client)).await;
    let on_hub = connect(&common::url(&hub)).await;
    both_ways(&on_leaf, &on_hub).await;
}

/// A leaf configured with one hub of a nats-server cluster learns the
/// others' leaf node ports from its INFO, and moves to one when its hub
/// goes away.
#[tokio::test]
async fn a_leaf_moves_to_another_hub_of_the_cluster_it_learnt_of() {
    let (c1, c2) = (common::free_port(), common::free_port());
    let (r1, r2) = (common::free_port(), common::free_port());
    let (l1, l2) = (common::free_port(), common::free_port());
    let hub = |name: &str, client: u16, route: u16, other: u16, leaf: u16| {
        common::reference_with_config(
            "2.15",
            &format!(
                "server_name: {name}\nlisten: 127.0.0.1:{client}\n\
                 cluster {{ name: hubs, listen: 127.0.0.1:{route}, routes: [\"nats://127.0.0.1:{other}\"] }}\n\
                 leafnodes {{ listen: 127.0.0.1:{leaf} }}\n"
            ),
        )
    };
    let hub1 = hub("hub1", c1, r1, r2, l1);
    let _hub2 = hub("hub2", c2, r2, r1, l2);
    let edge = junction_leaf(&format!("nats-leaf://127.0.0.1:{l1}")).await;
    let on_edge = connect(&common::url(&edge)).await;
    let on_hub2 = connect(&format!("nats://127.0.0.1:{c2}")).await;
    // Linked through hub1, and told of hub2's leaf port.
    linked(&on_edge, &on_hub2).await;
    let leafs = edge.leafnodes.as_ref().unwrap();
    assert_eq!(leafs.leafs()[0].remote_name(), Some("hub1"));
    // hub1 tells its leaf of hub2's port once their route is up (both
    // INFO and the leaf's interest crossed it above); a second's margin.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(hub1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if leafs
            .leafs()
            .first()
            .and_then(|l| l.remote_name().map(str::to_string))
            .as_deref()
            == Some("hub2")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the leaf never moved to hub2");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    linked(&on_edge, &on_hub2).await;
    linked(&on_hub2, &on_edge).await;
}

/// TLS leaf connections both ways with nats-server 2.15.1: the hub's INFO
/// in the clear, then TLS, the hub's certificate checked against the CA.
#[tokio::test]
async fn leaf_nodes_over_tls_both_ways() {
    let pki = common::pki::Pki::new();
    // A Junction leaf of a nats-server hub that requires TLS.
    let (client, leaf_port) = (common::free_port(), common::free_port());
    let _hub = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{client}\nleafnodes {{ listen: 127.0.0.1:{leaf_port}\n  \
             tls {{ cert_file: {:?}, key_file: {:?} }}\n}}\n",
            pki.path("server.pem"),
            pki.path("server-key.pem"),
        ),
    );
    let edge = common::start(Options {
        leafnodes: Some(LeafNodeOptions {
            remotes: vec![LeafRemote {
                urls: vec![format!("tls://localhost:{leaf_port}")],
                tls: Some(junction::tls::TlsOptions {
                    ca_file: Some(pki.path("ca.pem")),
                    ..Default::default()
                }),
                ..LeafRemote::default()
            }],
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let on_hub = connect(&format!("nats://127.0.0.1:{client}")).await;
    let on_edge = connect(&common::url(&edge)).await;
    both_ways(&on_edge, &on_hub).await;

    // A nats-server leaf of a Junction hub that requires TLS.
    let hub = common::start(Options {
        leafnodes: Some(LeafNodeOptions {
            listen: Some(("127.0.0.1".into(), 0)),
            tls: Some(pki.tls(false)),
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let port = hub.leafnodes.as_ref().unwrap().addr.unwrap().port();
    let leaf_client = common::free_port();
    let _leaf = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{leaf_client}\nleafnodes {{ remotes: [ {{ url: \"tls://localhost:{port}\", \
             tls {{ ca_file: {:?} }} }} ] }}\n",
            pki.path("ca.pem"),
        ),
    );
    let on_leaf = connect(&format!("nats://127.0.0.1:{leaf_client}")).await;
    let on_hub = connect(&common::url(&hub)).await;
    both_ways(&on_leaf, &on_hub).await;
}

/// A Junction hub cluster tells its leaf nodes of every node's leaf port:
/// a nats-server leaf configured with node A moves to node B when A stops.
#[tokio::test]
async fn a_nats_server_leaf_moves_to_another_node_of_a_junction_hub_cluster() {
    let a = common::start(hub_node(Vec::new())).await;
    let b = common::start(hub_node(vec![format!(
        "nats://{}",
        a.cluster.as_ref().unwrap().addr
    )]))
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    // Until A knows B's leaf port (B's route INFO, sent again once B's
    // leaf port is up).
    while !a
        .server
        .links()
        .unwrap()
        .peer_leaf_urls()
        .contains(&b.leafnodes.as_ref().unwrap().addr.unwrap().to_string())
    {
        assert!(Instant::now() < deadline, "A never learnt B's leaf port");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leaf = reference("2.15", Some(&leaf_url(&a)));
    let on_leaf = connect(&format!("nats://127.0.0.1:{}", leaf.client)).await;
    let on_b = connect(&common::url(&b)).await;
    linked(&on_leaf, &on_b).await;
    assert_eq!(a.leafnodes.as_ref().unwrap().leafs().len(), 1);
    a.server.shutdown();
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.leafnodes.as_ref().unwrap().leafs().is_empty() {
        assert!(Instant::now() < deadline, "the leaf never moved to B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    linked(&on_leaf, &on_b).await;
    linked(&on_b, &on_leaf).await;
}

/// A nats-server leaf connected to a Junction hub before the hub's cluster
/// grew hears of the new node's leaf port (an `INFO` with the new
/// `leafnode_urls`), and moves there when its hub stops.
#[tokio::test]
async fn a_connected_leaf_learns_of_a_hub_node_that_joined_later() {
    let a = common::start(hub_node(Vec::new())).await;
    let leaf = reference("2.15", Some(&leaf_url(&a)));
    let on_leaf = connect(&format!("nats://127.0.0.1:{}", leaf.client)).await;
    let on_a = connect(&common::url(&a)).await;
    linked(&on_leaf, &on_a).await;
    // B joins after the leaf connected.
    let b = common::start(hub_node(vec![format!(
        "nats://{}",
        a.cluster.as_ref().unwrap().addr
    )]))
    .await;
    let on_b = connect(&common::url(&b)).await;
    linked(&on_leaf, &on_b).await;
    // Give the INFO a moment, then stop A: the leaf moves to B.
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.server.shutdown();
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.leafnodes.as_ref().unwrap().leafs().is_empty() {
        assert!(Instant::now() < deadline, "the leaf never moved to B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    linked(&on_leaf, &on_b).await;
    linked(&on_b, &on_leaf).await;
}

/// `wss://` remotes: a Junction leaf of a nats-server 2.15.1 hub's
/// WebSocket port over TLS, and a nats-server leaf of a Junction hub's, the
/// hub's certificate checked against the CA both ways.
#[tokio::test]
async fn leaf_nodes_over_secure_websocket_both_ways() {
    use junction::options::{LeafNodeOptions, LeafRemote, WebsocketOptions};
    let pki = common::pki::Pki::new();
    let (client, ws_port, leaf_port) = (common::free_port(), common::free_port(), common::free_port());
    let _hub = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{client}\nwebsocket {{ listen: \"127.0.0.1:{ws_port}\"\n \
             tls {{ cert_file: {:?}, key_file: {:?} }} }}\nleafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n",
            pki.path("server.pem"),
            pki.path("server-key.pem"),
        ),
    );
    let edge = common::start(Options {
        leafnodes: Some(LeafNodeOptions {
            remotes: vec![LeafRemote {
                urls: vec![format!("wss://localhost:{ws_port}")],
                tls: Some(junction::tls::TlsOptions {
                    ca_file: Some(pki.path("ca.pem")),
                    ..Default::default()
                }),
                ..LeafRemote::default()
            }],
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let on_hub = connect(&format!("nats://127.0.0.1:{client}")).await;
    let on_edge = connect(&common::url(&edge)).await;
    both_ways(&on_edge, &on_hub).await;

    // A nats-server leaf of a Junction hub's WebSocket port over TLS.
    let hub = junction_hub(None).await;
    let ws = junction::websocket::start(
        hub.server.clone(),
        &WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 0,
            tls: Some(pki.tls(false)),
            ..WebsocketOptions::default()
        },
        None,
    )
    .await
    .unwrap();
    let leaf_client = common::free_port();
    let _leaf = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{leaf_client}\nleafnodes {{ remotes: [ {{ url: \"wss://localhost:{}\", tls {{ ca_file: {:?} }} }} ] }}\n",
            ws.port(),
            pki.path("ca.pem"),
        ),
    );
    let on_leaf = connect(&format!("nats://127.0.0.1:{leaf_client}")).await;
    let on_hub = connect(&common::url(&hub)).await;
    both_ways(&on_leaf, &on_hub).await;
}

/// An nkey-only remote: the Junction leaf signs the hub's nonce with its
/// user seed, and a nats-server 2.15.1 hub that requires that nkey takes
/// it; another seed is refused.
#[tokio::test]
async fn an_nkey_remote_joins_a_hub_that_requires_its_key() {
    use junction::options::{LeafNodeOptions, LeafRemote};
    let user = nkeys::KeyPair::new_user();
    let (client, leaf_port) = (common::free_port(), common::free_port());
    let _hub = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{client}\nleafnodes {{ listen: 127.0.0.1:{leaf_port}, authorization {{ nkey: {} }} }}\n",
            user.public_key()
        ),
    );
    let leaf_with = |seed: String| {
        common::start(Options {
            leafnodes: Some(LeafNodeOptions {
                remotes: vec![LeafRemote {
                    urls: vec![format!("nats-leaf://127.0.0.1:{leaf_port}")],
                    nkey: Some(seed),
                    ..LeafRemote::default()
                }],
                ..LeafNodeOptions::default()
            }),
            ..Options::default()
        })
    };
    let stranger = leaf_with(nkeys::KeyPair::new_user().seed().unwrap()).await;
    let edge = leaf_with(user.seed().unwrap()).await;
    let on_hub = connect(&format!("nats://127.0.0.1:{client}")).await;
    let on_edge = connect(&common::url(&edge)).await;
    both_ways(&on_edge, &on_hub).await;
    // Nothing reaches the stranger's clients.
    let on_stranger = connect(&common::url(&stranger)).await;
    let mut sub = on_stranger.subscribe("nkey.x").await.unwrap();
    on_stranger.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    on_hub.publish("nkey.x", "x".into()).await.unwrap();
    on_hub.flush().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(500), sub.next())
        .await
        .is_err());
}

/// A Junction hub's `authorization { users }`: each nats-server leaf binds
/// to the account its user names, and its traffic stays there.
#[tokio::test]
async fn hub_users_bind_leaf_nodes_to_their_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("hub.conf");
    std::fs::write(
        &conf,
        "accounts {\n  A: { users: [{user: a, password: a}] }\n  B: { users: [{user: b, password: b}] }\n}\n\
         leafnodes {\n  listen: \"127.0.0.1:-1\"\n  authorization { users: [\n    \
         {user: la, password: pa, account: A}\n    {user: lb, password: pb, account: B}\n  ] }\n}\n",
    )
    .unwrap();
    let hub = common::start(junction::config::load_options(&conf).unwrap()).await;
    let port = hub.leafnodes.as_ref().unwrap().addr.unwrap().port();
    let leaf_a = reference("2.15", Some(&format!("nats-leaf://la:pa@127.0.0.1:{port}")));
    let leaf_b = reference("2.15", Some(&format!("nats-leaf://lb:pb@127.0.0.1:{port}")));
    let wrong = reference("2.15", Some(&format!("nats-leaf://la:nope@127.0.0.1:{port}")));
    let on_hub = |user: &'static str| {
        let url = common::url(&hub);
        async move {
            common::connect_retrying(&url, || {
                async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
            })
            .await
        }
    };
    let (hub_a, hub_b) = (on_hub("a").await, on_hub("b").await);
    let on_leaf_a = connect(&format!("nats://127.0.0.1:{}", leaf_a.client)).await;
    let on_leaf_b = connect(&format!("nats://127.0.0.1:{}", leaf_b.client)).await;
    both_ways(&on_leaf_a, &hub_a).await;
    linked(&on_leaf_b, &hub_b).await;
    linked(&hub_b, &on_leaf_b).await;
    // What leaf A publishes reaches account A's clients only.
    let mut in_b = hub_b.subscribe("users.x").await.unwrap();
    let mut in_a = hub_a.subscribe("users.x").await.unwrap();
    hub_a.flush().await.unwrap();
    hub_b.flush().await.unwrap();
    linked(&hub_a, &on_leaf_a).await;
    on_leaf_a.publish("users.x", "from A".into()).await.unwrap();
    on_leaf_a.flush().await.unwrap();
    assert_eq!(common::take_exactly(&mut in_a, 1).await[0].payload, "from A");
    assert!(tokio::time::timeout(Duration::from_millis(300), in_b.next())
        .await
        .is_err());
    // Two leaf connections made it past CONNECT: the wrong password's
    // never does.
    let _ = wrong;
    let named = || {
        hub.leafnodes
            .as_ref()
            .unwrap()
            .leafs()
            .iter()
            .filter(|l| l.remote_name().is_some())
            .count()
    };
    assert_eq!(named(), 2);
}
