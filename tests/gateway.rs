//! Gateways with real peers: Junction and nats-server 2.15.1 and 2.9.10
//! clusters joined into superclusters, official clients on every node,
//! exact delivery counts.

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use junction::options::ClusterOptions;
use junction::{Options, RunningServer};

/// Options of a Junction node of gateway `name`, listening for gateways on
/// `port` (0: any) and dialling `remotes` (name, URL).
fn gateway_options(name: &str, port: u16, remotes: &[(&str, String)]) -> Options {
    Options {
        gateway: Some(common::gateway_options(name, port, remotes)),
        ..Options::default()
    }
}

fn gateway_url(server: &RunningServer) -> String {
    format!("nats://{}", server.gateways.as_ref().unwrap().addr)
}

/// A nats-server of `version`: gateway `name` on `gw_port`, dialling
/// `remote` (name, URL) when given, with extra configuration `more`.
fn reference(
    version: &str,
    name: &str,
    gw_port: u16,
    remote: Option<(&str, &str)>,
    more: &str,
) -> (common::Process, u16) {
    let client = common::free_port();
    let gateways = remote
        .map(|(n, u)| format!(", gateways: [ {{ name: {n}, url: \"{u}\" }} ]"))
        .unwrap_or_default();
    let conf = format!(
        "listen: 127.0.0.1:{client}\ngateway {{ name: {name}, listen: 127.0.0.1:{gw_port}{gateways} }}\n{more}\n"
    );
    (common::reference_with_config(version, &conf), client)
}

async fn connect(url: &str) -> async_nats::Client {
    common::connect_retrying(url, async_nats::ConnectOptions::new).await
}

/// Waits until a message published on `from` reaches a subscriber on `to`:
/// the gateways are up and the interest crossed them.
async fn linked(to: &async_nats::Client, from: &async_nats::Client) {
    let subject = format!("probe.{}", rand::random::<u32>());
    let mut sub = to.subscribe(subject.clone()).await.unwrap();
    to.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        from.publish(subject.clone(), "p".into()).await.unwrap();
        from.flush().await.unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            return;
        }
        assert!(Instant::now() < deadline, "no message crossed the gateways");
    }
}

