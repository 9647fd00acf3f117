//! `/varz`: the server's identity, options and message counters.

use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::time::{rfc3339, uptime};
use crate::options::ListenerAuth;
use crate::server::{Server, NATS_COMPAT_VERSION};

/// Resident memory of this process, from /proc.
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .unwrap_or(0);
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}

pub fn varz_json(server: &Server) -> Value {
    let mut v = varz_body(server);
    // Present only when true, as in nats-server; they follow `port`.
    let flags = [
        ("auth_required", server.auth_required()),
        ("tls_required", server.opts().tls.is_some()),
        ("tls_verify", server.opts().tls.as_ref().is_some_and(|t| t.verify)),
    ];
    if flags.iter().any(|(_, on)| *on) {
        if let Value::Object(map) = &mut v {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (k, val) in entries {
                let after_port = k == "port";
                map.insert(k, val);
                if after_port {
                    for (name, on) in flags {
                        if on {
                            map.insert(name.into(), Value::Bool(true));
                        }
                    }
                }
            }
        }
    }
    v
}

fn varz_body(server: &Server) -> Value {
    let o = server.opts();
    let st = &server.stats;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let subscriptions: u64 = server.accounts.subscription_count();
    let http = server.http_addr();
    // Routes (a pool and dedicated ones to each peer) and the servers
    // they go to.
    let route_views = server.links().map(|l| l.routes(false)).unwrap_or_default();
    let routes = route_views.len();
    let remotes = route_views
        .iter()
        .map(|r| r.remote_id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    // The bound port goes under the scheme it is served with.
    let (http_port, https_port) = match (http, o.https_port.is_some()) {
        (Some(a), false) => (a.port(), 0),
        (Some(a), true) => (0, a.port()),
        (None, _) => (0, 0),
    };
    json!({
        "server_id": server.id,
        "server_name": server.name,
        "version": NATS_COMPAT_VERSION,
        "proto": 1,
        "go": format!("junction {}", env!("CARGO_PKG_VERSION")),
        "host": o.host,
        "port": server.client_port(),
        "max_connections": o.max_connections,
        "ping_interval": o.ping_interval.as_nanos() as u64,
        "ping_max": o.ping_max,
        "http_host": http.map(|a| a.ip().to_string()).unwrap_or_default(),
        "http_port": http_port,
        "http_base_path": o.http_base_path,
        "https_port": https_port,
        "auth_timeout": o.auth_timeout.as_secs_f64(),
        "max_control_line": o.max_control_line,
        "max_payload": o.max_payload,
        "max_pending": o.max_pending,
        "cluster": cluster(server),
        "gateway": gateway(server),
        "leaf": leaf(server),
        "mqtt": mqtt(server),
        "websocket": websocket(server),
        "jetstream": jetstream(server),
        "tls_timeout": o.tls.as_ref().map_or(2.0, |t| t.timeout.as_secs_f64()),
        "write_deadline": o.write_deadline.as_nanos() as u64,
        "start": rfc3339(server.started),
        "now": rfc3339(SystemTime::now()),
        "uptime": uptime(server.uptime()),
        "mem": resident_bytes(),
        "cores": cores,
        "gomaxprocs": cores,
        "cpu": 0,
        "connections": server.num_clients(),
        "total_connections": st.total_connections.load(Relaxed),
        "routes": routes,
        "remotes": remotes,
        "leafnodes": server.leaf_links().map_or(0, |l| l.leafs(false).len()),
        "in_msgs": st.in_msgs.load(Relaxed),
        "out_msgs": st.out_msgs.load(Relaxed),
        "in_bytes": st.in_bytes.load(Relaxed),
        "out_bytes": st.out_bytes.load(Relaxed),
        "slow_consumers": st.slow_consumers.load(Relaxed),
        "subscriptions": subscriptions,
        "http_req_stats": *st.http_requests.lock(),
        "config_load_time": rfc3339(*server.config_load_time.lock()),
        "system_account": server.accounts.system.name,
    })
}

/// The `gateway` section: empty without gateways, else the listener, the
/// timeouts and the other clusters with their URLs, as nats-server shows it.
fn gateway(server: &Server) -> Value {
    let (Some(links), Some(o)) = (server.gateway_links(), server.opts().gateway.clone()) else {
        return json!({});
    };
    let listen = links.listen_addr();
    let mut v = json!({
        "name": links.name(),
        "host": listen.ip().to_string(),
        "port": listen.port(),
        "auth_timeout": o.auth.timeout.map_or(2.0, |t| t.as_secs_f64()),
        "tls_timeout": 2.0,
    });
    if let Some(a) = &o.advertise {
        v["advertise"] = json!(a);
    }
    if o.connect_retries > 0 {
        v["connect_retries"] = json!(o.connect_retries);
    }
    let remotes: Vec<Value> = links
        .remotes()
        .into_iter()
        .map(|(name, urls, _)| json!({"name": name, "urls": urls}))
        .collect();
    if !remotes.is_empty() {
        v["gateways"] = json!(remotes);
    }
    if o.reject_unknown {
        v["reject_unknown"] = json!(true);
    }
    if let Some(d) = o.write_deadline {
        v["write_deadline"] = json!(d.as_nanos() as u64);
    }
    v
}

pub fn varz(server: &Server, _q: &super::Params) -> Result<Value, super::BadRequest> {
    Ok(varz_json(server))
}

/// The `cluster` section: empty alone, else the route listener, the
/// configured routes (`host:port`) and the timeouts, as nats-server shows them.
/// `leaf`: the leaf node port, when this server is a hub.
fn leaf(server: &Server) -> Value {
    let Some(addr) = server.leaf_links().and_then(|l| l.listen_addr()) else {
        return json!({});
    };
    let timeout = server.leaf_links().and_then(|l| l.auth_timeout());
    json!({
        "host": addr.ip().to_string(),
        "port": addr.port(),
        "auth_timeout": timeout.map_or(2.0, |t| t.as_secs_f64()),
        "tls_timeout": 2.0,
    })
}

fn cluster(server: &Server) -> Value {
    let (Some(links), Some(c)) = (server.links(), server.opts().cluster.clone()) else {
        return json!({});
    };
    let urls: Vec<String> = c
        .routes
        .iter()
        .filter_map(|u| crate::route::RouteUrl::parse(u).ok())
        .map(|u| u.address())
        .collect();
    let mut v = serde_json::Map::new();
    v.insert("name".into(), json!(links.cluster_name()));
    v.insert("addr".into(), json!(c.host));
    v.insert("cluster_port".into(), json!(links.listen_port()));
    v.insert(
        "auth_timeout".into(),
        json!(c.auth.timeout.map_or(2.0, |t| t.as_secs_f64())),
    );
    if !urls.is_empty() {
        v.insert("urls".into(), json!(urls));
    }
    v.insert(
        "tls_timeout".into(),
        json!(c.tls.as_ref().map_or(2.0, |t| t.timeout.as_secs_f64())),
    );
    if c.tls.is_some() {
        v.insert("tls_required".into(), json!(true));
        v.insert(
            "tls_verify".into(),
            json!(c.tls.as_ref().is_some_and(|t| t.verify)),
        );
    }
    if c.pool_size > 0 {
        v.insert("pool_size".into(), json!(c.pool_size));
    }
    Value::Object(v)
}

/// What the `mqtt` and `websocket` sections share: the address, and the
/// listener's own `no_auth_user` and `auth_timeout` when it has them.
fn listener(host: &str, port: u16, auth: &ListenerAuth) -> serde_json::Map<String, Value> {
    let mut v = serde_json::Map::new();
    v.insert("host".into(), json!(host));
    v.insert("port".into(), json!(port));
    if let Some(user) = &auth.no_auth_user {
        v.insert("no_auth_user".into(), json!(user));
    }
    if let Some(t) = auth.timeout {
        v.insert("auth_timeout".into(), json!(t.as_secs_f64()));
    }
    v
}

/// The `mqtt` section: nats-server's fields, each left out when empty or at
/// its default.
fn mqtt(server: &Server) -> serde_json::Value {
    let Some((addr, m)) = server.mqtt_listener() else {
        return json!({});
    };
    let mut v = listener(&m.host, addr.port(), &m.auth);
    let tls_timeout = m.tls.as_ref().map_or(2.0, |t| t.timeout.as_secs_f64());
    v.insert("tls_timeout".into(), json!(tls_timeout));
    if let Some(d) = &m.js_domain {
        v.insert("js_domain".into(), json!(d));
    }
    if m.ack_wait != std::time::Duration::from_secs(30) {
        v.insert("ack_wait".into(), json!(m.ack_wait.as_nanos() as u64));
    }
    if m.max_ack_pending != 1024 {
        v.insert("max_ack_pending".into(), json!(m.max_ack_pending));
    }
    Value::Object(v)
}

/// The `websocket` section: nats-server's fields, each left out when empty or off.
fn websocket(server: &Server) -> serde_json::Value {
    let Some((addr, ws)) = server.websocket_listener() else {
        return json!({});
    };
    let mut v = listener(&ws.host, addr.port(), &ws.auth);
    if let Some(a) = &ws.advertise {
        v.insert("advertise".into(), json!(a));
    }
    if let Some(cookie) = &ws.jwt_cookie {
        v.insert("jwt_cookie".into(), json!(cookie));
    }
    if !ws.handshake_timeout.is_zero() {
        v.insert(
            "handshake_timeout".into(),
            json!(ws.handshake_timeout.as_nanos() as u64),
        );
    }
    if ws.no_tls {
        v.insert("no_tls".into(), json!(true));
    }
    if ws.same_origin {
        v.insert("same_origin".into(), json!(true));
    }
    if !ws.allowed_origins.is_empty() {
        v.insert("allowed_origins".into(), json!(ws.allowed_origins));
    }
    if ws.compression {
        v.insert("compression".into(), json!(true));
    }
    serde_json::Value::Object(v)
}

/// `/varz`'s `jetstream` section: its configuration and totals.
pub(super) fn jetstream(server: &Server) -> serde_json::Value {
    let Some(js) = server.jetstream() else {
        return serde_json::json!({});
    };
    let t = super::jsz::js_totals(js);
    serde_json::json!({
        "config": super::jsz::js_config(js),
        "stats": super::jsz::js_stats(&t),
    })
}
