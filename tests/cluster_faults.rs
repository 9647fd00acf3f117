//! Faults between two nodes: a small TCP proxy on the route (or on the
//! gateways between two clusters) that can cut the link, or stall it
//! (bytes held back with both sockets open, a half-open link as a dead
//! peer or a broken network leaves it). Links come back, interest is sent
//! again, nothing arrives twice, and a stalled link is detected by its
//! unanswered PINGs.

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use futures::StreamExt;
use junction::options::{ClusterOptions, GatewayOptions, RemoteGateway};
use junction::{Options, RunningServer};

/// A node with fast keep-alives, so a stalled route is found in a second.
async fn node(routes: Vec<String>) -> RunningServer {
    let opts = Options {
        ping_interval: Duration::from_millis(200),
        ping_max: 2,
        cluster: Some(ClusterOptions {
            name: Some("c1".into()),
            host: "127.0.0.1".into(),
            port: 0,
            routes,
            ..ClusterOptions::default()
        }),
        ..Options::default()
    };
    common::start(opts).await
}

fn route_count(node: &RunningServer) -> usize {
    node.cluster.as_ref().unwrap().linked_peers()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes numbered messages on `publisher` until `wanted` have reached
/// `sub`; returns every number received, and fails on a duplicate.
async fn deliver_through(
    publisher: &async_nats::Client,
    sub: &mut async_nats::Subscriber,
    next: &mut u64,
    seen: &mut HashSet<u64>,
    wanted: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = 0;
    while got < wanted {
        assert!(Instant::now() < deadline, "only {got} of {wanted} arrived");
        publisher
            .publish("faults.x", next.to_string().into())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        *next += 1;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(30), sub.next()).await {
            let n: u64 = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
            assert!(seen.insert(n), "message {n} arrived twice");
            got += 1;
        }
    }
}

#[tokio::test]
async fn routes_survive_cuts_and_stalls_without_duplicates() {
    let a = node(Vec::new()).await;
    let proxy = Proxy::start(a.cluster.as_ref().unwrap().addr).await;
    // b reaches a only through the proxy.
    let b = node(vec![format!("nats://{}", proxy.addr)]).await;
    wait_until("the route is up", || route_count(&a) == 1 && route_count(&b) == 1).await;

    let on_a = async_nats::connect(common::url(&a)).await.unwrap();
    let on_b = async_nats::connect(common::url(&b)).await.unwrap();
    let mut sub = on_a.subscribe("faults.x").await.unwrap();
    on_a.flush().await.unwrap();
    let (mut next, mut seen) = (0u64, HashSet::new());
    deliver_through(&on_b, &mut sub, &mut next, &mut seen, 20).await;

    // Cut: b dials again, and a's interest is sent again on the new route.
    proxy.cut.notify_waiters();
    wait_until("the cut is seen", || route_count(&b) == 0 || route_count(&a) == 0).await;
    wait_until("the route is back", || {
        route_count(&a) == 1 && route_count(&b) == 1
    })
    .await;
    deliver_through(&on_b, &mut sub, &mut next, &mut seen, 20).await;

    // Stall: nothing moves and both sockets stay open. The unanswered
    // PINGs give the route away; it is closed and, once the link works
    // again, made anew.
    proxy.stalled.store(true, Ordering::Relaxed);
    wait_until("the stalled route is dropped", || {
        route_count(&a) == 0 && route_count(&b) == 0
    })
    .await;
    proxy.stalled.store(false, Ordering::Relaxed);
    wait_until("the route is back after the stall", || {
        route_count(&a) == 1 && route_count(&b) == 1
    })
    .await;
    deliver_through(&on_b, &mut sub, &mut next, &mut seen, 20).await;
}

/// A one-node cluster `name` with fast keep-alives, its gateway on `port`,
/// announced at `advertise`, dialling the gateway `remote` at `url`.
async fn gateway_node(name: &str, port: u16, advertise: String, remote: &str, url: String) -> RunningServer {
    common::start(Options {
        ping_interval: Duration::from_millis(200),
        ping_max: 2,
        gateway: Some(GatewayOptions {
            name: name.into(),
            host: "127.0.0.1".into(),
            port,
            advertise: Some(advertise),
            gateways: vec![RemoteGateway {
                name: remote.into(),
                urls: vec![url],
                tls: None,
            }],
            ..GatewayOptions::default()
        }),
        ..Options::default()
    })
    .await
}

fn gateway_count(node: &RunningServer) -> usize {
    let links: &dyn junction::conn::GatewayLinks = node.gateways.as_ref().unwrap().as_ref();
    links.connections().len()
}

#[tokio::test]
async fn gateways_survive_cuts_and_stalls_without_duplicates() {
    // Each cluster reaches the other only through a proxy, and announces
    // the proxy as its gateway URL, so every connection goes through one.
    let (a_port, b_port) = (common::free_port(), common::free_port());
    let to_a = Proxy::start(format!("127.0.0.1:{a_port}").parse().unwrap()).await;
    let to_b = Proxy::start(format!("127.0.0.1:{b_port}").parse().unwrap()).await;
    let a = gateway_node(
        "A",
        a_port,
        to_a.addr.to_string(),
        "B",
        format!("nats://{}", to_b.addr),
    )
    .await;
    let b = gateway_node(
        "B",
        b_port,
        to_b.addr.to_string(),
        "A",
        format!("nats://{}", to_a.addr),
    )
    .await;
    let up = || gateway_count(&a) == 2 && gateway_count(&b) == 2;
    wait_until("the gateways are up", up).await;

    let on_a = async_nats::connect(common::url(&a)).await.unwrap();
    let on_b = async_nats::connect(common::url(&b)).await.unwrap();
    let mut sub = on_a.subscribe("faults.x").await.unwrap();
    on_a.flush().await.unwrap();
    let (mut next, mut seen) = (0u64, HashSet::new());
    deliver_through(&on_b, &mut sub, &mut next, &mut seen, 20).await;

    // Cut: both sides dial again, and the interest is sent again.
    to_a.cut.notify_waiters();
    to_b.cut.notify_waiters();
    wait_until("the cut is seen", || {
        gateway_count(&a) < 2 || gateway_count(&b) < 2
    })
    .await;
    wait_until("the gateways are back", up).await;
    deliver_through(&on_b, &mut sub, &mut next, &mut seen, 20).await;

    // Stall: the unanswered PINGs give the gateways away; they are closed
    // and, once the links work again, made anew.
    to_a.stalled.store(true, Ordering::Relaxed);
    to_b.stalled.store(true, Ordering::Relaxed);
    wait_until("the stalled gateways are dropped", || {
        gateway_count(&a) == 0 && gateway_count(&b) == 0
    })
    .await;
    to_a.stalled.store(false, Ordering::Relaxed);
    to_b.stalled.store(false, Ordering::Relaxed);
    wait_until("the gateways are back after the stall", up).await;
    deliver_through(&on_b, &mut sub, &mut next, &mut seen, 20).await;
}