/// Messages with headers in order, requests with fresh inboxes, queue
/// groups (this cluster's members first) and interest going away, between
/// a client of each cluster.
async fn both_ways(a: &async_nats::Client, b: &async_nats::Client) {
    linked(a, b).await;
    linked(b, a).await;
    for (from, to) in [(a, b), (b, a)] {
        let mut sub = to.subscribe("gw.data.>").await.unwrap();
        to.flush().await.unwrap();
        linked(to, from).await;
        for i in 0..200 {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Seq", i.to_string().as_str());
            from.publish_with_headers(format!("gw.data.{i}"), headers, i.to_string().into())
                .await
                .unwrap();
        }
        from.flush().await.unwrap();
        let got = common::take_exactly(&mut sub, 200).await;
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m.subject.as_str(), format!("gw.data.{i}"));
            assert_eq!(
                m.headers.as_ref().unwrap().get("Seq").unwrap().as_str(),
                i.to_string()
            );
        }
    }
    // Requests: each from a new connection, whose inbox interest is fresh
    // (the reply is mapped to the requester's server and comes straight
    // back).
    for (requester_side, responder) in [(a, b), (b, a)] {
        let mut service = responder.subscribe("gw.svc").await.unwrap();
        responder.flush().await.unwrap();
        let r = responder.clone();
        let serve = tokio::spawn(async move {
            while let Some(m) = service.next().await {
                if let Some(reply) = m.reply {
                    let mut answer = b"re:".to_vec();
                    answer.extend_from_slice(&m.payload);
                    r.publish(reply, answer.into()).await.unwrap();
                    r.flush().await.unwrap();
                }
            }
        });
        linked(responder, requester_side).await;
        for i in 0..20 {
            let answer = tokio::time::timeout(
                Duration::from_secs(5),
                requester_side.request("gw.svc", format!("q{i}").into()),
            )
            .await
            .expect("answered in time")
            .expect("answered");
            assert_eq!(answer.payload, format!("re:q{i}").as_bytes());
        }
        serve.abort();
    }
    // A queue group with members on both sides: messages stay in the
    // cluster they were published in.
    let mut qa = a.queue_subscribe("gw.work", "workers".into()).await.unwrap();
    let mut qb = b.queue_subscribe("gw.work", "workers".into()).await.unwrap();
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    linked(a, b).await;
    linked(b, a).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..50 {
        a.publish("gw.work", format!("a{i}").into()).await.unwrap();
        b.publish("gw.work", format!("b{i}").into()).await.unwrap();
    }
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let on_a = common::take_exactly(&mut qa, 50).await;
    let on_b = common::take_exactly(&mut qb, 50).await;
    assert!(on_a.iter().all(|m| m.payload.starts_with(b"a")));
    assert!(on_b.iter().all(|m| m.payload.starts_with(b"b")));
    // With the members on one side gone, the queue group's messages cross.
    drop(qb);
    b.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..50 {
        b.publish("gw.work", format!("c{i}").into()).await.unwrap();
    }
    b.flush().await.unwrap();
    let crossed = common::take_exactly(&mut qa, 50).await;
    assert!(crossed.iter().all(|m| m.payload.starts_with(b"c")));
    // Interest going away crosses too: a request then finds no responders.
    drop(qa);
    a.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // One that crossed before the interest went goes unanswered.
        match tokio::time::timeout(Duration::from_millis(500), b.request("gw.work", "anyone?".into())).await {
            Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => break,
            _ => assert!(Instant::now() < deadline, "the interest never went away"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junction_and_nats_server_2_15_as_two_clusters() {
    // nats-server gateway B knows of nobody: it learns of Junction's A
    // when A connects, and connects back (an implicit gateway).
    let b_port = common::free_port();
    let (_b, b_client) = reference("2.15", "B", b_port, None, "");
    let a = common::start(gateway_options(
        "A",
        0,
        &[("B", format!("nats://127.0.0.1:{b_port}"))],
    ))
    .await;
    let ca = connect(&common::url(&a)).await;
    let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    both_ways(&ca, &cb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_2_9_dials_a_junction_gateway_with_credentials() {
    let a_port = common::free_port();
    let mut opts = gateway_options("A", a_port, &[]);
    let gw = opts.gateway.as_mut().unwrap();
    gw.auth.username = Some("gw".into());
    gw.auth.password = Some("s3cret".into());
    let a = common::start(opts).await;
    let url = format!("nats://gw:s3cret@127.0.0.1:{a_port}");
    let (_b, b_client) = reference("2.9", "B", common::free_port(), Some(("A", &url)), "");
    let ca = connect(&common::url(&a)).await;
    let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    both_ways(&ca, &cb).await;
    let gz = &a.gateways.as_ref().unwrap();
    let links: &dyn junction::conn::GatewayLinks = gz.as_ref();
    let conns = links.connections();
    assert_eq!(conns.iter().filter(|c| c.outbound).count(), 1, "{conns:?}");
    assert_eq!(conns.iter().filter(|c| !c.outbound).count(), 1, "{conns:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_gateway_credentials_are_refused() {
    let a_port = common::free_port();
    let mut opts = gateway_options("A", a_port, &[]);
    let gw = opts.gateway.as_mut().unwrap();
    gw.auth.username = Some("gw".into());
    gw.auth.password = Some("s3cret".into());
    let a = common::start(opts).await;
    let url = format!("nats://gw:wrong@127.0.0.1:{a_port}");
    let (_b, b_client) = reference("2.15", "B", common::free_port(), Some(("A", &url)), "");
    let ca = connect(&common::url(&a)).await;
    let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    let mut sub = ca.subscribe("nope").await.unwrap();
    ca.flush().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    cb.publish("nope", "x".into()).await.unwrap();
    cb.flush().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(500), sub.next())
        .await
        .is_err());
    let links: &dyn junction::conn::GatewayLinks = a.gateways.as_ref().unwrap().as_ref();
    assert!(
        links.connections().iter().all(|c| c.outbound),
        "{:?}",
        links.connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_junction_clusters() {
    let b = common::start(gateway_options("B", 0, &[])).await;
    let a = common::start(gateway_options("A", 0, &[("B", gateway_url(&b))])).await;
    let ca = connect(&common::url(&a)).await;
    let cb = connect(&common::url(&b)).await;
    both_ways(&ca, &cb).await;
}

/// Cluster A: Junction and nats-server 2.15.1 over a route. Cluster B: a
/// Junction and a nats-server 2.15.1. Each server has its own gateways;
/// every message reaches every subscriber of the other cluster once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_supercluster_of_two_clusters_of_two() {
    let (a2_route, b2_route, b2_gw, a2_gw) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let cluster = |name: &str, peer: u16| ClusterOptions {
        name: Some(name.into()),
        host: "127.0.0.1".into(),
        port: 0,
        routes: vec![format!("nats://127.0.0.1:{peer}")],
        ..ClusterOptions::default()
    };
    // B: a Junction node and a nats-server routed to it; B's servers dial A.
    let b1 = common::start(Options {
        cluster: Some(cluster("B", b2_route)),
        ..gateway_options("B", 0, &[("A", format!("nats://127.0.0.1:{a2_gw}"))])
    })
    .await;
    let (_b2, b2_client) = reference(
        "2.15",
        "B",
        b2_gw,
        Some(("A", &format!("nats://127.0.0.1:{a2_gw}"))),
        &format!("cluster {{ name: B, listen: 127.0.0.1:{b2_route} }}"),
    );
    // A: a nats-server and a Junction node routed to it.
    let (_a2, a2_client) = reference(
        "2.15",
        "A",
        a2_gw,
        None,
        &format!("cluster {{ name: A, listen: 127.0.0.1:{a2_route} }}"),
    );
    let a1 = common::start(Options {
        cluster: Some(cluster("A", a2_route)),
        ..gateway_options("A", 0, &[("B", format!("nats://127.0.0.1:{b2_gw}"))])
    })
    .await;
    let clients = [
        connect(&common::url(&a1)).await,
        connect(&format!("nats://127.0.0.1:{a2_client}")).await,
        connect(&common::url(&b1)).await,
        connect(&format!("nats://127.0.0.1:{b2_client}")).await,
    ];
    // Subscribers on every node; each node publishes 30 messages.
    let mut subs = Vec::new();
    for c in &clients {
        subs.push(c.subscribe("sc.>").await.unwrap());
        c.flush().await.unwrap();
    }
    for from in &clients {
        for to in &clients {
            linked(to, from).await;
        }
    }
    for (n, c) in clients.iter().enumerate() {
        for i in 0..30 {
            c.publish(format!("sc.{n}"), i.to_string().into()).await.unwrap();
        }
        c.flush().await.unwrap();
    }
    for sub in &mut subs {
        let got = common::take_exactly(sub, 120).await;
        for n in 0..4 {
            let from_n: Vec<_> = got
                .iter()
                .filter(|m| m.subject.as_str() == format!("sc.{n}"))
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                .collect();
            let expected: Vec<String> = (0..30).map(|i| i.to_string()).collect();
            assert_eq!(from_n, expected, "in order, once each, from node {n}");
        }
    }
    // Requests from every node to a service on each node of the other
    // cluster.
    for (svc_node, req_nodes) in [(0usize, [2usize, 3]), (3, [0, 1])] {
        let subject = format!("sc.svc.{svc_node}");
        let mut service = clients[svc_node].subscribe(subject.clone()).await.unwrap();
        clients[svc_node].flush().await.unwrap();
        let r = clients[svc_node].clone();
        let serve = tokio::spawn(async move {
            while let Some(m) = service.next().await {
                if let Some(reply) = m.reply {
                    r.publish(reply, m.payload).await.unwrap();
                    r.flush().await.unwrap();
                }
            }
        });
        for &n in &req_nodes {
            linked(&clients[svc_node], &clients[n]).await;
            for i in 0..10 {
                let answer = tokio::time::timeout(
                    Duration::from_secs(5),
                    clients[n].request(subject.clone(), format!("{n}-{i}").into()),
                )
                .await
                .expect("in time")
                .expect("answered");
                assert_eq!(answer.payload, format!("{n}-{i}").as_bytes());
            }
        }
        serve.abort();
    }
}

#[tokio::test]
async fn a_reload_leaves_gateways_as_they_are() {
    let a = common::start(gateway_options("A", 0, &[])).await;
    let mut opts = a.server.opts().as_ref().clone();
    opts.gateway.as_mut().unwrap().connect_retries = 5;
    let e = a.server.reload(opts).unwrap_err().to_string();
    assert!(e.starts_with("config reload not supported for Gateway"), "{e}");
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// `/gatewayz` and `/varz`'s `gateway` in nats-server 2.15.1's shape (the
/// key lists are what it returned for the same setup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatewayz_and_varz_show_the_gateways() {
    let b_port = common::free_port();
    let (_b, b_client) = reference("2.15", "B", b_port, None, "");
    let a = common::start(gateway_options(
        "A",
        0,
        &[("B", format!("nats://127.0.0.1:{b_port}"))],
    ))
    .await;
    let http = junction::monitor::start(a.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let ca = connect(&common::url(&a)).await;
    let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    let _queue = cb.queue_subscribe("gz.q", "workers".into()).await.unwrap();
    linked(&cb, &ca).await;
    linked(&ca, &cb).await;
    let gz = common::http_json(http, "/gatewayz?accs=1&subs=1").await;
    assert_eq!(
        keys(&gz),
        [
            "server_id",
            "now",
            "name",
            "host",
            "port",
            "outbound_gateways",
            "inbound_gateways"
        ]
    );
    assert_eq!(gz["name"], "A");
    let out = &gz["outbound_gateways"]["B"];
    assert_eq!(out["configured"], true);
    assert_eq!(
        keys(&out["connection"]),
        [
            "cid",
            "kind",
            "ip",
            "port",
            "start",
            "last_activity",
            "rtt",
            "uptime",
            "idle",
            "pending_bytes",
            "in_msgs",
            "out_msgs",
            "in_bytes",
            "out_bytes",
            "subscriptions",
            "name"
        ]
    );
    assert_eq!(out["connection"]["port"], b_port);
    assert_eq!(out["connection"]["kind"], "Gateway");
    let global = out["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "$G")
        .unwrap_or_else(|| panic!("{gz}"));
    assert_eq!(global["interest_mode"], "Interest-Only");
    let list: Vec<&str> = global["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(list.contains(&"gz.q workers"), "{list:?}");
    let inbound = &gz["inbound_gateways"]["B"];
    assert_eq!(inbound.as_array().unwrap().len(), 1, "{gz}");
    assert_eq!(inbound[0]["configured"], false);
    // One remote gateway asked for: the other is left out.
    let only = common::http_json(http, "/gatewayz?gw_name=C").await;
    assert!(only["outbound_gateways"].as_object().unwrap().is_empty());
    // STATSZ (what `junction server list` counts as GWs) lists B, with
    // the inbound connection from it.
    let statsz = junction::system::envelope::statsz(&a.server);
    assert_eq!(statsz["gateways"][0]["name"], "B", "{statsz}");
    assert_eq!(statsz["gateways"][0]["inbound_connections"], 1, "{statsz}");
    let varz = common::http_json(http, "/varz").await;
    let g = &varz["gateway"];
    assert_eq!(
        keys(g),
        ["name", "host", "port", "auth_timeout", "tls_timeout", "gateways"]
    );
    assert_eq!(g["gateways"][0]["name"], "B");
    assert_eq!(g["gateways"][0]["urls"][0], format!("127.0.0.1:{b_port}"));
}

/// The other cluster's server stops and starts again on the same ports:
/// the gateways come back both ways, with the interest sent again, and
/// nothing is delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_come_back_after_the_other_cluster_restarts() {
    let (b_port, b_client) = (common::free_port(), common::free_port());
    let conf = format!("listen: 127.0.0.1:{b_client}\ngateway {{ name: B, listen: 127.0.0.1:{b_port} }}\n");
    let b = common::reference_with_config("2.15", &conf);
    let a = common::start(gateway_options(
        "A",
        0,
        &[("B", format!("nats://127.0.0.1:{b_port}"))],
    ))
    .await;
    let ca = connect(&common::url(&a)).await;
    let mut on_a = ca.subscribe("back.>").await.unwrap();
    ca.flush().await.unwrap();
    {
        let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
        linked(&ca, &cb).await;
    }
    drop(b);
    let links: &dyn junction::conn::GatewayLinks = a.gateways.as_ref().unwrap().as_ref();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !links.connections().is_empty() {
        assert!(Instant::now() < deadline, "the gateways never closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _b = common::reference_with_config("2.15", &conf);
    let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    let mut on_b = cb.subscribe("back.>").await.unwrap();
    cb.flush().await.unwrap();
    linked(&ca, &cb).await;
    linked(&cb, &ca).await;
    // Drain the probes `linked` may have left, then count.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), on_a.next()).await {}
    for i in 0..100 {
        cb.publish(format!("back.{i}"), "b".into()).await.unwrap();
        ca.publish(format!("back.{i}"), "a".into()).await.unwrap();
    }
    cb.flush().await.unwrap();
    ca.flush().await.unwrap();
    assert_eq!(common::take_exactly(&mut on_a, 200).await.len(), 200);
    assert_eq!(common::take_exactly(&mut on_b, 200).await.len(), 200);
}

/// `gateway { tls {} }` with a nats-server 2.15.1 cluster: TLS first on
/// both gateways, certificates verified both ways; a cluster without TLS
/// is kept out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_over_tls_with_nats_server() {
    let pki = common::pki::Pki::new();
    let b_port = common::free_port();
    let tls = format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true }}",
        pki.path("server.pem"),
        pki.path("server-key.pem"),
        pki.path("ca.pem")
    );
    let client = common::free_port();
    let conf =
        format!("listen: 127.0.0.1:{client}\ngateway {{ name: B, listen: 127.0.0.1:{b_port}\n {tls} }}\n");
    let _b = common::reference_with_config("2.15", &conf);
    // A announces its name (the certificate's), so that B connecting back
    // can check it.
    let a_port = common::free_port();
    let mut opts = gateway_options("A", a_port, &[("B", format!("nats://localhost:{b_port}"))]);
    let gw = opts.gateway.as_mut().unwrap();
    gw.tls = Some(pki.tls(true));
    gw.advertise = Some(format!("localhost:{a_port}"));
    let a = common::start(opts).await;
    let ca = connect(&common::url(&a)).await;
    let cb = connect(&format!("nats://127.0.0.1:{client}")).await;
    linked(&ca, &cb).await;
    linked(&cb, &ca).await;
    let links: &dyn junction::conn::GatewayLinks = a.gateways.as_ref().unwrap().as_ref();
    assert_eq!(links.connections().len(), 2, "{:?}", links.connections());
    // A cluster without TLS gets no gateway to A.
    let plain = common::start(gateway_options("C", 0, &[("A", gateway_url(&a))])).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let plain_links: &dyn junction::conn::GatewayLinks = plain.gateways.as_ref().unwrap().as_ref();
    assert!(
        plain_links.connections().is_empty(),
        "{:?}",
        plain_links.connections()
    );
    assert_eq!(links.connections().len(), 2);
}

/// A node that joins a cluster after another cluster connected to it:
/// when the first node stops, nats-server's gateway moves to the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_moves_to_a_node_that_joined_later() {
    let j1_gw = common::free_port();
    let j1 = common::start(Options {
        cluster: Some(ClusterOptions {
            name: Some("A".into()),
            host: "127.0.0.1".into(),
            port: 0,
            ..ClusterOptions::default()
        }),
        ..gateway_options("A", j1_gw, &[])
    })
    .await;
    let (b_client, b_gw) = (common::free_port(), common::free_port());
    let conf = format!(
        "listen: 127.0.0.1:{b_client}\ngateway {{ name: B, listen: 127.0.0.1:{b_gw}, gateways: [ {{ name: A, url: \"nats://127.0.0.1:{j1_gw}\" }} ] }}\n"
    );
    let _b = common::reference_with_config("2.15", &conf);
    let cb = connect(&format!("nats://127.0.0.1:{b_client}")).await;
    {
        let c1 = connect(&common::url(&j1)).await;
        linked(&c1, &cb).await;
    }
    // J2 joins cluster A (and dials B itself).
    let j2 = common::start(Options {
        cluster: Some(ClusterOptions {
            name: Some("A".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes: vec![format!("nats://{}", j1.cluster.as_ref().unwrap().addr)],
            ..ClusterOptions::default()
        }),
        ..gateway_options("A", 0, &[("B", format!("nats://127.0.0.1:{b_gw}"))])
    })
    .await;
    let c2 = connect(&common::url(&j2)).await;
    linked(&c2, &cb).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    j1.server.shutdown();
    drop(j1);
    // B's outbound connection to A comes back, to J2: B's messages reach
    // J2's clients again (they go out only on B's outbound connection).
    linked(&c2, &cb).await;
    linked(&cb, &c2).await;
}

/// The bytes: a server connected to this one from another cluster gets an
/// INFO with the new `gateway_urls` when a node joins this cluster (a raw
/// socket speaks the other cluster's side of the handshake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_node_is_announced_to_connected_gateways() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let cluster = |routes: Vec<String>| ClusterOptions {
        name: Some("A".into()),
        host: "127.0.0.1".into(),
        port: 0,
        routes,
        ..ClusterOptions::default()
    };
    let j1 = common::start(Options {
        cluster: Some(cluster(Vec::new())),
        ..gateway_options("A", 0, &[])
    })
    .await;
    let stream = tokio::net::TcpStream::connect(j1.gateways.as_ref().unwrap().addr)
        .await
        .unwrap();
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    assert!(
        first.starts_with("INFO {") && first.contains("\"gateway\":\"A\""),
        "{first}"
    );
    writer
        .write_all(
            b"CONNECT {\"echo\":false,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":false,\"name\":\"NRAW\",\"cluster\":\"\",\"gateway\":\"B\"}\r\n\
              INFO {\"server_id\":\"NRAW\",\"server_name\":\"raw\",\"gateway\":\"B\",\"gateway_urls\":[\"127.0.0.1:1\"]}\r\n",
        )
        .await
        .unwrap();
    let j2 = common::start(Options {
        cluster: Some(cluster(vec![format!(
            "nats://{}",
            j1.cluster.as_ref().unwrap().addr
        )])),
        ..gateway_options("A", 0, &[])
    })
    .await;
    let j2_url = j2.gateways.as_ref().unwrap().addr.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .expect("an INFO naming the new node")
            .unwrap()
            .unwrap();
        if line.starts_with("PING") {
            writer.write_all(b"PONG\r\n").await.unwrap();
        }
        if line.starts_with("INFO {") && line.contains(&j2_url) && line.contains("\"gateway_urls\"") {
            break;
        }
    }
}

/// `active_servers` in STATSZ counts the servers of the whole supercluster
/// (those heard from), as nats-server's does, so `server ping` waits for
/// them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statsz_counts_the_servers_of_every_cluster() {
    let accounts = "accounts { SYS: { users: [{user: sys, password: sys}] } }\nsystem_account: SYS\n";
    let b_port = common::free_port();
    let (_b, _b_client) = reference("2.15", "B", b_port, None, accounts);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("a.conf");
    std::fs::write(
        &conf,
        format!(
            "{accounts}gateway {{ name: A, listen: \"127.0.0.1:-1\", gateways: [ {{ name: B, url: \"nats://127.0.0.1:{b_port}\" }} ] }}\n"
        ),
    )
    .unwrap();
    let a = common::start(junction::config::load_options(&conf).unwrap()).await;
    let sys = common::connect_retrying(&common::url(&a), || {
        async_nats::ConnectOptions::with_user_and_password("sys".into(), "sys".into())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            sys.request(format!("$SYS.REQ.SERVER.{}.STATSZ", a.server.id), "".into()),
        )
        .await
        .ok()
        .and_then(|r| r.ok())
        .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).ok());
        if answer
            .as_ref()
            .is_some_and(|v| v["statsz"]["active_servers"] == 2)
        {
            break;
        }
        assert!(Instant::now() < deadline, "{answer:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
