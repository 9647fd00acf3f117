//! Pooled routes and routes dedicated to one account (nats-server 2.10+'s
//! `cluster { pool_size, accounts }`), between Junction nodes and with real
//! nats-server 2.15.1 and 2.9.10 peers: each account's interest and
//! messages on its own route, every message once, a peer without a pool
//! given one route, and the pool filled again after a cut.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use futures::StreamExt;
use junction::run::RunningServer;
use serde_json::Value;

/// Accounts A and B, and a user of the global account (`$G`).
const ACCOUNTS: &str = "accounts {\n  A: { users: [{user: a, password: a}] }\n  \
     B: { users: [{user: b, password: b}] }\n  SYS: { users: [{user: sys, password: sys}] }\n}\n\
     system_account: SYS\nauthorization { users: [{user: g, password: g}] }\n";

fn config(name: &str, client: u16, http: u16, cluster_port: u16, pool: &str, routes: &[String]) -> String {
    let routes: Vec<String> = routes.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "listen: 127.0.0.1:{client}\nhttp: 127.0.0.1:{http}\nserver_name: {name}\n{ACCOUNTS}\
         cluster {{ name: c1, listen: 127.0.0.1:{cluster_port}, {pool} routes: [{}] }}\n",
        routes.join(", ")
    )
}

async fn junction(
    name: &str,
    cluster_port: u16,
    pool: &str,
    routes: &[String],
) -> (RunningServer, SocketAddr) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("pool-{name}-{}-{n}.conf", std::process::id()));
    let http = common::free_port();
    std::fs::write(&path, config(name, 0, http, cluster_port, pool, routes)).unwrap();
    let opts = junction::config::load_options(&path).expect("configuration loads");
    let server = common::start(opts).await;
    let http = junction::monitor::start(server.server.clone(), "127.0.0.1", 0)
        .await
        .unwrap();
    (server, http)
}

struct Reference {
    _process: common::Process,
    client: u16,
    http: SocketAddr,
    cluster: u16,
}

fn reference(version: &str, name: &str, pool: &str, routes: &[String]) -> Reference {
    reference_with(version, name, common::free_port(), pool, routes)
}

/// A nats-server 2.15.1 node with the default pool, its routes on `cluster`.
fn reference_at(version: &str, name: &str, cluster: u16, routes: &[String]) -> Reference {
    reference_with(version, name, cluster, "accounts: [A],", routes)
}

fn reference_with(version: &str, name: &str, cluster: u16, pool: &str, routes: &[String]) -> Reference {
    let (client, http) = (common::free_port(), common::free_port());
    let conf = config(name, client, http, cluster, pool, routes);
    Reference {
        _process: common::reference_with_config(version, &conf),
        client,
        http: SocketAddr::from(([127, 0, 0, 1], http)),
        cluster,
    }
}

async fn connect(url: &str, user: &str) -> async_nats::Client {
    common::connect_retrying(url, || {
        async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
    })
    .await
}

/// `/routez?subs=1` of a server, once its monitoring port answers.
async fn routez(http: SocketAddr) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(http).await.is_err() {
        assert!(Instant::now() < deadline, "{http} answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::http_json(http, "/routez?subs=1").await
}

/// Waits until `/routez` of `http` shows `n` routes, and returns them.
async fn wait_for_routes(http: SocketAddr, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let routez = routez(http).await;
        let routes = routez["routes"].as_array().cloned().unwrap_or_default();
        if routes.len() == n {
            return routes;
        }
        assert!(
            Instant::now() < deadline,
            "{} routes of {n}: {routez}",
            routes.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids of a node's routes, sorted: the same later if none was closed
/// (and dialled again) meanwhile.
fn route_ids(node: &RunningServer) -> Vec<u64> {
    let mut ids: Vec<u64> = node
        .cluster
        .as_ref()
        .unwrap()
        .routes()
        .iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

/// The routes whose interest lists an entry ending in `subject`.
fn carrying<'a>(routes: &'a [Value], subject: &str) -> Vec<&'a Value> {
    routes
        .iter()
        .filter(|r| {
            r["subscriptions_list"]
                .as_array()
                .is_some_and(|l| l.iter().any(|s| s.as_str().is_some_and(|s| s.ends_with(subject))))
        })
        .collect()
}

/// In each account, a subscriber and a responder on `at`, a publisher and
/// a requester on `from`: every message arrives once, in order, and every
/// request is answered, once the interest has crossed. Returns the
/// subscribers, whose interest lasts while they are kept.
async fn each_account_crosses(at: &str, from: &str) -> Vec<(async_nats::Client, async_nats::Subscriber)> {
    static ROUND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let round = ROUND.fetch_add(1, Ordering::Relaxed);
    let mut kept = Vec::new();
    for user in ["a", "b", "g"] {
        let sub_side = connect(at, user).await;
        let pub_side = connect(from, user).await;
        let subject = format!("pool.{round}.{user}");
        let mut sub = sub_side.subscribe(subject.clone()).await.unwrap();
        let service_subject = format!("svc.{round}.{user}");
        let mut service = sub_side.subscribe(service_subject.clone()).await.unwrap();
        let answering = sub_side.clone();
        tokio::spawn(async move {
            while let Some(m) = service.next().await {
                if let Some(reply) = m.reply {
                    answering.publish(reply, m.payload).await.unwrap();
                }
            }
        });
        sub_side.flush().await.unwrap();
        // The interest has crossed once a request is answered.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let asked = pub_side.request(service_subject.clone(), "ping".into());
            match tokio::time::timeout(Duration::from_millis(500), asked).await {
                Ok(Ok(m)) => {
                    assert_eq!(&m.payload[..], b"ping");
                    break;
                }
                _ => assert!(Instant::now() < deadline, "account of {user}: no answer"),
            }
        }
        for i in 0..100u32 {
            pub_side
                .publish(subject.clone(), i.to_string().into())
                .await
                .unwrap();
        }
        pub_side.flush().await.unwrap();
        let got = common::take_exactly(&mut sub, 100).await;
        let order: Vec<u32> = got
            .iter()
            .map(|m| std::str::from_utf8(&m.payload).unwrap().parse().unwrap())
            .collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>(), "account of {user}");
        kept.push((sub_side, sub));
    }
    kept
}

