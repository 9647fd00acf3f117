//! What every system message carries about the server that sent it
//! (nats-server's `ServerInfo`), and the STATSZ figures.

use std::sync::atomic::Ordering::Relaxed;

use serde_json::{json, Map, Value};

use crate::monitor::time::{now, rfc3339};
use crate::server::{Server, NATS_COMPAT_VERSION};

/// nats-server's capability flag for a server with JetStream on.
const JETSTREAM_ENABLED: u64 = 1;

/// `{"name", "host", "id"}`: IDZ's answer.
pub fn server_id(server: &Server) -> Value {
    json!({"name": server.name, "host": server.opts().host, "id": server.id})
}

/// The `server` object of every system message, numbered `seq`.
pub fn server_info(server: &Server, seq: u64) -> Value {
    let opts = server.opts();
    let mut info = Map::new();
    info.insert("name".into(), json!(server.name));
    info.insert("host".into(), json!(opts.host));
    info.insert("id".into(), json!(server.id));
    if let Some(links) = server.links() {
        info.insert("cluster".into(), json!(links.cluster_name()));
    }
    let jetstream = server.jetstream().is_some();
    if let Some(domain) = opts.js_domain.as_ref().filter(|_| jetstream) {
        info.insert("domain".into(), json!(domain));
    }
    info.insert("ver".into(), json!(NATS_COMPAT_VERSION));
    info.insert("jetstream".into(), json!(jetstream));
    info.insert(
        "flags".into(),
        json!(if jetstream { JETSTREAM_ENABLED } else { 0 }),
    );
    info.insert("seq".into(), json!(seq));
    info.insert("time".into(), json!(now()));
    Value::Object(info)
}

/// The `statsz` object: uptime, memory, connections and message counts,
/// each route's traffic, JetStream's usage.
pub fn statsz(server: &Server) -> Value {
    let st = &server.stats;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let routes = server.links().map(|l| l.routes(false)).unwrap_or_default();
    let clients = server.clients();
    let mut active_accounts: Vec<String> = clients.iter().map(|c| c.account().name.clone()).collect();
    active_accounts.sort();
    active_accounts.dedup();
    let (in_msgs, in_bytes) = (st.in_msgs.load(Relaxed), st.in_bytes.load(Relaxed));
    let (out_msgs, out_bytes) = (st.out_msgs.load(Relaxed), st.out_bytes.load(Relaxed));
    // What came from and went to clients: the totals less the routes'.
    let sum = |f: fn(&crate::conn::RouteView) -> u64| routes.iter().map(f).sum::<u64>();
    let data = |msgs: u64, bytes: u64| json!({"msgs": msgs, "bytes": bytes});
    let mut v = Map::new();
    v.insert("start".into(), json!(rfc3339(server.started)));
    v.insert("mem".into(), json!(crate::monitor::resident_bytes()));
    v.insert("cores".into(), json!(cores));
    v.insert("cpu".into(), json!(0));
    v.insert("connections".into(), json!(clients.len()));
    v.insert(
        "total_connections".into(),
        json!(st.total_connections.load(Relaxed)),
    );
    v.insert("active_accounts".into(), json!(active_accounts.len()));
    v.insert(
        "subscriptions".into(),
        json!(server.accounts.subscription_count()),
    );
    v.insert("sent".into(), data(out_msgs, out_bytes));
    v.insert(
        "sent_to_clients".into(),
        data(
            out_msgs.saturating_sub(sum(|r| r.out_msgs)),
            out_bytes.saturating_sub(sum(|r| r.out_bytes)),
        ),
    );
    v.insert("received".into(), data(in_msgs, in_bytes));
    v.insert(
        "received_from_clients".into(),
        data(
            in_msgs.saturating_sub(sum(|r| r.in_msgs)),
            in_bytes.saturating_sub(sum(|r| r.in_bytes)),
        ),
    );
    v.insert("slow_consumers".into(), json!(st.slow_consumers.load(Relaxed)));
    if !routes.is_empty() {
        let list: Vec<Value> = routes
            .iter()
            .map(|r| {
                json!({
                    "rid": r.rid,
                    "name": r.remote_name,
                    "sent": data(r.out_msgs, r.out_bytes),
                    "received": data(r.in_msgs, r.in_bytes),
                    "pending": r.pending,
                })
            })
            .collect();
        v.insert("routes".into(), json!(list));
    }
    // One entry per other cluster: what went out on the outbound
    // connection, what came in on the inbound ones from that cluster.
    let gateways = server
        .gateway_links()
        .map(|g| g.connections())
        .unwrap_or_default();
    let stats: Vec<Value> = gateways
        .iter()
        .filter(|c| c.outbound)
        .map(|out| {
            let inbound: Vec<_> = gateways
                .iter()
                .filter(|c| !c.outbound && c.name == out.name)
                .collect();
            json!({
                "gwid": out.cid,
                "name": out.name,
                "sent": data(out.out_msgs, out.out_bytes),
                "received": data(
                    inbound.iter().map(|c| c.in_msgs).sum(),
                    inbound.iter().map(|c| c.in_bytes).sum(),
                ),
                "inbound_connections": inbound.len(),
            })
        })
        .collect();
    if !stats.is_empty() {
        v.insert("gateways".into(), json!(stats));
    }
    v.insert("active_servers".into(), json!(routes.len() + 1));
    if let Some(js) = crate::monitor::jetstream_varz(server) {
        v.insert("jetstream".into(), js);
    }
    v.insert("gomaxprocs".into(), json!(cores));
    Value::Object(v)
}

/// A unique id for an event, as nats-server's (22 characters of nuid).
pub fn event_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
