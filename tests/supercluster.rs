//! A supercluster as users build it: JetStream in one cluster used from
//! another, and leaf nodes at the edge asking services and JetStream across
//! the gateways; Junction and nats-server 2.15.1 on either side, official
//! clients, every answer checked.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use junction::options::{GatewayOptions, LeafNodeOptions, LeafRemote};
use junction::{Options, RunningServer};

/// Gateway `name` on any port, dialling `remotes` (name, URL).
fn gateway(name: &str, remotes: &[(&str, String)]) -> GatewayOptions {
    common::gateway_options(name, 0, remotes)
}

/// A nats-server 2.15.1 of gateway `name` on `gw_port`, dialling `remote`
/// when given, with `more` configuration; returns its client port.
fn reference(name: &str, gw_port: u16, remote: Option<(&str, &str)>, more: &str) -> (common::Process, u16) {
    let client = common::free_port();
    let gateways = remote
        .map(|(n, u)| format!(", gateways: [ {{ name: {n}, url: \"{u}\" }} ]"))
        .unwrap_or_default();
    let conf = format!(
        "listen: 127.0.0.1:{client}\nserver_name: {name}1\ngateway {{ name: {name}, listen: 127.0.0.1:{gw_port}{gateways} }}\n{more}\n"
    );
    (common::reference_with_config("2.15", &conf), client)
}

/// A nats-server 2.15.1 with configuration `conf` on a client port picked
/// here, and a client of it.
async fn nats_server_with(conf: &str) -> (common::Process, async_nats::Client) {
    let client = common::free_port();
    let process = common::reference_with_config("2.15", &format!("listen: 127.0.0.1:{client}\n{conf}"));
    (process, connect(&format!("nats://127.0.0.1:{client}")).await)
}

async fn connect(url: &str) -> async_nats::Client {
    common::connect_retrying(url, async_nats::ConnectOptions::new).await
}