#[tokio::test]
async fn a_pooled_junction_and_nats_server_2_15_carry_each_account_on_its_route() {
    // Pools of different sizes: the larger (5) counts; A and SYS have
    // routes of their own.
    let j_port = common::free_port();
    let (j, j_http) = junction("j1", j_port, "pool_size: 5, accounts: [A],", &[]).await;
    let seed = format!("nats://127.0.0.1:{j_port}");
    let n = reference("2.15", "n15", "pool_size: 3, accounts: [A],", &[seed]);
    let routes = wait_for_routes(n.http, 7).await;
    let dedicated: Vec<&str> = routes.iter().filter_map(|r| r["account"].as_str()).collect();
    assert_eq!(dedicated.len(), 2, "{dedicated:?}");
    assert!(dedicated.contains(&"A") && dedicated.contains(&"SYS"));
    assert_eq!(wait_for_routes(j_http, 7).await.len(), 7);
    assert_eq!(j.cluster.as_ref().unwrap().linked_peers(), 1);

    let j_url = common::url(&j);
    let n_url = format!("nats://127.0.0.1:{}", n.client);
    let _at_j = each_account_crosses(&j_url, &n_url).await;
    let _at_n = each_account_crosses(&n_url, &j_url).await;

    // On nats-server, Junction's interest in each account came on one
    // route only: A's on the route dedicated to it. (The first round's
    // subjects are `pool.N.<user>`, subscribed on Junction.)
    let routes = wait_for_routes(n.http, 7).await;
    let on_j = |user: &str| {
        let subject = format!(".{user}");
        carrying(&routes, &subject)
            .into_iter()
            .filter(|r| r["remote_name"] == "j1")
            .collect::<Vec<_>>()
    };
    for user in ["a", "b", "g"] {
        assert_eq!(on_j(user).len(), 1, "{user}: {routes:?}");
    }
    assert_eq!(on_j("a")[0]["account"], "A");
    assert!(on_j("b")[0].get("account").is_none());

    // The system account's services answer across its own route: a ping
    // on either side is answered by both servers.
    for url in [&j_url, &n_url] {
        let sys = connect(url, "sys").await;
        let inbox = sys.new_inbox();
        let mut answers = sys.subscribe(inbox.clone()).await.unwrap();
        sys.publish_with_reply("$SYS.REQ.SERVER.PING", inbox, "".into())
            .await
            .unwrap();
        let mut names = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(1000), answers.next()).await {
            let body: Value = serde_json::from_slice(&m.payload).unwrap();
            names.push(body["server"]["name"].as_str().unwrap().to_string());
        }
        names.sort();
        assert_eq!(names, ["j1", "n15"], "asked on {url}");
    }
    let varz = common::http_json(j_http, "/varz").await;
    assert_eq!(
        (varz["routes"].as_u64(), varz["remotes"].as_u64()),
        (Some(7), Some(1))
    );
    assert_eq!(varz["cluster"]["pool_size"], 5);
}

#[tokio::test]
async fn a_junction_without_a_pool_gets_one_route_from_a_pooled_nats_server() {
    let j_port = common::free_port();
    let (j, j_http) = junction("j1", j_port, "pool_size: -1,", &[]).await;
    let seed = format!("nats://127.0.0.1:{j_port}");
    let n = reference("2.15", "n15", "", &[seed]);
    wait_for_routes(n.http, 1).await;
    let routes = wait_for_routes(j_http, 1).await;
    assert!(routes[0].get("account").is_none());
    let j_url = common::url(&j);
    let n_url = format!("nats://127.0.0.1:{}", n.client);
    each_account_crosses(&j_url, &n_url).await;
    each_account_crosses(&n_url, &j_url).await;
    // nats-server's route dedicated to SYS was refused once, not again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(wait_for_routes(n.http, 1).await.len(), 1);
}

