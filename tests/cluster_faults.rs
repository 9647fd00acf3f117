//! Faults between two nodes: a small TCP proxy on the route that can cut
//! the link, or stall it (bytes held back with both sockets open, a
//! half-open link as a dead peer or a broken network leaves it). Routes
//! come back, interest is sent again, nothing arrives twice, and a stalled
//! route is detected by its unanswered PINGs.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use junction::options::ClusterOptions;
use junction::{Options, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A proxy in front of `target`: every connection to it is piped there.
struct Proxy {
    addr: SocketAddr,
    /// While set, bytes are held back in both directions.
    stalled: Arc<AtomicBool>,
    /// Closes every piped connection.
    cut: Arc<Notify>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Notify::new());
        let (s, c) = (stalled.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                let (s1, s2, c1) = (s.clone(), s.clone(), c.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = pipe(ir, ow, s1) => {}
                        _ = pipe(or, iw, s2) => {}
                        _ = c1.notified() => {}
                    }
                });
            }
        });
        Proxy { addr, stalled, cut }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A stalled link swallows what it is given and keeps both ends open.
        if stalled.load(Ordering::Relaxed) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

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
    node.cluster.as_ref().unwrap().routes().len()
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