/// A Junction leaf node of the hub whose leaf port is `hub_leaf`.
async fn leaf_of(hub_leaf: &str) -> RunningServer {
    common::start(Options {
        leafnodes: Some(LeafNodeOptions {
            remotes: vec![LeafRemote {
                urls: vec![hub_leaf.to_string()],
                ..LeafRemote::default()
            }],
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await
}

/// Answers requests on `subject` with `name:` and the request.
async fn serve(client: &async_nats::Client, subject: &str, name: &'static str) {
    let mut requests = client.subscribe(subject.to_string()).await.unwrap();
    let answering = client.clone();
    tokio::spawn(async move {
        while let Some(m) = requests.next().await {
            if let Some(reply) = m.reply {
                let body = format!("{name}:{}", String::from_utf8_lossy(&m.payload));
                answering.publish(reply, body.into()).await.unwrap();
            }
        }
    });
    client.flush().await.unwrap();
}

/// Asks `subject` until answered (the interest has crossed), then 20 more
/// times: each request answered once, by `name`.
async fn ask(client: &async_nats::Client, subject: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let asked = client.request(subject.to_string(), "0".into());
        match tokio::time::timeout(Duration::from_millis(500), asked).await {
            Ok(Ok(m)) => {
                assert_eq!(&m.payload[..], format!("{name}:0").as_bytes());
                break;
            }
            other => assert!(Instant::now() < deadline, "{subject}: no answer: {other:?}"),
        }
    }
    for i in 1..=20 {
        let m = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(subject.to_string(), i.to_string().into()),
        )
        .await
        .expect("answered in time")
        .expect("answered");
        assert_eq!(&m.payload[..], format!("{name}:{i}").as_bytes());
    }
}

/// With JetStream reached through `client` (in `domain`, when given): a
/// stream, 50 messages stored with their acknowledgements, a pull consumer
/// that fetches and acks them all, a push consumer that gets them all.
async fn use_jetstream(client: &async_nats::Client, domain: Option<&str>, stream: &str) {
    let js = match domain {
        Some(domain) => jetstream::with_domain(client.clone(), domain),
        None => jetstream::new(client.clone()),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let created = loop {
        let config = jetstream::stream::Config {
            name: stream.to_string(),
            subjects: vec![format!("{stream}.>")],
            ..Default::default()
        };
        match tokio::time::timeout(Duration::from_secs(2), js.get_or_create_stream(config)).await {
            Ok(Ok(s)) => break s,
            other => assert!(Instant::now() < deadline, "stream {stream}: {other:?}"),
        }
    };
    for i in 0..50 {
        let ack = js
            .publish(format!("{stream}.{i}"), i.to_string().into())
            .await
            .expect("published")
            .await
            .expect("acknowledged");
        assert_eq!(ack.sequence, i + 1);
    }
    let consumer = created
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("worker".into()),
            ..Default::default()
        })
        .await
        .expect("consumer created");
    let mut messages = consumer.fetch().max_messages(50).messages().await.unwrap();
    let mut got = 0;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap_or_else(|_| panic!("{got} of 50 fetched in time"))
    {
        let m = m.unwrap();
        assert_eq!(m.payload, got.to_string().as_bytes());
        assert_eq!(m.subject.as_str(), format!("{stream}.{got}"));
        m.ack().await.unwrap();
        got += 1;
    }
    assert_eq!(got, 50);
    // A push consumer: its deliver subject subscribed where the client is;
    // the messages come under their stream subjects.
    let push = created
        .create_consumer(jetstream::consumer::push::Config {
            durable_name: Some("pusher".into()),
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await
        .expect("push consumer created");
    let mut messages = push.messages().await.unwrap();
    for i in 0..50 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap_or_else(|_| panic!("{i} of 50 pushed in time"))
            .unwrap()
            .unwrap();
        assert_eq!(m.subject.as_str(), format!("{stream}.{i}"));
        m.ack().await.unwrap();
    }
    let mut info = created.clone();
    assert_eq!(info.info().await.unwrap().state.messages, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_on_a_junction_node_used_from_a_nats_server_node_of_its_cluster() {
    // The nats-server node passes the requests and the deliveries on over
    // its route; deliveries travel under the reply, the stream subject in
    // the ack reply, as between nats-servers.
    let dir = tempfile::tempdir().unwrap();
    let j = common::start(Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        cluster: Some(junction::options::ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: 0,
            ..Default::default()
        }),
        ..Options::default()
    })
    .await;
    let (_n, on_n) = nats_server_with(&format!(
        "server_name: n1\ncluster {{ name: c1, listen: 127.0.0.1:{}, routes: [\"nats://{}\"] }}\n",
        common::free_port(),
        j.cluster.as_ref().unwrap().addr
    ))
    .await;
    use_jetstream(&on_n, None, "ROUTED").await;
}

/// Across a leaf connection JetStream is reached through its domain: its
/// plain API stays on each side, as nats-server keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_leaf_uses_jetstream_in_a_junction_hub_through_its_domain() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::start(Options {
        jetstream: true,
        js_domain: Some("hub".into()),
        store_dir: Some(dir.path().to_path_buf()),
        leafnodes: Some(LeafNodeOptions {
            listen: Some(("127.0.0.1".into(), 0)),
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let (_leaf, on_leaf) = nats_server_with(&format!(
        "server_name: leaf1\nleafnodes {{ remotes: [ {{ url: \"nats-leaf://{}\" }} ] }}\n",
        hub.leafnodes.as_ref().unwrap().addr.unwrap()
    ))
    .await;
    use_jetstream(&on_leaf, Some("hub"), "EDGE").await;
    // The plain API does not reach across: the hub's stream is not found.
    let plain = jetstream::new(on_leaf.clone());
    plain
        .get_stream("EDGE")
        .await
        .expect_err("the hub's stream is not seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_in_a_junction_cluster_used_from_a_nats_server_cluster() {
    let b_port = common::free_port();
    let (_b, b_client) = reference("B", b_port, None, "");
    let dir = tempfile::tempdir().unwrap();
    let a = common::start(Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        gateway: Some(gateway("A", &[("B", format!("nats://127.0.0.1:{b_port}"))])),
        ..Options::default()
    })
    .await;
    let on_b = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    use_jetstream(&on_b, None, "ORDERS").await;
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_asks_services_and_jetstream_across_the_gateways() {
    // Hub cluster A (Junction, JetStream, a leaf port), gateway to B
    // (nats-server 2.15.1) with a service; a Junction leaf of A.
    let b_port = common::free_port();
    let (_b, b_client) = reference("B", b_port, None, "");
    let dir = tempfile::tempdir().unwrap();
    let hub = common::start(Options {
        jetstream: true,
        js_domain: Some("hub".into()),
        store_dir: Some(dir.path().to_path_buf()),
        gateway: Some(gateway("A", &[("B", format!("nats://127.0.0.1:{b_port}"))])),
        leafnodes: Some(LeafNodeOptions {
            listen: Some(("127.0.0.1".into(), 0)),
            ..LeafNodeOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let hub_leaf = format!("nats-leaf://{}", hub.leafnodes.as_ref().unwrap().addr.unwrap());
    let leaf = leaf_of(&hub_leaf).await;
    let on_b = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    let on_leaf = connect(&common::url(&leaf)).await;
    serve(&on_b, "svc.b", "B").await;
    ask(&on_leaf, "svc.b", "B").await;
    // And the other way: a service on the leaf asked from cluster B.
    serve(&on_leaf, "svc.leaf", "leaf").await;
    ask(&on_b, "svc.leaf", "leaf").await;
    // JetStream in the hub, from the leaf, through its domain.
    use_jetstream(&on_leaf, Some("hub"), "EDGE").await;
}