#[tokio::test]
async fn a_nats_server_2_9_peer_gets_one_route_for_all_and_no_dedicated_ones() {
    let n = reference("2.9", "n29", "", &[]);
    // Listening, so that every connection through the proxy reaches it.
    routez(n.http).await;
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], n.cluster))).await;
    let via = format!("nats://{}", proxy.addr);
    let (j, j_http) = junction("j1", common::free_port(), "accounts: [A],", &[via]).await;
    let routes = wait_for_routes(j_http, 1).await;
    assert!(routes[0].get("account").is_none());
    let j_url = common::url(&j);
    let n_url = format!("nats://127.0.0.1:{}", n.client);
    each_account_crosses(&j_url, &n_url).await;
    each_account_crosses(&n_url, &j_url).await;
    // The one route: no route dedicated to A or SYS is tried with a peer
    // that has no pool (it would take it for its one route).
    assert_eq!(proxy.accepted.load(Ordering::Relaxed), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(proxy.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(wait_for_routes(j_http, 1).await.len(), 1);
}

#[tokio::test]
async fn junction_pools_of_different_sizes_fill_again_after_a_cut() {
    let a_port = common::free_port();
    let (a, a_http) = junction("a", a_port, "pool_size: 2, accounts: [A],", &[]).await;
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], a_port))).await;
    let via = format!("nats://{}", proxy.addr);
    let (b, b_http) = junction("b", common::free_port(), "pool_size: 4, accounts: [A],", &[via]).await;
    // 4 in the pool (the larger), A and SYS.
    wait_for_routes(a_http, 6).await;
    wait_for_routes(b_http, 6).await;
    let (a_url, b_url) = (common::url(&a), common::url(&b));
    each_account_crosses(&a_url, &b_url).await;

    let before: Vec<u64> = a
        .cluster
        .as_ref()
        .unwrap()
        .routes()
        .iter()
        .map(|r| r.id)
        .collect();
    proxy.cut.notify_waiters();
    // b dials again, within its reconnect pause, until its pool and
    // dedicated routes are all back: new routes, as many.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: Vec<u64> = a
            .cluster
            .as_ref()
            .unwrap()
            .routes()
            .iter()
            .map(|r| r.id)
            .collect();
        if now.len() == 6 && now.iter().all(|id| !before.contains(id)) {
            break;
        }
        assert!(Instant::now() < deadline, "routes {now:?} after {before:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(proxy.accepted.load(Ordering::Relaxed) >= 12);
    // b dials again, until its pool and dedicated routes are all back.
    wait_for_routes(a_http, 6).await;
    wait_for_routes(b_http, 6).await;
    each_account_crosses(&b_url, &a_url).await;
    each_account_crosses(&a_url, &b_url).await;
}

#[tokio::test]
async fn three_junction_nodes_that_all_dial_each_other_agree_on_their_pools() {
    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let urls: Vec<String> = ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
    let mut nodes = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let others: Vec<String> = urls
            .iter()
            .filter(|u| !u.ends_with(&format!(":{port}")))
            .cloned()
            .collect();
        nodes.push(junction(&format!("j{i}"), *port, "accounts: [A],", &others).await);
    }
    // To each of two peers: a pool of 3, A and SYS.
    for (_, http) in &nodes {
        wait_for_routes(*http, 10).await;
    }
    // Settled: the same routes a second later (none closed as a duplicate
    // and dialled again).
    let before: Vec<Vec<u64>> = nodes.iter().map(|(n, _)| route_ids(n)).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after: Vec<Vec<u64>> = nodes.iter().map(|(n, _)| route_ids(n)).collect();
    assert_eq!(before, after);
    let url = |i: usize| common::url(&nodes[i].0);
    let _kept = each_account_crosses(&url(0), &url(1)).await;
    let _kept = each_account_crosses(&url(2), &url(0)).await;
}

#[tokio::test]
async fn junction_and_two_nats_servers_that_all_dial_each_other_settle() {
    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let urls: Vec<String> = ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
    let others = |i: usize| -> Vec<String> {
        urls.iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, u)| u.clone())
            .collect()
    };
    let n1 = reference_at("2.15", "n1", ports[1], &others(1));
    let n2 = reference_at("2.15", "n2", ports[2], &others(2));
    let (j, j_http) = junction("j0", ports[0], "accounts: [A],", &others(0)).await;
    // To each of two peers: a pool of 3, A and SYS.
    for http in [j_http, n1.http, n2.http] {
        wait_for_routes(http, 10).await;
    }
    let before = route_ids(&j);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(before, route_ids(&j), "routes closed and dialled again");
    let n1_url = format!("nats://127.0.0.1:{}", n1.client);
    let n2_url = format!("nats://127.0.0.1:{}", n2.client);
    let _kept = each_account_crosses(&common::url(&j), &n1_url).await;
    let _kept = each_account_crosses(&n2_url, &common::url(&j)).await;
}
